"""BTYD ("buy till you die") models from PyMC-Marketing's CLV module, fitted point in time.

BG/NBD describes a non-contractual customer by a purchase rate and a chance to drop out
after each purchase; from a customer's repeat purchases (frequency), the age of the last
one (recency) and the time since the first (T), all strictly before a cutoff, it gives the
probability that the customer is still alive, the purchases to expect in the next days,
and the probability of none. It is the classic model a CRM analyst tries first, so it is
the baseline the booster must beat (``bgnbd``).

BG/NBD holds a customer with a single purchase alive for ever (dropout happens only at a
repeat purchase). MBG/NBD (``mbgnbd``, modified BG/NBD) lets a customer drop out after the
first purchase too, so its P(alive) is the one that says who has most likely left already
(scoring's lapsed customers).

Customers without a purchase before the cutoff have no BTYD history: they are forecast as
new customers (frequency, recency and T of 0).

The Gamma-Gamma model (``expected_spend``) gives the amount to expect per purchase: each
customer's mean of their repeat purchases, shrunk towards the population mean the fewer
purchases there are. With the purchases a BTYD model expects, it makes the textbook CLV
(scoring's customer value).
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from contract.errors import ConfigError, UserError
from features.columns import KEYS
from features.events import EXACT, days_between

if TYPE_CHECKING:  # importing PyMC-Marketing takes 10-15 s: only runs with purchases pay it
    from pymc_marketing.clv import BetaGeoModel, ModifiedBetaGeoModel

log = logging.getLogger(__name__)

BGNBD = "bgnbd"
# The baseline's forecast of each (customer_id, cutoff) row (``baseline_forecast``).
FORECAST_COLUMNS = [*KEYS, "p_no_purchase", "expected_purchases", "purchases_in_horizon"]
# Model name -> PyMC-Marketing CLV class.
MODELS = {BGNBD: "BetaGeoModel", "mbgnbd": "ModifiedBetaGeoModel"}
SUMMARY_COLUMNS = ["frequency", "recency", "T"]
# Fewer repeat buyers than this leave Gamma-Gamma's three parameters to the noise.
MIN_REPEAT_BUYERS = 30


def purchase_summary(
    transactions: pd.DataFrame | ir.Table | list[ir.Table], cutoff: pd.Timestamp
) -> pd.DataFrame:
    """``purchase_summary_table`` indexed by customer_id, run by the engine of
    ``transactions`` (DuckDB for a frame in memory). A list holds the purchases of
    disjoint ranges of customers, in id order (``CustomerHistory.of_customers``): each is
    summarised on its own, so the engine holds one range's purchase days at a time."""
    if isinstance(transactions, pd.DataFrame):
        # Engines keep microseconds (finer digits are cut off; days are what is counted).
        transactions = ibis.memtable(transactions.astype({"timestamp": "datetime64[us]"}))
    parts = transactions if isinstance(transactions, list) else [transactions]
    summary = pd.concat(
        [purchase_summary_table(part, cutoff).to_pandas() for part in parts], ignore_index=True
    )
    if summary.empty:
        raise ConfigError(f"BTYD: no purchase before the cutoff {cutoff.date()} to fit on")
    return summary.set_index("customer_id")


