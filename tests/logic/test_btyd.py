"""BTYD models (models/btyd.py): point-in-time summaries, forecasts and their reliability."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from contract.errors import ConfigError, UserError
from models import btyd
from models.btyd import (
    FORECAST_COLUMNS,
    activity_reliability,
    baseline_forecast,
    btyd_forecast,
    expected_spend,
    fit_btyd,
    fit_sample,
    forecast_of,
    purchase_summary,
    purchases_if_alive,
    purchases_in_horizon,
)

pytestmark = pytest.mark.logic

CUTOFF = pd.Timestamp("2025-01-01")


def _purchases(seed: int = 3, customers: int = 300) -> pd.DataFrame:
    """Poisson buyers over two years, each with a dropout day; customer 0 buys twice a day
    on 2024-06-01 (one purchase day) and then never again."""
    rng = np.random.default_rng(seed)
    start, rows = pd.Timestamp("2023-01-01"), []
    for customer in range(1, customers + 1):
        rate = rng.gamma(2.0, 1 / 40)  # purchases per day
        leaves = rng.exponential(600)
        times = np.cumsum(rng.exponential(1 / rate, size=200))
        for day in times[times < min(leaves, 730)]:
            rows.append((customer, start + pd.Timedelta(days=float(day))))
    rows += [(0, pd.Timestamp("2024-06-01 09:00")), (0, pd.Timestamp("2024-06-01 17:00"))]
    return pd.DataFrame(rows, columns=["customer_id", "timestamp"])


def test_summary_counts_repeat_purchase_days_before_the_cutoff():
    purchases = pd.DataFrame(
        {
            "customer_id": ["b", "a", "a", "a", "a"],  # not in time order, string ids
            "timestamp": pd.to_datetime(
                [
                    "2024-12-31 00:00",
                    "2025-01-01 00:00",
                    "2024-12-21 00:00",
                    "2024-12-01 18:00",
                    "2024-12-01 08:00",
                ]
            ),
        }
    )
    summary = purchase_summary(purchases, CUTOFF)
    # a: purchase days 12-01 and 12-21 (the one at the cutoff is after it); first 31 days
    # before the cutoff. b: one purchase, the day before.
    assert summary.loc["a"].to_dict() == {"frequency": 1.0, "recency": 20.0, "T": 31.0}
    assert summary.loc["b"].to_dict() == {"frequency": 0.0, "recency": 0.0, "T": 1.0}
    # Amounts: the repeat day's total, and the mean of every purchase before the cutoff.
    with_amounts = purchase_summary(purchases.assign(amount=[7.0, 1e6, 30.0, 5.0, 1.0]), CUTOFF)
    assert with_amounts.loc["a"].to_dict() == {
        "frequency": 1.0,
        "recency": 20.0,
        "T": 31.0,
        "monetary_value": 30.0,
        "mean_amount": 12.0,
    }
    assert with_amounts.loc["b", ["monetary_value", "mean_amount"]].tolist() == [0.0, 7.0]
    with pytest.raises(ConfigError, match="no purchase before the cutoff 2024-01-01"):
        purchase_summary(purchases, pd.Timestamp("2024-01-01"))


@pytest.mark.parametrize("cutoff", [CUTOFF, CUTOFF + pd.Timedelta(hours=13)])
def test_summary_is_pymc_marketing_s_rfm_summary(cutoff):
    """The engine's query gives PyMC-Marketing's rfm_summary in days (T counted to the
    cutoff's start), for purchases in any order, several a day, at a cutoff at midnight
    or within a day."""
    from pymc_marketing.clv.utils import rfm_summary

    purchases = _purchases(customers=40)
    purchases["amount"] = np.arange(len(purchases), dtype=float) % 17 + 1
    purchases["customer_id"] = "c" + purchases["customer_id"].astype(str)
    shuffled = purchases.sample(frac=1.0, random_state=2)
    summary = purchase_summary(shuffled, cutoff)
    before = shuffled[shuffled["timestamp"] < cutoff]
    expected = rfm_summary(
        before,
        "customer_id",
        "timestamp",
        monetary_value_col="amount",
        observation_period_end=cutoff - pd.Timedelta(days=1),
        time_unit="D",
    ).set_index("customer_id")
    expected["T"] += 1
    expected["mean_amount"] = before.groupby("customer_id")["amount"].mean()
    assert summary.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(summary, expected.sort_index(), check_exact=False)


def test_summary_of_customer_ranges_is_the_summary_of_the_whole():
    purchases = _purchases(customers=60)
    purchases["amount"] = np.arange(len(purchases), dtype=float) % 11 + 0.5
    table = ibis.memtable(purchases.astype({"timestamp": "datetime64[us]"}))
    ids = table.customer_id
    ranges = [
        table.filter(ids < 20),
        table.filter((ids >= 20) & (ids < 45)),
        table.filter(ids >= 45),
    ]
    whole = purchase_summary(purchases, CUTOFF)
    pd.testing.assert_frame_equal(purchase_summary(ranges, CUTOFF), whole)
    assert len(whole) > 50
    with pytest.raises(ConfigError, match="no purchase before the cutoff"):
        purchase_summary([table.filter(ids < 0)] * 2, CUTOFF)


@pytest.fixture(scope="module")
def forecast() -> pd.DataFrame:
    purchases = _purchases()
    rows = pd.DataFrame({"customer_id": [5, 0, 999, 5], "cutoff": CUTOFF})
    return btyd_forecast(purchases, rows, horizon_days=90)


def test_forecast_follows_the_rows_and_is_a_probability(forecast):
    assert len(forecast) == 4
    assert forecast.iloc[0].equals(forecast.iloc[3])  # the same customer twice
    for column in ("p_alive", "p_no_purchase"):
        assert forecast[column].between(0, 1).all()
    assert (forecast["expected_purchases"] > 0).all()


def test_one_time_buyer_is_alive_for_bgnbd_and_a_newcomer_too(forecast):
    # BG/NBD drops customers out only at a repeat purchase (hence MBG/NBD for lapsed).
    assert forecast.loc[1, "p_alive"] == pytest.approx(1.0)
    assert forecast.loc[2, "p_alive"] == pytest.approx(1.0)  # no purchase yet: a newcomer


def test_silence_beyond_the_rhythm_lowers_p_alive():
    purchases = _purchases()
    regular = purchases[purchases["customer_id"] != 0]
    # Customer 0 now buys every 10 days for a year, then falls silent for half a year.
    days = pd.date_range("2023-06-01", "2024-06-01", freq="10D")
    silent = pd.DataFrame({"customer_id": 0, "timestamp": days})
    recent = pd.DataFrame({"customer_id": -1, "timestamp": days + pd.Timedelta(days=210)})
    rows = pd.DataFrame({"customer_id": [0, -1], "cutoff": CUTOFF})
    for model in ("bgnbd", "mbgnbd"):
        table = btyd_forecast(pd.concat([regular, silent, recent]), rows, 90, model)
        assert table.loc[0, "p_alive"] < 0.05 < 0.9 < table.loc[1, "p_alive"]
    with pytest.raises(ConfigError, match="'pareto' is not one of"):
        btyd_forecast(regular, rows, 90, "pareto")


def test_purchases_in_horizon_count_from_each_rows_cutoff():
    purchases = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "timestamp": pd.to_datetime(["2024-12-31", "2025-01-01", "2025-01-30", "2025-02-15"]),
        }
    )
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "cutoff": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-31"]),
        }
    )
    # [cutoff, cutoff + 30 days): 1 buys on 01-01 and 01-30; the 02-15 purchase is too late.
    assert purchases_in_horizon(purchases, rows, 30).tolist() == [2.0, 0.0, 0.0]


def test_the_baseline_forecast_keys_each_row_and_counts_what_followed():
    purchases, cutoff = _purchases(), pd.Timestamp("2024-07-01")  # the log ends in 2025
    times = purchases["timestamp"]
    after = (times >= cutoff) & (times < cutoff + pd.Timedelta(days=90))
    buyer = purchases.loc[after, "customer_id"].iloc[0]  # one who bought in the horizon
    rows = pd.DataFrame({"customer_id": [buyer, 0, 999], "cutoff": cutoff})
    table = baseline_forecast(purchases, rows, 90, observed=True)
    assert list(table.columns) == FORECAST_COLUMNS
    assert table[["customer_id", "cutoff"]].equals(rows)
    expected = btyd_forecast(purchases, rows, 90)
    assert np.allclose(table["p_no_purchase"], expected["p_no_purchase"])
    assert np.allclose(table["expected_purchases"], expected["expected_purchases"])
    bought = (purchases.loc[after, "customer_id"] == buyer).sum()
    # Customer 0 left in June 2024, 999 never bought.
    assert table["purchases_in_horizon"].tolist() == [bought, 0, 0]
    # Snapshot data end at the cutoff: nothing followed to count.
    unobserved = baseline_forecast(purchases, rows, 90, observed=False)
    assert unobserved["purchases_in_horizon"].isna().all()
    # No purchases table: no forecast, and the columns the train stage reads.
    empty = baseline_forecast(None, rows, 90, observed=True)
    assert empty.empty and list(empty.columns) == FORECAST_COLUMNS


def test_the_forecast_of_rows_follows_their_order_and_refuses_rows_it_lacks():
    forecast = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "cutoff": CUTOFF,
            "p_no_purchase": [0.1, 0.2, 0.3],
            "expected_purchases": [2.0, 1.0, 0.5],
            "purchases_in_horizon": [1.0, 0.0, 0.0],
        }
    )
    rows = pd.DataFrame({"customer_id": [3, 1], "cutoff": CUTOFF, "other": ["x", "y"]})
    assert forecast_of(forecast, rows, "forecast.parquet")["p_no_purchase"].tolist() == [0.3, 0.1]
    later = pd.DataFrame({"customer_id": [1, 4], "cutoff": [CUTOFF, CUTOFF]})
    later.loc[0, "cutoff"] = CUTOFF + pd.Timedelta(days=31)
    with pytest.raises(UserError) as refused:
        forecast_of(forecast, later, "data/btyd/forecast.parquet")
    message = str(refused.value)
    assert message.startswith("data/btyd/forecast.parquet: ")
    assert "no row for 2 of the 2 test rows" in message and "'customer_id': 4" in message
    assert "dvc repro btyd" in message


def test_reliability_bins_the_forecast_lowest_first():
    expected = np.array([4.0, 1.0, 3.0, 2.0])
    observed = np.array([5.0, 0.0, 3.0, 1.0])
    table = activity_reliability(expected, observed, bins=2)
    assert table.to_dict("list") == {
        "bin": [1, 2],
        "expected_purchases": [1.5, 3.5],
        "observed_purchases": [0.5, 4.0],
        "rows": [2, 2],
    }


def _spending(spend_scales: np.ndarray, purchases: np.ndarray, seed: int = 5) -> pd.DataFrame:
    """Weekly purchases of customer i (purchases[i] of them, before CUTOFF), each amount
    Gamma(shape 6) with mean spend_scales[i] (the Gamma-Gamma model's assumption)."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer, (scale, n) in enumerate(zip(spend_scales, purchases, strict=True)):
        for week in range(n):
            day = CUTOFF - pd.Timedelta(weeks=week + 1)
            rows.append((customer, day, rng.gamma(6.0, scale / 6.0)))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])


