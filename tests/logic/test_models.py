"""Model building blocks on hand-made inputs: splits, metrics, the RFM rule, the oracle and
the paired comparison behind promotion."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.errors import ConfigError
from contract.reasons import reason_causes
from models.comparison import paired_bootstrap
from models.config import SplitConfig
from models.estimators import RFMRule
from models.metrics import (
    evaluate,
    expected_calibration_error,
    gain_table,
    ranking_metric,
    top_k_mask,
)
from models.reasons import stated_causes
from models.split import plan_split, split_cutoffs, split_rows
from pipeline.artifacts import TRUTH_HAZARDS, ground_truth_dir
from pipeline.config import load_config
from simulator.oracle import (
    observable_churn_probability,
    oracle_probability,
    true_churn_probability,
)
from simulator.truth import GroundTruth, hazard_records, label_agreement, true_churn_ranking
from tests.support import REPO

AUTO = SplitConfig(
    test_cutoff=None, validation_cutoff=None, train_cutoffs=None, calibration_share=0.5
)
DEFAULTS = load_config(REPO / "params.yaml")
MONTHLY = list(pd.date_range("2024-01-01", "2025-06-01", freq="MS"))


def test_default_split_keeps_a_horizon_between_train_validation_and_test():
    split = plan_split(MONTHLY, 90, AUTO)
    assert split.test_cutoff == pd.Timestamp("2025-06-01")
    # 2025-03-01 + 90 days = 2025-05-30, before the test cutoff; 2025-04-01 would reach 06-30.
    assert split.validation_cutoff == pd.Timestamp("2025-03-01")
    assert split.train_cutoffs[0] == pd.Timestamp("2024-01-01")
    assert split.train_cutoffs[-1] == pd.Timestamp("2024-12-01")


@given(
    cutoffs=st.lists(
        st.dates(
            min_value=pd.Timestamp("2023-01-01").date(), max_value=pd.Timestamp("2026-01-01").date()
        ),
        min_size=1,
        max_size=30,
        unique=True,
    ),
    horizon=st.integers(min_value=1, max_value=200),
    train_cutoffs=st.one_of(st.none(), st.integers(min_value=1, max_value=5)),
)
def test_no_training_label_window_reaches_the_validation_or_test_cutoff(
    cutoffs, horizon, train_cutoffs
):
    stamps = [pd.Timestamp(c) for c in cutoffs]
    try:
        split = plan_split(stamps, horizon, replace(AUTO, train_cutoffs=train_cutoffs))
    except ConfigError:
        return  # too few cutoffs for three parts: refused, with a message
    window = pd.Timedelta(days=horizon)
    assert split.test_cutoff == max(stamps)
    assert split.validation_cutoff + window <= split.test_cutoff
    assert all(c + window <= split.validation_cutoff for c in split.train_cutoffs)
    assert train_cutoffs is None or len(split.train_cutoffs) <= train_cutoffs


def test_the_cutoffs_to_featurize_are_the_splits_among_the_closed_label_windows():
    # The data end on 2025-07-15: with 90 days, labels up to the 2025-04-01 cutoff (04-16
    # would be the last day); the test cutoff is 04-01, validation 01-01, training to 10-01.
    chosen = split_cutoffs(MONTHLY, pd.Timestamp("2025-07-15"), 90, AUTO)
    assert [c.strftime("%Y-%m") for c in chosen] == [
        *(c.strftime("%Y-%m") for c in pd.date_range("2024-01-01", "2024-10-01", freq="MS")),
        "2025-01",
        "2025-04",
    ]
    assert (
        chosen
        == plan_split(MONTHLY[: MONTHLY.index(pd.Timestamp("2025-04-01")) + 1], 90, AUTO).cutoffs
    )
    two = split_cutoffs(MONTHLY, pd.Timestamp("2025-07-15"), 90, replace(AUTO, train_cutoffs=2))
    assert [c.strftime("%Y-%m") for c in two] == ["2024-09", "2024-10", "2025-01", "2025-04"]


def test_split_errors_name_the_problem():
    with pytest.raises(
        ConfigError, match="no cutoff's 90-day label window closes by the validation"
    ):
        plan_split(MONTHLY[-5:], 90, AUTO)
    with pytest.raises(ConfigError, match=r"test_cutoff: 2030-01-01 is not a labelled cutoff"):
        plan_split(MONTHLY, 90, replace(AUTO, test_cutoff="2030-01-01"))
    with pytest.raises(ConfigError, match=r"validation_cutoff: 2025-05-01 .*choose one of"):
        plan_split(MONTHLY, 90, replace(AUTO, validation_cutoff="2025-05-01"))


def test_validation_customers_go_to_early_stopping_or_calibration_never_both():
    cutoffs = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01")]
    rows = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(100), 4),
            "cutoff": np.repeat([*cutoffs, pd.Timestamp("2024-10-01")], 100),
            "churned": pd.array([0, 1] * 150 + [pd.NA] * 100, dtype="Int8"),
        }
    )
    parts = split_rows(rows, plan_split(cutoffs, 90, AUTO), calibration_share=0.3, seed=1)
    stopping, calibration = parts["early_stopping"], parts["calibration"]
    assert len(calibration) == 30 and len(stopping) == 70
    assert not set(stopping["customer_id"]) & set(calibration["customer_id"])
    assert set(parts["train"]["cutoff"]) == {cutoffs[0]}
    assert set(parts["test"]["cutoff"]) == {cutoffs[2]}
    assert all(part["churned"].notna().all() for part in parts.values())


Y = np.array([0, 0, 1, 1])
P = np.array([0.1, 0.4, 0.35, 0.8])


def test_metrics_match_values_computed_by_hand():
    scores = evaluate(Y, P, top_fractions=[0.25, 0.5], calibration_bins=2)
    # Of the 4 churner/non-churner pairs, 3 are ordered right.
    assert scores["roc_auc"] == pytest.approx(0.75)
    # Ranked: 0.8 (churner), 0.4, 0.35 (churner), 0.1: precision 1 at recall 1/2, 2/3 at 1.
    assert scores["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert scores["log_loss"] == pytest.approx(
        -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    )
    assert scores["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    # Bins {0.1, 0.35} and {0.4, 0.8}: |0.5 - 0.225| and |0.5 - 0.6|, equal weights.
    assert scores["calibration_error"] == pytest.approx((0.275 + 0.1) / 2)
    assert scores["precision_top_25pct"] == 1.0
    assert scores["recall_top_25pct"] == 0.5
    assert scores["lift_top_25pct"] == pytest.approx(2.0)
    assert scores["precision_top_50pct"] == 0.5
    assert scores["lift_top_50pct"] == pytest.approx(1.0)


def test_calibration_error_is_zero_for_probabilities_that_match_the_rates():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert expected_calibration_error(y, p, bins=2) == pytest.approx(0.0)


def test_top_k_and_gain_table():
    assert top_k_mask(P, 0.5).tolist() == [False, True, False, True]
    gain = gain_table(Y, P, points=4)
    assert gain["contacted_share"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert gain["churners_caught_share"].tolist() == [0.5, 0.5, 1.0, 1.0]
    assert gain["lift"].iloc[0] == pytest.approx(2.0)


def test_rfm_rule_scores_recent_frequent_big_spenders_lowest():
    train = pd.DataFrame(
        {
            "recency_days": [1.0, 10, 20, 40, 80],
            "purchases_365d": [50.0, 20, 10, 5, 1],
            "spend_365d": [5000.0, 2000, 800, 300, 50],
        }
    )
    rule = RFMRule(bins=5).fit(train, np.array([0, 0, 0, 1, 1]))
    risk = rule.predict_proba(train)[:, 1]
    assert risk[0] == 0.0 and risk[-1] == 1.0
    assert np.all(np.diff(risk) > 0)
    never_bought = pd.DataFrame(
        {"recency_days": [np.nan], "purchases_365d": [0.0], "spend_365d": [0.0]}
    )
    assert rule.predict_proba(never_bought)[0, 1] == 1.0


def test_oracle_is_the_label_probability_under_the_true_state():
    sim = DEFAULTS.simulator
    cutoff = pd.Timestamp("2024-06-01")
    truth = GroundTruth(
        hazards=pd.DataFrame(
            {
                "customer_id": [1, 2, 4],
                "cutoff": [cutoff] * 3,
                "stage": pd.Categorical(["maturity"] * 3),
                "hazard_total": [0.01, 0.02, 0.01],
            }
        ),
        customers=pd.DataFrame(
            {"customer_id": [1, 2, 3, 4], "purchase_rate": [0.5, 0.0, 1.0, 0.5]}
        ),
    )
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "cutoff": [cutoff] * 4,
            "churn_definition": ["contractual", *["non_contractual"] * 3],
        }
    )
    oracle = oracle_probability(truth, rows, sim, horizon_days=28, confirmation_days=70)
    assert oracle[0] == pytest.approx(1 - math.exp(-0.01 * 4))
    # Buying never: "no purchase in the confirmation window" is certain.
    assert oracle[1] == pytest.approx(1.0)
    # No hazard record at the cutoff: the customer had already left.
    assert oracle[2] == 1.0
    # A buyer: at least gone by the horizon's end, less likely the longer the confirmation.
    longer = oracle_probability(truth, rows, sim, horizon_days=28, confirmation_days=140)
    assert 1 - math.exp(-0.01 * 4) < longer[3] < oracle[3] < 1
    # True churn (gone by the horizon's end) needs no purchase rate.
    assert true_churn_probability(truth, rows, horizon_days=28) == pytest.approx(
        [1 - math.exp(-0.01 * 4), 1 - math.exp(-0.02 * 4), 1.0, 1 - math.exp(-0.01 * 4)]
    )


def test_observable_oracle_weighs_the_silence_against_the_true_rates():
    """Blind to who has left: a customer's silence against their true purchase rate and
    hazard says how likely they are gone already (customer 3 left in May, customer 4 never
    bought); a contract says it outright (customer 1)."""
    sim = DEFAULTS.simulator
    may, june = pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-01")
    truth = GroundTruth(
        hazards=pd.DataFrame(
            {
                "customer_id": [1, 2, 2, 3, 4],
                "cutoff": [june, may, june, may, june],
                "stage": pd.Categorical(["maturity"] * 5),
                "hazard_total": [0.01, 0.5, 0.02, 0.02, 0.02],
            }
        ),
        customers=pd.DataFrame(
            {"customer_id": [1, 2, 3, 4], "purchase_rate": [0.5, 1.0, 1.0, 1.0]}
        ),
    )
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 2],
            "cutoff": [june] * 5,
            "churn_definition": ["contractual", *["non_contractual"] * 4],
            "recency_days": [200.0, 1.0, 1.0, np.nan, 70.0],
            "tenure_days": [900.0, 900.0, 900.0, 70.0, 900.0],
        }
    )
    probability = observable_churn_probability(truth, rows, sim, horizon_days=28)
    leaves = 1 - math.exp(-0.02 * 4)
    assert probability[0] == pytest.approx(1 - math.exp(-0.01 * 4))  # the silence is no sign
    # A day of silence says almost nothing: about the hazard alone, from the June state.
    assert leaves < probability[1] < leaves + 0.01
    # Customer 3 has no June record (gone), but the oracle reads the May state and the
    # same one-day silence: it cannot tell them from customer 2.
    assert probability[2] == pytest.approx(probability[1])
    # Ten weeks without a purchase at about one a week: almost surely gone, bought or not.
    assert probability[3] == pytest.approx(probability[4]) and probability[4] > 0.95
    assert true_churn_probability(truth, rows, horizon_days=28)[2] == 1.0  # the other oracle


def test_hazard_records_find_each_rows_record_in_any_order():
    """The record at the row's cutoff, or the latest at or before it; missing where the
    customer has none, whatever order the records and rows come in, as pandas' merge and
    merge_asof give them."""
    may, june, july = (pd.Timestamp(f"2024-{month:02d}-01") for month in (5, 6, 7))
    hazards = pd.DataFrame(
        {
            "customer_id": [2, 1, 2, 1, 3, 5],
            "cutoff": [june, june, may, may, july, may],
            "stage": ["growth", "maturity", "onboarding", "growth", "decline", "decline"],
            "hazard_total": np.array([0.2, 0.1, 0.3, 0.4, 0.5, 0.6], dtype=np.float32),
        }
    )
    rows = pd.DataFrame(
        {  # customer 4 has no record; customer 3 none until July; 5 left after May
            "customer_id": [5, 1, 2, 3, 4, 2, 1],
            "cutoff": [june, july, june, june, june, may, may],
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )
    columns = ["stage", "hazard_total"]
    exact = hazard_records(hazards, rows, columns)
    merged = rows.merge(hazards, on=["customer_id", "cutoff"], how="left")[columns]
    pd.testing.assert_frame_equal(exact, merged)
    assert exact["stage"].tolist()[:3] == [np.nan, np.nan, "growth"]
    latest = hazard_records(hazards, rows, columns, latest=True)
    assert latest["stage"].tolist() == [
        "decline",
        "maturity",
        "growth",
        np.nan,
        np.nan,
        "onboarding",
        "growth",
    ]
    assert latest["hazard_total"].dtype == np.float32
    assert hazard_records(hazards.iloc[:0], rows, columns)["stage"].isna().all()


def test_labels_and_scores_are_checked_against_true_churn():
    cutoff = pd.Timestamp("2025-01-01")
    truth = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            # 1 left before the cutoff, 2 within the 90 days, 3 after them; 4-6 stay.
            "churn_time": pd.to_datetime(
                ["2024-12-01", "2025-02-01", "2025-06-01", None, None, "2025-03-01"]
            ),
        }
    )
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "cutoff": cutoff,
            "churn_definition": [*["non_contractual"] * 5, "contractual"],
            "churned": [1, 0, 1, 0, 0, 1],
        }
    )
    agreement = label_agreement(rows, truth, horizon_days=90)
    # Non-contractual: truly churned 1 and 2; labelled 1 and 3.
    assert agreement["non_contractual"] == pytest.approx(
        {"accuracy": 3 / 5, "recall": 1 / 2, "precision": 1 / 2, "rows": 5}
    )
    assert agreement["contractual"]["accuracy"] == 1.0
    score = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.5])
    ranking = true_churn_ranking(rows, {"model": score}, truth, horizon_days=90)
    assert ranking["non_contractual"] == pytest.approx(
        {"model_roc_auc": 1.0, "true_churn_rate": 0.4, "rows": 5}
    )
    assert "contractual" not in ranking  # one class only: no ROC-AUC


def test_ground_truth_is_read_only_where_the_data_are_the_simulators(tmp_path: Path):
    simulated, truth = DEFAULTS.data, tmp_path / "truth"
    assert simulated.simulated
    assert ground_truth_dir(truth, simulated) is None  # nothing simulated yet
    truth.mkdir()
    (truth / TRUTH_HAZARDS).touch()
    assert ground_truth_dir(truth, simulated) == truth
    mine = replace(simulated, name="mine", simulated=False, dir=str(tmp_path / "mine"))
    assert ground_truth_dir(truth, mine) is None


def _two_models(rows: int, gap: float, seed: int = 3) -> tuple[np.ndarray, ...]:
    """Labels and two models' scores: the first separates churners by ``gap`` more."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.2).astype(int)
    noise = rng.normal(size=rows)
    return y, y * (1.0 + gap) + noise, y * 1.0 + noise + rng.normal(scale=0.3, size=rows)


