"""Hand-computed feature values and labels on the customers of tests/featuredata.py."""

from __future__ import annotations

from collections.abc import Iterator

import ibis
import numpy as np
import pandas as pd
import pytest
from ibis.backends import BaseBackend

from contract.errors import ConfigError
from features.feature_table import FAMILIES, observed_until, plan_features, snapshot
from features.history import customer_ranges
from models.btyd import purchase_summary
from pipeline.config import Config
from pipeline.connections import spark_session
from pipeline.engine import frames_history
from simulator.causes import CAUSES
from tests.engines import TemporaryPostgres
from tests.featuredata import CUTOFF, hand_tables
from tests.support import compose_config


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    # A 90-day horizon and a 60-day confirmation: labels at the 01-01 cutoff need data to
    # 05-31.
    return compose_config(
        tmp_path_factory.mktemp("features"),
        "features.observed_until=2025-06-01",
        "features.label.confirmation_days=60",
    )


def features_at(
    tables: dict[str, pd.DataFrame],
    cfg: Config,
    cutoff: pd.Timestamp = CUTOFF,
    con: BaseBackend | None = None,
) -> pd.DataFrame:
    inputs = frames_history(tables, cfg.features, cfg.data, con)
    plan = plan_features(inputs, list(cfg.causes))
    return snapshot(inputs, plan, cutoff, observed_until(inputs)).set_index("customer_id")


@pytest.fixture(scope="module")
def postgres() -> Iterator[BaseBackend]:
    server = TemporaryPostgres().start()
    con = server.connect()
    yield con
    con.disconnect()
    server.stop()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBackend]:
    engine = compose_config(tmp_path_factory.mktemp("spark"), "engine=spark").engine
    session = spark_session(engine)
    yield ibis.pyspark.connect(session)
    session.stop()


# Every hand-computed value is checked on each engine: the same Ibis expressions compiled
# for DuckDB (the default), PostgreSQL (a real server) and Spark (local mode).
ENGINES = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("spark", marks=pytest.mark.spark),
]


@pytest.fixture(scope="module", params=ENGINES)
def rows(request: pytest.FixtureRequest, cfg: Config) -> pd.DataFrame:
    con = None if request.param == "duckdb" else request.getfixturevalue(request.param)
    return features_at(hand_tables(), cfg, con=con)


@pytest.mark.parametrize("engine", ENGINES[1:])
def test_every_engine_gives_the_same_table(request, cfg, engine):
    """Beyond the hand-checked values: every column, type and row, at two cutoffs."""
    cutoffs = [CUTOFF, CUTOFF + pd.Timedelta(days=45)]
    tables = hand_tables()
    reference = frames_history(tables, cfg.features, cfg.data)
    other = frames_history(tables, cfg.features, cfg.data, request.getfixturevalue(engine))
    plan = plan_features(reference, list(cfg.causes))
    end = observed_until(reference)
    expected = snapshot(reference, plan, cutoffs, end)
    assert expected["cutoff"].nunique() == 2
    pd.testing.assert_frame_equal(snapshot(other, plan, cutoffs, end), expected)


@pytest.mark.parametrize("engine", ENGINES[1:])
def test_every_engine_summarises_purchases_alike(request, cfg, engine):
    """The BTYD purchase summary of a scoring run (models/btyd.py) is a query too."""
    tables = hand_tables()
    reference = frames_history(tables, cfg.features, cfg.data).events["transactions"]
    other = frames_history(tables, cfg.features, cfg.data, request.getfixturevalue(engine))
    expected = purchase_summary(reference, CUTOFF)
    assert (expected["frequency"] > 0).any() and (expected["monetary_value"] > 0).any()
    pd.testing.assert_frame_equal(purchase_summary(other.events["transactions"], CUTOFF), expected)


def expect(rows: pd.DataFrame, customer: int, **values: float) -> None:
    actual = rows.loc[customer, list(values)].astype(float).to_dict()
    assert actual == pytest.approx(values, nan_ok=True, rel=1e-6), f"customer {customer}"