def purchase_summary_table(purchases: ir.Table, cutoff: pd.Timestamp) -> ir.Table:
    """Frequency, recency and T in days per customer_id (in id order), from purchases
    before the cutoff, as a query the purchases' engine runs. With an ``amount`` column,
    also what the Gamma-Gamma model reads (``expected_spend``): monetary_value, the mean
    amount of a customer's repeat purchase days (0 without one), and mean_amount, the mean
    amount of all the customer's purchases.

    The definitions are PyMC-Marketing's ``rfm_summary`` in days (tests/logic/test_btyd.py
    holds the two equal), with T counted to the cutoff's own start, the instant features
    see up to: purchases are counted by day, frequency is the purchase days after the
    first, recency the days from the first purchase day to the last. ``rfm_summary`` holds
    the purchases in pandas (150 bytes each at once); the query runs where they are.
    """
    before = purchases.filter(purchases.timestamp < cutoff.to_pydatetime())
    with_amounts = "amount" in purchases.columns
    # A purchase opens a purchase day when the customer's purchase before it was on another
    # day: counting those needs one sort per customer, where grouping by (customer, day)
    # first built a hash table as large as the purchases (1M customers: 5.2 s and 1.0 GiB
    # against 8.6 s and 3.3 GiB).
    day = before.timestamp.truncate("D")
    previous_day = day.lag().over(group_by=before.customer_id, order_by=before.timestamp)
    rows = before.mutate(
        day=day,
        opens_day=~previous_day.identical_to(day),  # the first purchase too (NULL before)
        first_day_of_all=day.min().over(group_by=before.customer_id),
    )
    # rfm_summary's observation period ends on the day before the cutoff, that day included.
    period_end = (cutoff - pd.Timedelta(days=1)).floor("D").to_pydatetime()
    observed = rows.day <= period_end
    per_customer = {
        "first_day": rows.day.min(where=observed),
        "last_day": rows.day.max(where=observed),
        "purchase_days": rows.count(where=observed & rows.opens_day),
    }
    if with_amounts:
        # Amounts add up as decimals: exact, so the same in any order an engine's threads use.
        amount = rows.amount.cast(EXACT)
        on_first_day = observed & (rows.day == rows.first_day_of_all)
        per_customer |= {
            "observed_spent": amount.sum(where=observed),
            "first_day_spent": amount.sum(where=on_first_day),
            "spent": amount.sum(),
            "purchases": rows.count(),
        }
    summary = rows.group_by("customer_id").aggregate(**per_customer)
    summary = summary.filter(summary.purchase_days > 0)
    repeats = (summary.purchase_days - 1).cast("float64")
    columns = {
        "frequency": repeats,
        "recency": days_between(summary.first_day, summary.last_day),
        "T": days_between(summary.first_day, ibis.literal(period_end)) + 1,
    }
    if with_amounts:
        repeat_spent = (summary.observed_spent - summary.first_day_spent).cast("float64")
        columns["monetary_value"] = ibis.coalesce(repeat_spent / repeats.nullif(0), 0.0)
        columns["mean_amount"] = summary.spent.cast("float64") / summary.purchases.cast("float64")
    return summary.select("customer_id", **columns).order_by("customer_id")