def test_ranking_metric_alone_equals_the_reports_value():
    y, candidate, _ = _two_models(2000, 0.5)
    probability = 1 / (1 + np.exp(-candidate))
    report = evaluate(y, probability, [0.1], 10)
    for name in ("roc_auc", "pr_auc", "precision_top_10pct", "recall_top_10pct", "lift_top_10pct"):
        assert ranking_metric(name)(y, probability) == pytest.approx(report[name], rel=1e-12)
    with pytest.raises(ValueError, match="'log_loss' is not a higher-is-better metric"):
        ranking_metric("log_loss")


def test_paired_bootstrap_is_confident_only_about_a_real_difference():
    y, better, worse = _two_models(3000, 0.6)
    clear = paired_bootstrap(y, better, worse, "pr_auc", 300, 0.95, seed=1)
    assert clear.difference == pytest.approx(clear.candidate - clear.champion)
    assert 0 < clear.lower_bound < clear.difference and clear.share_better > 0.95
    assert clear.rows == 3000 and clear.samples == 300
    # The same model against itself: no difference, and nothing to be confident about.
    same = paired_bootstrap(y, worse, worse.copy(), "roc_auc", 300, 0.95, seed=1)
    assert same.difference == 0 and same.lower_bound == 0 and same.share_better == 0
    # Reversed, the lower bound is negative: the candidate is worse.
    reversed_ = paired_bootstrap(y, worse, better, "pr_auc", 300, 0.95, seed=1)
    assert reversed_.lower_bound < 0 and reversed_.share_better < 0.05
    # Seeded: the same call gives the same bound.
    assert paired_bootstrap(y, better, worse, "pr_auc", 300, 0.95, seed=1) == clear