def test_rows_only_for_customers_active_at_the_cutoff(rows):
    # 4 cancelled before, 5 silent for 122 days (> 90-day window), 7 signs up on the day.
    assert sorted(rows.index) == [1, 2, 3, 6]
    assert (rows["cutoff"] == CUTOFF).all()


def test_rfm(rows):
    gaps = np.array([63.0, 60.0, 20.0])  # 08-01 -> 10-03 -> 12-02 -> 12-22
    expect(
        rows, 1,
        recency_days=10, purchases_30d=2, purchases_90d=3, purchases_365d=4,
        spend_30d=100, spend_90d=130, spend_365d=150, avg_basket_365d=37.5,
        trend_purchases_30d=1.0, trend_spend_30d=1.0,
        trend_purchases_90d=(3 - 1) / (3 + 1), trend_spend_90d=(130 - 20) / (130 + 20),
        interpurchase_days_mean_365d=gaps.mean(),
        interpurchase_days_cv_365d=gaps.std() / gaps.mean(),
        overdue_ratio=10 / gaps.mean(),
    )  # fmt: skip


def with_older_purchases(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Customer 3 (annual contract) bought only long before the cutoff; customer 1 once
    more before the long window."""
    tx = tables["transactions"]
    older = tx.iloc[[0, 0]].assign(
        customer_id=[3, 1], timestamp=pd.to_datetime(["2023-06-01", "2023-12-01"])
    )
    return tables | {"transactions": pd.concat([tx, older], ignore_index=True)}


@pytest.mark.parametrize("engine", ENGINES)
def test_recency_and_gaps_before_the_longest_window(request, cfg, engine):
    """Only the last purchase older than every window is read: it gives recency and is
    in no window, and a gap that starts before the long window is not one of its gaps."""
    con = None if engine == "duckdb" else request.getfixturevalue(engine)
    rows = features_at(with_older_purchases(hand_tables()), cfg, con=con)
    expect(
        rows, 3,
        recency_days=580, purchases_365d=0, spend_365d=0, trend_purchases_90d=np.nan,
        interpurchase_days_mean_365d=np.nan, overdue_ratio=np.nan, categories_365d=0,
    )  # fmt: skip
    gaps = np.array([63.0, 60.0, 20.0])  # 2023-12-01 -> 2024-08-01 starts before the window
    expect(rows, 1, recency_days=10, purchases_365d=4, interpurchase_days_mean_365d=gaps.mean())


def test_a_batch_of_cutoffs_gives_each_cutoff_s_rows(cfg):
    """One query over several cutoffs (the look-back starts before the first) gives the
    rows each cutoff gets alone. Customer 3's purchase of 2023-06-01 lies within the
    look-back of the first cutoff and before those of the next two: there it counts only
    in recency, as the last purchase before the cutoff (the next is after it)."""
    tables = with_older_purchases(hand_tables())
    later = (
        tables["transactions"]
        .iloc[[0]]
        .assign(customer_id=3, timestamp=CUTOFF + pd.Timedelta(days=20))
    )
    tables["transactions"] = pd.concat([tables["transactions"], later], ignore_index=True)
    inputs = frames_history(tables, cfg.features, cfg.data)
    plan = plan_features(inputs, list(cfg.causes))
    end = observed_until(inputs)
    cutoffs = [CUTOFF - pd.Timedelta(days=days) for days in (500, 200, 0, -45)]
    alone = [snapshot(inputs, plan, cutoff, end) for cutoff in cutoffs]
    expected = pd.concat(alone, ignore_index=True)
    assert all(len(part) >= 2 for part in alone)  # not vacuous
    assert all(3 in set(part.customer_id) for part in alone[:3])
    pd.testing.assert_frame_equal(snapshot(inputs, plan, cutoffs, end), expected)


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0]])
def test_sums_do_not_depend_on_the_order_of_the_rows(cfg, order):
    """Spend of 0.1 + 0.2 + 0.3 in the last 90 days against 0.6 before: a flat trend, in
    any row order (as floats, 0.1 + 0.2 + 0.3 is 0.6000000000000001 and the trend 1e-16)."""
    tables = hand_tables()
    tx = tables["transactions"]
    amounts = [0.1, 0.2, 0.3, 0.6]
    days = [10, 20, 30, 120]  # before the cutoff
    spends = pd.DataFrame(
        {
            "customer_id": 6,
            "timestamp": [CUTOFF - pd.Timedelta(days=d) for d in days],
            "amount": amounts,
            "discount": 0.0,
            "category": "fashion",
            "is_return": False,
        }
    ).iloc[order]
    others = tx[tx.customer_id != 6]
    rows = features_at(tables | {"transactions": pd.concat([others, spends])}, cfg)
    assert rows.loc[6, "spend_90d"] == np.float32(0.6)
    assert rows.loc[6, "trend_spend_90d"] == 0.0


def test_customer_ranges_split_the_ids_in_order_without_overlap(cfg):
    """Ranges of ids cover every customer once, in order; each range's history holds its
    customers' rows alone, so the ranges' feature rows are the whole table's."""
    inputs = frames_history(with_older_purchases(hand_tables()), cfg.features, cfg.data)
    ids = sorted(inputs.customers.customer_id.to_pyarrow().to_pylist())
    step = -(-len(ids) // 3)
    ranges = customer_ranges(inputs, step)
    assert ranges == [(None, ids[step]), (ids[step], ids[2 * step]), (ids[2 * step], None)]
    assert customer_ranges(inputs, len(ids)) == [(None, None)]
    plan = plan_features(inputs, list(cfg.causes))
    end = observed_until(inputs)
    parts = [snapshot(inputs.of_customers(*bounds), plan, CUTOFF, end) for bounds in ranges]
    assert sum(len(part) > 0 for part in parts) >= 2  # not vacuous
    in_ranges = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(in_ranges, snapshot(inputs, plan, CUTOFF, end))
    purchases = inputs.of_customers(ids[step], None).events["transactions"].to_pandas()
    assert set(purchases.customer_id) <= set(ids[step:])


def test_rfm_of_a_customer_without_purchases(rows):
    expect(
        rows, 2,
        recency_days=np.nan, purchases_30d=0, purchases_365d=0, spend_365d=0,
        avg_basket_365d=np.nan, trend_purchases_30d=np.nan, trend_spend_90d=np.nan,
        interpurchase_days_mean_365d=np.nan, overdue_ratio=np.nan, tenure_days=1,
    )  # fmt: skip
    # One purchase 31 days ago: none in the last 30 days, so the 30-day trend is -1.
    expect(rows, 6, purchases_30d=0, purchases_90d=1, trend_purchases_30d=-1.0)


def test_returns_price_and_switching_costs(rows):
    expect(
        rows, 1,
        returns_30d=1, returns_365d=1, return_rate_365d=0.25,
        discount_share_365d=10 / 200, promo_purchase_share_365d=0.25,
        tenure_days=731, days_to_contract_end=np.nan, loyalty_tier_rank=2, autopay=0,
        account_manager=1, categories_365d=2,
    )  # fmt: skip
    assert rows.loc[1, "contract_type"] == "none"
    # Annual contract renewing on 15 March; month-to-month from the 31st renews on the 28th.
    expect(rows, 3, days_to_contract_end=73, loyalty_tier_rank=1, autopay=1)
    expect(rows, 6, days_to_contract_end=27)


def test_complaints_open_at_the_cutoff_are_unresolved(rows):
    expect(
        rows, 3,
        complaints_30d=1, complaints_90d=2, complaints_365d=3,
        complaints_delivery_365d=2, complaints_product_365d=1, complaints_billing_365d=0,
        complaints_repeat_365d=1, complaint_severity_max_365d=3,
        complaints_unresolved=1, complaint_oldest_open_days=12, days_since_last_complaint=12,
        # Only the two resolved before the cutoff: 3.5 and 10 days, rated 2 and 4.
        complaint_resolution_days_mean=6.75, complaint_resolution_days_max=10,
        complaint_resolution_satisfaction_mean=3, complaint_resolution_satisfaction_min=2,
    )  # fmt: skip
    expect(rows, 1, complaints_365d=0, complaints_unresolved=0, days_since_last_complaint=np.nan)


def test_payments_as_known_at_the_cutoff(rows):
    expect(
        rows, 3,
        payments_late_30d=0, payments_late_90d=1, payments_late_365d=1,
        # Due 09-15 and never paid: failed on 10-15, inside the 90-day window.
        payments_failed_30d=0, payments_failed_90d=1,
        # 09-15 (failed) and 12-15 (paid only after the cutoff).
        payments_outstanding=2, payment_days_overdue_max=108,
    )  # fmt: skip
    assert rows.loc[3, "payment_last_status"] == "unpaid"
    assert rows.loc[1, "payment_last_status"] == "none"


@pytest.mark.parametrize("engine", ENGINES)
def test_payments_settled_long_ago_count_only_as_the_last_due(request, cfg, engine):
    """A query leaves out the payments due and paid before the longest window of its
    first cutoff, but for each customer's latest due (features/payments.py: relevant):
    the features are still those of the whole history, at one cutoff and in a batch."""
    tables = hand_tables()
    others = tables["payments"][tables["payments"]["customer_id"] != 3]
    history = pd.DataFrame(
        [
            (3, "2021-01-15", None, "failed"),  # never paid: outstanding for 1,447 days
            (3, "2022-01-15", "2024-11-20", "late"),  # paid 42 days before the cutoff
            (3, "2022-03-15", "2022-03-20", "late"),
            (3, "2023-02-15", "2023-03-01", "late"),  # late within a year of 2023-11-28
            (3, "2023-06-15", "2023-06-15", "paid"),  # the last due before both cutoffs
        ],
        columns=["customer_id", "due_date", "paid_date", "status"],
    ).assign(
        due_date=lambda frame: pd.to_datetime(frame["due_date"]).astype("datetime64[ns]"),
        paid_date=lambda frame: pd.to_datetime(frame["paid_date"]).astype("datetime64[ns]"),
        amount=30.0,
    )
    tables["payments"] = pd.concat([others, history[others.columns]], ignore_index=True)
    con = None if engine == "duckdb" else request.getfixturevalue(engine)
    rows = features_at(tables, cfg, con=con)
    expect(
        rows, 3,
        payments_late_30d=0, payments_late_90d=1, payments_late_365d=1,
        payments_failed_30d=0, payments_failed_90d=0, payments_failed_365d=0,
        payments_outstanding=1, payment_days_overdue_max=1447,
    )  # fmt: skip
    assert rows.loc[3, "payment_last_status"] == "paid"
    # A batch whose first cutoff is 400 days earlier leaves out fewer payments.
    inputs = frames_history(tables, cfg.features, cfg.data, con)
    plan = plan_features(inputs, list(cfg.causes))
    cutoffs = [CUTOFF - pd.Timedelta(days=400), CUTOFF]
    batch = snapshot(inputs, plan, cutoffs, observed_until(inputs))
    at_cutoff = batch[batch["cutoff"] == CUTOFF].set_index("customer_id")
    pd.testing.assert_frame_equal(at_cutoff, rows)
    earlier = batch[batch["cutoff"] == cutoffs[0]].set_index("customer_id")
    columns = ["payments_late_365d", "payments_outstanding", "payment_last_status"]
    assert earlier.loc[3, columns].tolist() == [1, 2, "paid"]


def test_service_satisfaction_competition_and_credit(rows):
    expect(
        rows, 3,
        incidents_late_delivery_30d=1, incidents_defect_90d=0, incidents_defect_365d=1,
        incidents_outage_365d=0, incident_severity_365d=5, days_since_last_incident=7,
        survey_score_last=5, survey_score_change=-3, survey_score_mean_365d=6.5,
        surveys_365d=2, days_since_last_survey=31,
        competitor_offers_running=0, competitor_offer_discount=0,
        competitor_offer_days_30d=0, competitor_offer_days_90d=29, competitor_offer_days_365d=31,
        credit_score=500,
    )  # fmt: skip
    expect(
        rows, 1,
        survey_score_last=np.nan, surveys_365d=0, days_since_last_survey=np.nan,
        competitor_offers_running=1, competitor_offer_discount=0.2,
        competitor_offer_days_30d=12, competitor_offer_days_365d=12,
    )  # fmt: skip
    expect(rows, 2, credit_score=np.nan, competitor_offer_days_365d=0)


def test_lifecycle_stage(rows):
    assert rows["lifecycle_stage"].to_dict() == {
        1: "maturity",
        2: "cultivation",
        3: "maturity",
        6: "growth",
    }


def test_labels_for_both_definitions(rows):
    assert rows["churn_definition"].to_dict() == {
        1: "non_contractual",
        2: "non_contractual",
        3: "contractual",
        6: "contractual",
    }
    # 1 buys at the cutoff and after the horizon; 2 never buys; 3 cancels on 02-10; 6 stays.
    assert rows["churned"].to_dict() == {1: 0, 2: 1, 3: 1, 6: 0}


@pytest.mark.parametrize(
    ("churn_date", "churned"),
    # The cutoff (01-01) is the instant that starts its day: a cancellation that day is in
    # the window, as is a purchase; cutoff + 90 days = 04-01 is the first day after it.
    [("2025-01-01", 1), ("2025-01-02", 1), ("2025-03-31", 1), ("2025-04-01", 0)],
)
def test_contractual_label_window_is_cutoff_to_horizon(cfg, churn_date, churned):
    tables = hand_tables()
    customers = tables["customers"]
    customers.loc[customers["customer_id"] == 3, "churn_date"] = pd.Timestamp(churn_date)
    assert features_at(tables, cfg).loc[3, "churned"] == churned


@pytest.mark.parametrize(
    ("purchases_after_cutoff", "churned"),
    # Churned: no purchase in the 60 days after the 90-day horizon, [04-01, 05-31).
    [
        (["2025-01-01"], 1),  # bought once more in the horizon, then left
        (["2025-01-01", "2025-04-01"], 0),  # the confirmation window's first day
        (["2025-05-30"], 0),  # its last day: a quiet horizon is not churn
        (["2025-01-01", "2025-05-31"], 1),  # the first day after it
        ([], 1),
    ],
)
def test_non_contractual_label_is_silence_after_the_horizon(cfg, purchases_after_cutoff, churned):
    tables = hand_tables()
    tx = tables["transactions"]
    later = tx[(tx["customer_id"] == 1) & (tx["timestamp"] >= CUTOFF)]
    moved = later.iloc[[0] * len(purchases_after_cutoff)].assign(
        timestamp=pd.to_datetime(purchases_after_cutoff)
    )
    tables["transactions"] = pd.concat([tx.drop(later.index), moved], ignore_index=True)
    assert features_at(tables, cfg).loc[1, "churned"] == churned


@pytest.mark.parametrize(
    ("observed_until", "censored"), [("2025-05-30", True), ("2025-05-31", False)]
)
def test_labels_are_censored_when_the_window_passes_the_end_of_the_data(
    tmp_path, observed_until, censored
):
    # Every label, contractual too, waits for horizon + confirmation (150 days: 05-31).
    overrides = [f"features.observed_until={observed_until}", "features.label.confirmation_days=60"]
    rows = features_at(hand_tables(), compose_config(tmp_path, *overrides))
    assert rows["churned"].isna().all() == censored
    assert rows["churned"].notna().all() != censored
    assert len(rows) == 4


def test_contractual_definition_needs_churn_date(cfg):
    tables = hand_tables()
    tables["customers"] = tables["customers"].drop(columns="churn_date")
    with pytest.raises(ConfigError, match=r"needs customers\.churn_date"):
        features_at(tables, cfg)


def test_missing_optional_tables_drop_their_families(cfg):
    tables = hand_tables()
    for name in ("complaints", "payments", "service_incidents", "surveys", "competitor_offers"):
        del tables[name]
    tables["customers"] = tables["customers"].drop(columns="credit_score")
    inputs = frames_history(tables, cfg.features, cfg.data)
    plan = plan_features(inputs, list(cfg.causes))
    assert set(plan.absent) == {
        "complaints", "payments", "service", "satisfaction", "competition", "credit"
    }  # fmt: skip
    assert plan.absent["credit"] == ["customers.credit_score"]
    rows = features_at(tables, cfg)
    assert not any(column.startswith(("complaint", "payment", "survey")) for column in rows)
    expect(rows, 1, purchases_365d=4, recency_days=10)


def test_catalogue_gives_every_feature_one_cause(cfg):
    inputs = frames_history(hand_tables(), cfg.features, cfg.data)
    plan = plan_features(inputs, list(cfg.causes))
    causes = {spec.name: spec.cause for spec in plan.catalogue}
    assert causes["complaints_unresolved"] == "unresolved_complaint"
    assert causes["incidents_defect_90d"] == "product_quality"
    assert causes["incidents_late_delivery_90d"] == "poor_service"
    assert causes["trend_spend_30d"] == "lifecycle_decline"
    assert causes["payments_failed_90d"] == "payment_lapse"
    assert causes["credit_score"] == "credit_risk"
    assert {spec.family for spec in plan.catalogue} == {f.name for f in FAMILIES} - {"declared"} | {
        "lifecycle"
    }
    assert all(spec.description for spec in plan.catalogue)
    assert list(features_at(hand_tables(), cfg).columns)[1:-2] == plan.feature_names


def test_unmapped_and_ambiguous_features_are_named(tmp_path):
    cfg = compose_config(tmp_path, "~features.causes.credit_score")
    cfg.features.causes["tenure_*"] = "natural"  # Hydra overrides cannot spell a '*' key
    inputs = frames_history(hand_tables(), cfg.features, cfg.data)
    with pytest.raises(ConfigError) as error:
        plan_features(inputs, list(cfg.causes))
    assert "credit_score: matches no pattern" in str(error.value)
    assert "tenure_days: matches several patterns ['tenure_days', 'tenure_*']" in str(error.value)


def test_unknown_cause_is_an_error(tmp_path):
    cfg = compose_config(tmp_path, "features.causes.credit_score=fraud")
    inputs = frames_history(hand_tables(), cfg.features, cfg.data)
    with pytest.raises(ConfigError, match="unknown causes"):
        plan_features(inputs, list(cfg.causes))


def test_declared_attributes_pass_through_with_their_cause(tmp_path):
    cfg = compose_config(
        tmp_path,
        "+data.extra_customer_columns.nps=numeric",
        "+data.extra_customer_columns.segment=categorical",
        "+features.causes.declared_nps=poor_service",
        "+features.causes.declared_segment=natural",
    )
    tables = hand_tables()
    tables["customers"]["nps"] = [9.0, np.nan, 3.0, 5.0, 5.0, 7.0, 8.0]
    tables["customers"]["segment"] = ["retail", "smb", "smb", None, "retail", "retail", "smb"]
    rows = features_at(tables, cfg)
    expect(rows, 3, declared_nps=3.0)
    assert rows.loc[1, "declared_segment"] == "retail"
    assert list(rows["declared_segment"].cat.categories) == ["retail", "smb"]


def test_configured_causes_are_the_documented_ones(cfg):
    assert set(cfg.causes) == set(CAUSES)


def test_event_order_in_the_input_files_does_not_matter(cfg, rows):
    rng = np.random.default_rng(7)
    tables = hand_tables()
    shuffled = {
        name: table if name == "customers" else table.sample(frac=1.0, random_state=rng)
        for name, table in tables.items()
    }
    pd.testing.assert_frame_equal(features_at(shuffled, cfg), rows)
