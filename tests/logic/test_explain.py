"""Explanations on small frames: causes from SHAP values, rankings, importance, fidelity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from contract.errors import ConfigError
from models.config import CauseModelConfig, EvidenceRule, ExplainConfig
from models.evidence import evidence
from models.explain import (
    cause_contributions,
    cause_importance,
    mean_abs_by_feature,
    ranked_causes,
    shap_values,
    top_causes,
)
from pipeline.config import load_config
from simulator.fidelity import agreement, confusion, fidelity_report

KEYS = pd.DataFrame({"customer_id": [1, 2], "cutoff": pd.to_datetime(["2025-01-01"] * 2)})
CAUSES_OF = {
    "recency": "decline",
    "trend": "decline",
    "complaints": "complaint",
    "tenure": "switch",
}
VALUES = pd.DataFrame(
    {
        "recency": [0.5, -0.1],
        "trend": [0.25, -0.1],
        "complaints": [0.25, 0.0],
        "tenure": [-0.4, 0.3],
    }
)


# -- causes from SHAP values -------------------------------------------------------------


def test_cause_contribution_is_the_sum_of_its_features():
    by_cause = cause_contributions(VALUES, CAUSES_OF)
    assert list(by_cause.columns) == ["decline", "complaint", "switch"]
    np.testing.assert_allclose(by_cause["decline"], [0.75, -0.2])
    np.testing.assert_allclose(by_cause["complaint"], [0.25, 0.0])
    np.testing.assert_allclose(by_cause.sum(axis=1), VALUES.sum(axis=1))


def test_risk_and_protective_causes_are_ranked_separately_with_shares():
    ranked = ranked_causes(KEYS, cause_contributions(VALUES, CAUSES_OF))
    first = ranked[ranked["customer_id"] == 1]
    assert first[["cause", "direction", "rank"]].to_dict("records") == [
        {"cause": "decline", "direction": "risk", "rank": 1},
        {"cause": "complaint", "direction": "risk", "rank": 2},
        {"cause": "switch", "direction": "protective", "rank": 1},
    ]
    np.testing.assert_allclose(first["share"], [0.75, 0.25, 1.0])
    second = ranked[ranked["customer_id"] == 2]
    # A cause that contributes nothing is neither risk nor protective.
    assert "complaint" not in set(second["cause"])
    assert second[["cause", "direction"]].to_dict("records") == [
        {"cause": "switch", "direction": "risk"},
        {"cause": "decline", "direction": "protective"},
    ]
    assert (ranked.loc[ranked["direction"] == "risk", "contribution"] > 0).all()
    assert (ranked.loc[ranked["direction"] == "protective", "contribution"] < 0).all()


def test_top_causes_become_columns_and_are_empty_where_there_are_fewer():
    ranked = ranked_causes(KEYS, cause_contributions(VALUES, CAUSES_OF))
    wide = top_causes(ranked, KEYS, 2)
    assert list(wide.columns) == [
        "customer_id",
        "cutoff",
        "risk_cause_1",
        "risk_share_1",
        "risk_cause_2",
        "risk_share_2",
        "protective_cause_1",
        "protective_share_1",
        "protective_cause_2",
        "protective_share_2",
    ]
    assert wide.loc[0, "risk_cause_1"] == "decline" and wide.loc[0, "risk_share_1"] == 0.75
    assert wide.loc[1, "risk_cause_1"] == "switch" and pd.isna(wide.loc[1, "risk_cause_2"])
    assert wide.loc[1, "protective_cause_1"] == "decline"


def test_global_importance_by_feature_and_by_cause():
    by_feature = mean_abs_by_feature(VALUES, CAUSES_OF)
    assert by_feature["feature"].tolist() == ["tenure", "recency", "trend", "complaints"]
    np.testing.assert_allclose(by_feature["mean_abs_shap"], [0.35, 0.3, 0.175, 0.125])
    assert by_feature["cause"].tolist() == ["switch", "decline", "decline", "complaint"]
    importance = cause_importance(
        cause_contributions(VALUES, CAUSES_OF), np.array([True, False])
    ).set_index(["group", "cause"])
    assert importance.loc[("everyone", "decline"), "mean_abs_contribution"] == pytest.approx(0.475)
    assert importance.loc[("everyone", "decline"), "mean_contribution"] == pytest.approx(0.275)
    assert importance.loc[("top_risk", "decline"), "mean_abs_contribution"] == pytest.approx(0.75)
    assert importance.loc[("top_risk", "switch"), "rows"] == 1


# -- fidelity ------------------------------------------------------------------------------


def test_agreement_is_reported_next_to_the_most_frequent_cause_guesses():
    true = pd.Series(["poor_service", "poor_service", "poor_service", "competitor_price"])
    named = pd.DataFrame(
        {
            "risk_cause_1": ["poor_service", "lifecycle_decline", "poor_service", "natural"],
            "risk_cause_2": ["natural", "poor_service", "natural", "payment_lapse"],
        }
    )
    assert agreement(true, named) == {
        "rows": 4,
        "agreement": 0.5,
        "within_top_2": 0.75,
        "most_frequent_cause": "poor_service",
        "most_frequent_guess": 0.75,
        "most_frequent_2_guess": 1.0,
        "recall": {"competitor_price": 0.0, "poor_service": 2 / 3},
    }
    attributed = named["risk_cause_1"]
    table = confusion(true, attributed)
    assert table.loc["poor_service", "poor_service"] == 2
    assert table.loc["poor_service", "lifecycle_decline"] == 1
    assert table.to_numpy().sum() == 4 and table.shape == (9, 9)


def test_fidelity_is_split_by_group_and_by_each_segment():
    truth = pd.DataFrame(
        {
            "true_cause": ["poor_service", "payment_lapse", "poor_service", "natural"],
            "truly_churned": [True, False, True, True],
        }
    )
    attributed = pd.DataFrame(
        {"risk_cause_1": ["poor_service", "payment_lapse", "lifecycle_decline", "natural"]}
    )
    definition = pd.Series(["contractual", "contractual", "non_contractual", "non_contractual"])
    contract = pd.Series(["contract_type/annual", "contract_type/monthly", None, None])
    report = fidelity_report(
        truth, attributed, [definition, contract], {"top_risk": np.array([True, True, True, False])}
    )
    top = report["top_risk"]
    assert set(top) == {
        "all",
        "contractual",
        "non_contractual",
        "contract_type/annual",
        "contract_type/monthly",
    }
    assert top["all"]["agreement"] == pytest.approx(2 / 3)
    assert top["all"]["truly_churned"] == pytest.approx(2 / 3)
    assert top["all"]["recall"] == {"payment_lapse": 1.0, "poor_service": 0.5}
    assert top["contractual"]["agreement"] == 1.0
    assert top["contract_type/monthly"]["agreement"] == 1.0
    assert top["contract_type/monthly"]["truly_churned"] == 0.0
    assert top["non_contractual"] == {
        "rows": 1,
        "agreement": 0.0,
        "within_top_1": 0.0,
        "most_frequent_cause": "poor_service",
        "most_frequent_guess": 1.0,
        "most_frequent_1_guess": 1.0,
        "recall": {"poor_service": 0.0},
        "truly_churned": 1.0,
    }


# -- SHAP values of the trained model -------------------------------------------------------


def test_explanations_need_a_tree_model():
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5})
    y = np.array([0, 1] * 10)
    logreg = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    calibrated = CalibratedClassifierCV(FrozenEstimator(logreg)).fit(x, y)
    with pytest.raises(ConfigError, match=r"LightGBM model .* LogisticRegression"):
        shap_values(calibrated, x)


# -- the explain stage ----------------------------------------------------------------------


# -- evidence behind the named causes --------------------------------------------------------

RULES = {
    "unresolved_complaint": [
        EvidenceRule("complaints_unresolved", "{value:.0f} open", "{value:.0f} 个未解决", min=1),
        EvidenceRule("oldest_days", "the oldest {value:.0f} days", "最早 {value:.0f} 天", min=1),
    ],
    "poor_service": [EvidenceRule("survey", "survey {value:.0f}/10", "满意度 {value:.0f}", max=6)],
    "payment_lapse": [EvidenceRule("not_in_this_data", "never shown", "不显示", min=0)],
}
LABELS = {"unresolved_complaint": "Complaint", "poor_service": "Service", "payment_lapse": "Pay"}


def test_evidence_states_the_rules_that_hold_for_the_named_causes_in_rank_order():
    features = pd.DataFrame(
        {
            "complaints_unresolved": [2.0, 0.0, 1.0, np.nan],
            "oldest_days": [41.0, 0.0, 3.0, np.nan],
            "survey": [4.0, 9.0, 5.0, 3.0],
        },
        index=[7, 8, 9, 10],
    )
    causes = pd.DataFrame(
        {
            "risk_cause_1": ["poor_service", "unresolved_complaint", "unresolved_complaint", None],
            "risk_points_1": [6.0, 10.0, 5.0, None],
            "risk_cause_2": ["unresolved_complaint", None, "payment_lapse", None],
        },
        index=[0, 1, 2, 3],
    )
    said = evidence(features, causes, RULES, LABELS, "text", [])
    assert said.index.tolist() == [0, 1, 2, 3]
    assert said.tolist() == [
        "Service: survey 4/10; Complaint: 2 open, the oldest 41 days",
        "",  # no complaint open: nothing to say, nothing invented
        "Complaint: 1 open, the oldest 3 days",  # payment_lapse: its feature is absent
        "",
    ]
    chinese = {cause: f"<{cause}>" for cause in LABELS}
    assert evidence(features, causes, RULES, chinese, "text_zh", [])[0] == (
        "<poor_service>: 满意度 4; <unresolved_complaint>: 2 个未解决, 最早 41 天"
    )
    # A context cause's evidence follows the named causes', unless it is named itself.
    with_context = evidence(features, causes, RULES, LABELS, "text", ["poor_service"])
    assert with_context.tolist() == [
        said[0],
        "",  # survey 9/10: nothing to say
        "Complaint: 1 open, the oldest 3 days; Service: survey 5/10",
        "Service: survey 3/10",
    ]


def test_evidence_for_an_undocumented_cause_or_of_a_text_feature_is_a_config_error():
    with pytest.raises(ConfigError, match=r"explain.evidence: \['boredom'\]"):
        evidence(pd.DataFrame(), pd.DataFrame(), {"boredom": []}, LABELS, "text", [])
    features = pd.DataFrame({"survey": ["good"]})
    causes = pd.DataFrame({"risk_cause_1": ["poor_service"]})
    with pytest.raises(ConfigError, match=r"feature 'survey' is .*, not a number"):
        evidence(features, causes, RULES, LABELS, "text", [])


def test_an_evidence_rule_with_a_wrong_key_names_the_cause_and_the_keys():
    with pytest.raises(ConfigError, match=r"explain.evidence.poor_service: .*\['minimum'\]"):
        ExplainConfig(
            top_causes=3,
            top_risk_share=0.1,
            plot_rows=100,
            max_rows=None,
            cause_model=CauseModelConfig(1, 1, {}),
            context_causes=[],
            evidence={
                "poor_service": [{"feature": "x", "text": "t", "text_zh": "t", "minimum": 1}]
            },
        )


def test_a_row_cap_below_one_is_refused():
    with pytest.raises(ConfigError, match=r"explain\.max_rows must be at least 1 or null"):
        ExplainConfig(
            top_causes=3,
            top_risk_share=0.1,
            plot_rows=100,
            max_rows=0,
            cause_model=CauseModelConfig(1, 1, {}),
            context_causes=[],
            evidence={},
        )


def test_every_configured_evidence_feature_is_a_feature_of_its_cause(tiny_features):
    """The shipped rules name real features (of the default feature settings, on data
    with every table), each of the cause it is evidence for."""
    _, catalogue, _ = tiny_features
    cause_of = {spec["name"]: spec["cause"] for spec in catalogue}
    for cause, rules in load_config().explain.evidence.items():
        for rule in rules:
            assert cause_of.get(rule.feature) == cause, (cause, rule.feature)