def test_paired_bootstrap_refuses_rows_of_one_class():
    with pytest.raises(ValueError, match="single class"):
        paired_bootstrap(np.zeros(10), np.arange(10.0), np.arange(10.0), "pr_auc", 10, 0.9, 0)


# -- stated churn reasons ---------------------------------------------------------------

CAUSE_NAMES = ["competitor_price", "poor_service", "natural"]


def test_reason_codes_are_causes_or_mapped_to_one():
    reasons = pd.DataFrame({"reason": ["poor_service", "PRICE", "MOVED", "PRICE"]})
    causes = reason_causes(reasons, {"PRICE": "competitor_price", "MOVED": "natural"}, CAUSE_NAMES)
    assert causes.tolist() == ["poor_service", "competitor_price", "natural", "competitor_price"]


def test_an_unmapped_reason_code_is_named_with_its_count_and_the_key_to_set():
    reasons = pd.DataFrame({"reason": ["PRICE", "TOO_SLOW", "TOO_SLOW", "poor_service"]})
    with pytest.raises(ConfigError) as caught:
        reason_causes(reasons, {"PRICE": "competitor_price"}, CAUSE_NAMES)
    assert "'TOO_SLOW' (2 rows)" in str(caught.value)
    assert "data.reason_causes" in str(caught.value) and "PRICE" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"to \['price'\], which are not documented causes"):
        reason_causes(reasons, {"TOO_SLOW": "price"}, CAUSE_NAMES)


def test_a_row_gets_the_first_reason_stated_in_its_window_after_the_cutoff():
    ts = pd.Timestamp
    rows = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "cutoff": [ts("2025-01-01"), ts("2025-03-01"), ts("2025-01-01"), ts("2025-01-01")],
        },
        index=[10, 11, 12, 13],
    )
    reasons = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "stated_at": [ts("2025-02-10"), ts("2025-02-01"), ts("2024-12-31")],
            "cause": ["natural", "poor_service", "competitor_price"],
        }
    )
    causes = stated_causes(rows, reasons, window_days=60)
    # Customer 1 at 2025-01-01: both reasons fall in the 60 days, the earlier counts; at
    # 2025-03-01 both are before the cutoff. Customer 2 spoke before the cutoff; 3 never.
    assert causes.index.tolist() == [10, 11, 12, 13]
    assert causes.tolist()[:1] == ["poor_service"] and causes.iloc[1:].isna().all()
    # The window ends before cutoff + window_days: Feb 1 is in 32 days, not in 31.
    assert stated_causes(rows, reasons, window_days=32).tolist()[:1] == ["poor_service"]
    assert stated_causes(rows, reasons, window_days=31).isna().all()