def test_gamma_gamma_shrinks_few_purchases_towards_the_population_mean():
    rng = np.random.default_rng(11)
    scales = 1 / rng.gamma(4.0, 1 / 150.0, size=400)  # per-customer mean spend ~ 50
    purchases = rng.integers(2, 12, size=400)
    scales[:2], purchases[:2] = 400.0, [11, 2]  # two big spenders: many purchases, few
    tx = _spending(scales, purchases)
    # A purchase at the cutoff is not history.
    at_cutoff = pd.DataFrame({"customer_id": [0], "timestamp": [CUTOFF], "amount": [1e6]})
    spend, newcomer = expected_spend(purchase_summary(pd.concat([tx, at_cutoff]), CUTOFF))
    own = tx.groupby("customer_id")["amount"].mean()
    population = own.mean()
    assert 0.8 * population < newcomer < 1.25 * population
    # Shrinkage: towards the population mean, the more so the fewer repeat purchases.
    pull = (own - spend).abs() / (own - population).abs()
    assert pull.loc[0] < pull.loc[1] < 1
    assert population < spend.loc[1] < spend.loc[0] < 400 * 1.2
    assert len(spend) == 400


def test_heavy_tailed_amounts_fall_back_to_each_customers_mean(caplog):
    rng = np.random.default_rng(12)
    scales = np.exp(rng.normal(3.5, 2.0, size=400))  # lognormal spend, a heavy tail
    tx = _spending(scales, rng.integers(2, 12, size=400))
    with caplog.at_level("WARNING", logger="models.btyd"):
        spend, newcomer = expected_spend(purchase_summary(tx, CUTOFF))
    assert "too heavy-tailed" in caplog.text
    own = tx.groupby("customer_id")["amount"].mean()
    assert spend.to_dict() == pytest.approx(own.to_dict())
    assert newcomer == pytest.approx(own.mean())


def test_purchases_if_alive_removes_the_chance_of_being_gone():
    table = pd.DataFrame({"p_alive": [1.0, 0.25, 0.0], "expected_purchases": [3.0, 0.5, 0.0]})
    assert purchases_if_alive(table).tolist() == [3.0, 2.0, 0.0]


def test_a_sample_of_customers_fits_the_population_parameters():
    summary = purchase_summary(_purchases(customers=600), CUTOFF)
    sample = fit_sample(summary, 300, seed=1)
    assert len(sample) == 300 and sample.index.is_unique
    assert sample.index.equals(fit_sample(summary, 300, seed=1).index)  # seeded
    assert fit_sample(summary, None, seed=1) is summary
    assert fit_sample(summary, len(summary), seed=1) is summary
    ids = pd.Series(summary.index)
    on_all = btyd.forecast(fit_btyd(summary, "mbgnbd"), summary, ids, 90)
    on_half = btyd.forecast(fit_btyd(sample, "mbgnbd"), summary, ids, 90)
    assert len(on_half) == len(summary)  # everyone forecast
    assert (on_all - on_half).abs().mean().max() < 0.1