def fit_sample(summary: pd.DataFrame, max_customers: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_customers`` rows of ``summary``, a seeded random sample (None: all).
    A BTYD or Gamma-Gamma model has three or four population parameters: a sample of
    customers estimates them as well as all of them, and every customer is forecast."""
    if max_customers is None or len(summary) <= max_customers:
        return summary
    return summary.sample(n=max_customers, random_state=seed)


def fit_btyd(summary: pd.DataFrame, name: str) -> BetaGeoModel | ModifiedBetaGeoModel:
    """The maximum a posteriori fit of model ``name`` (a key of MODELS) on ``summary``."""
    started = time.perf_counter()
    model = getattr(_clv(), MODELS[name])(data=summary[SUMMARY_COLUMNS].reset_index())
    model.fit(method="map", progressbar=False)
    log.info(
        "%s fitted on %d customers in %.1f s: %s",
        name,
        len(summary),
        time.perf_counter() - started,
        model.fit_summary().round(4).to_dict(),
    )
    return model


def forecast(
    model: BetaGeoModel | ModifiedBetaGeoModel,
    summary: pd.DataFrame,
    customer_ids: pd.Series,
    horizon_days: int,
) -> pd.DataFrame:
    """P(alive), expected purchases and (BG/NBD) P(no purchase) in the horizon, per
    customer_id (in the order given); customers missing from ``summary`` are forecast as
    new ones."""
    data = (
        summary[SUMMARY_COLUMNS]
        .reindex(pd.Index(customer_ids.unique(), name="customer_id"))
        .fillna(0.0)
        .reset_index()
    )
    values = {
        "p_alive": model.expected_probability_alive(data=data),
        "expected_purchases": model.expected_purchases(data=data, future_t=horizon_days),
    }
    if not isinstance(model, _clv().ModifiedBetaGeoModel):  # MBG/NBD does not implement it
        values["p_no_purchase"] = model.expected_probability_no_purchase(t=horizon_days, data=data)
    table = pd.DataFrame(
        {name: _point(value) for name, value in values.items()}, index=data["customer_id"]
    )
    return table.loc[customer_ids.to_numpy()].reset_index(drop=True)


def btyd_forecast(
    transactions: pd.DataFrame, rows: pd.DataFrame, horizon_days: int, name: str = BGNBD
) -> pd.DataFrame:
    """Model ``name``'s forecast of every (customer_id, cutoff) row, fitted at each cutoff
    on the purchases before it (in the rows' order)."""
    if name not in MODELS:
        raise ConfigError(f"BTYD model {name!r} is not one of {sorted(MODELS)}")
    parts = []
    for cutoff, at_cutoff in rows.groupby("cutoff", sort=True):
        summary = purchase_summary(transactions, cutoff)
        model = fit_btyd(summary, name)
        part = forecast(model, summary, at_cutoff["customer_id"], horizon_days)
        parts.append(part.set_index(at_cutoff.index))
    return pd.concat(parts).loc[rows.index]


def baseline_forecast(
    transactions: pd.DataFrame | None, rows: pd.DataFrame, horizon_days: int, observed: bool
) -> pd.DataFrame:
    """BG/NBD's forecast of every (customer_id, cutoff) row of ``rows``, in their order:
    P(no purchase in the horizon), the purchases to expect in it and, where ``observed``
    (the data go on past the cutoffs), the purchases the customer made in it. No rows
    without ``transactions``."""
    if transactions is None:
        return pd.DataFrame({name: [] for name in FORECAST_COLUMNS})
    activity = btyd_forecast(transactions, rows, horizon_days)
    made = purchases_in_horizon(transactions, rows, horizon_days) if observed else np.nan
    return pd.DataFrame(
        {
            **{key: rows[key].to_numpy() for key in KEYS},
            "p_no_purchase": activity["p_no_purchase"].to_numpy(),
            "expected_purchases": activity["expected_purchases"].to_numpy(),
            "purchases_in_horizon": made,
        }
    )


def forecast_of(forecast: pd.DataFrame, rows: pd.DataFrame, where: str) -> pd.DataFrame:
    """The rows of ``forecast`` (``baseline_forecast``, read from ``where``) for the
    (customer_id, cutoff) keys of ``rows``, in their order. A forecast made for other
    rows (other features or split settings) is refused with the keys it lacks."""
    keys = list(KEYS)
    found = rows[keys].merge(forecast, on=keys, how="left", validate="many_to_one", indicator=True)
    missing = found[found.pop("_merge") == "left_only"]
    if len(missing):
        raise UserError(
            f"{where}: the BG/NBD forecast has no row for {len(missing):,} of the "
            f"{len(rows):,} test rows, e.g. {missing[keys].head(3).to_dict('records')}; it "
            "was made for other features or split settings: run the btyd stage again "
            "(`dvc repro btyd`, or `python -m pipeline.btyd`)"
        )
    return found


def purchases_if_alive(forecast_table: pd.DataFrame) -> np.ndarray:
    """The purchases expected in the horizon of a customer who is still there now: the
    expected purchases (which weigh in the chance of being gone) over P(alive)."""
    alive = forecast_table["p_alive"].to_numpy()
    expected = forecast_table["expected_purchases"].to_numpy()
    # P(alive) underflows to 0 only after a silence of many purchase cycles: 0 expected.
    return np.divide(expected, alive, out=np.zeros(len(alive)), where=alive > 0)


def expected_spend(
    summary: pd.DataFrame, fit_customers: int | None = None, seed: int = 0
) -> tuple[pd.Series, float]:
    """The amount to expect of a customer's next purchase, per customer_id of ``summary``
    (``purchase_summary`` with amounts), and for a customer without a purchase: the
    Gamma-Gamma model's conditional and population means, fitted on the repeat buyers (at
    most ``fit_customers`` of them, fit_sample).

    A fitted q of at most 1 means the population mean spend is infinite (spend per customer
    heavier-tailed than the model allows): the model does not describe these amounts, so
    each customer's own mean amount is used instead, and the mean of those for a customer
    without a purchase."""
    own_mean = summary["mean_amount"]
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeat) < MIN_REPEAT_BUYERS:
        log.warning(
            "Gamma-Gamma: %d repeat buyers, fewer than %d to fit on; each customer's mean "
            "amount is the expected spend",
            len(repeat),
            MIN_REPEAT_BUYERS,
        )
        return own_mean, float(own_mean.mean())
    spend_columns = ["customer_id", "frequency", "monetary_value"]
    sample = fit_sample(repeat, fit_customers, seed).reset_index()[spend_columns]
    model = _clv().GammaGammaModel(data=sample)
    model.fit(method="map", progressbar=False)
    fitted = model.fit_summary()
    p, q, v = (float(fitted[name]) for name in ("p", "q", "v"))
    if q <= 1:
        log.warning(
            "Gamma-Gamma fitted q = %.3f <= 1: the amounts are too heavy-tailed for the "
            "model (its population mean is infinite); each customer's mean amount is the "
            "expected spend",
            q,
        )
        return own_mean, float(own_mean.mean())
    spend = _point(model.expected_customer_spend(data=summary.reset_index()[spend_columns]))
    log.info("Gamma-Gamma fitted on %d repeat buyers: p=%.3f q=%.3f v=%.3f", len(repeat), p, q, v)
    return pd.Series(spend, index=summary.index), p * v / (q - 1)


def purchases_in_horizon(
    transactions: pd.DataFrame, rows: pd.DataFrame, horizon_days: int
) -> np.ndarray:
    """Purchases each (customer_id, cutoff) row's customer made in [cutoff, cutoff + horizon)."""
    counts = np.zeros(len(rows))
    times, customers = transactions["timestamp"], transactions["customer_id"]
    for cutoff in rows["cutoff"].unique():
        at_cutoff = (rows["cutoff"] == cutoff).to_numpy()
        in_horizon = (times >= cutoff) & (times < cutoff + pd.Timedelta(days=horizon_days))
        per_customer = customers[in_horizon].value_counts()
        ids = rows.loc[at_cutoff, "customer_id"]
        counts[at_cutoff] = ids.map(per_customer).fillna(0).to_numpy(dtype=float)
    return counts


def activity_reliability(expected: np.ndarray, observed: np.ndarray, bins: int) -> pd.DataFrame:
    """Mean forecast against mean observed purchases per equal-count bin of the forecast
    (deciles with ``bins=10``), lowest first: a BTYD model's reliability check."""
    expected, observed = np.asarray(expected, dtype=float), np.asarray(observed, dtype=float)
    order = np.argsort(expected, kind="stable")
    groups = np.array_split(order, bins)
    return pd.DataFrame(
        {
            "bin": np.arange(1, len(groups) + 1),
            "expected_purchases": [float(expected[g].mean()) for g in groups],
            "observed_purchases": [float(observed[g].mean()) for g in groups],
            "rows": [len(g) for g in groups],
        }
    )


def _clv() -> ModuleType:
    """PyMC-Marketing's CLV module, imported on first use (module docstring)."""
    from pymc_marketing import clv

    return clv


def _point(value) -> np.ndarray:
    """The MAP fit's single draw as a flat array."""
    return np.asarray(value).reshape(-1).astype(float)
