"""Explanations: SHAP values, their causes, the tidy tables, fidelity and the explain stage."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import shap
from mlflow import MlflowClient
from scipy.special import logit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.estimators import model_inputs
from models.explain import (
    cause_contributions,
    cause_importance,
    mean_abs_by_feature,
    ranked_causes,
    shap_values,
    top_causes,
    tree_parts,
)
from pipeline import explain, train
from pipeline.config import Config, ConfigError
from pipeline.simulator.fidelity import agreement, confusion, fidelity_report

from .conftest import files_in, tracking_server_down

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


def _explained(cfg: Config) -> dict[str, pd.DataFrame]:
    out = Path(cfg.paths.explanations_dir)
    return {
        name: pd.read_parquet(out / file)
        for name, file in (
            ("shap", explain.SHAP_FILE),
            ("causes", explain.CAUSES_FILE),
            ("customers", explain.CUSTOMERS_FILE),
        )
    }


def _report(cfg: Config) -> dict:
    return json.loads((Path(cfg.paths.reports_dir) / explain.REPORT_FILE).read_text())


@pytest.fixture(scope="module")
def explained(trained: Config) -> Config:
    explain.run(trained)
    return trained


@pytest.fixture(scope="module")
def model_and_inputs(trained: Config) -> tuple[CalibratedClassifierCV, pd.DataFrame]:
    model = mlflow.sklearn.load_model(str(Path(trained.paths.models_dir) / train.MODEL_DIR))
    keys = pd.read_parquet(Path(trained.paths.models_dir) / train.PREDICTIONS_FILE)
    rows = explain._test_rows(trained, keys[["customer_id", "cutoff"]])
    return model, model_inputs(rows, list(tree_parts(model)[0].feature_names_in_))


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


def test_agreement_is_reported_next_to_the_most_frequent_cause_guess():
    true = pd.Series(["poor_service", "poor_service", "poor_service", "competitor_price"])
    attributed = pd.Series(
        ["poor_service", "lifecycle_decline", "poor_service", "competitor_price"]
    )
    assert agreement(true, attributed) == {
        "rows": 4,
        "agreement": 0.75,
        "most_frequent_cause": "poor_service",
        "most_frequent_guess": 0.75,
    }
    table = confusion(true, attributed)
    assert table.loc["poor_service", "poor_service"] == 2
    assert table.loc["poor_service", "lifecycle_decline"] == 1
    assert table.to_numpy().sum() == 4 and table.shape == (9, 9)


def test_fidelity_is_split_by_group_and_churn_definition():
    truth = pd.DataFrame(
        {
            "true_cause": ["poor_service", "payment_lapse", "poor_service", "natural"],
            "truly_churned": [True, False, True, True],
        }
    )
    attributed = pd.Series(["poor_service", "payment_lapse", "lifecycle_decline", "natural"])
    definition = pd.Series(["contractual", "contractual", "non_contractual", "non_contractual"])
    report = fidelity_report(
        truth, attributed, definition, {"top_risk": np.array([True, True, True, False])}
    )
    assert report["top_risk"]["all"]["agreement"] == pytest.approx(2 / 3)
    assert report["top_risk"]["all"]["truly_churned"] == pytest.approx(2 / 3)
    assert report["top_risk"]["contractual"]["agreement"] == 1.0
    assert report["top_risk"]["non_contractual"] == {
        "rows": 1,
        "agreement": 0.0,
        "most_frequent_cause": "poor_service",
        "most_frequent_guess": 1.0,
        "truly_churned": 1.0,
    }


# -- SHAP values of the trained model -------------------------------------------------------


def test_shap_values_plus_expected_value_give_the_boosters_log_odds(model_and_inputs):
    model, inputs = model_and_inputs
    contributions = shap_values(model, inputs)
    booster_probability = model.estimator.estimator.predict_proba(inputs)[:, 1]
    total = contributions.expected_value + contributions.by_feature.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, logit(booster_probability), atol=1e-9)
    assert contributions.max_additivity_error() < 1e-9
    assert list(contributions.by_feature.columns) == list(inputs.columns)


def test_native_contributions_equal_shaps_tree_explainer(model_and_inputs):
    model, inputs = model_and_inputs
    contributions = shap_values(model, inputs.head(200))
    encoder, classifier = tree_parts(model)
    encoded = encoder.transform(inputs.head(200))
    expected = shap.TreeExplainer(classifier.booster_)(encoded)
    by_feature = pd.DataFrame(expected.values, columns=encoded.columns)[inputs.columns]
    np.testing.assert_allclose(contributions.by_feature.to_numpy(), by_feature, atol=1e-12)
    np.testing.assert_allclose(contributions.expected_value, expected.base_values)


def test_explanations_need_a_tree_model():
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5})
    y = np.array([0, 1] * 10)
    logreg = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    calibrated = CalibratedClassifierCV(FrozenEstimator(logreg)).fit(x, y)
    with pytest.raises(ConfigError, match=r"LightGBM model .* LogisticRegression"):
        shap_values(calibrated, x)


# -- the explain stage ----------------------------------------------------------------------


def test_stage_explains_every_test_row_and_causes_add_up(explained):
    tables = _explained(explained)
    predictions = pd.read_parquet(Path(explained.paths.models_dir) / train.PREDICTIONS_FILE)
    customers = tables["customers"]
    assert customers[["customer_id", "cutoff"]].equals(predictions[["customer_id", "cutoff"]])
    np.testing.assert_allclose(
        customers["churn_probability"], predictions["probability_lightgbm"], rtol=1e-12
    )
    report = _report(explained)
    features = tables["shap"].drop(columns=["customer_id", "cutoff"])
    np.testing.assert_allclose(
        report["expected_value"] + features.sum(axis=1), customers["raw_score"], atol=1e-5
    )
    catalogue = json.loads((Path(explained.paths.features_dir) / "catalogue.json").read_text())
    cause_of = {spec["name"]: spec["cause"] for spec in catalogue}
    expected = features.T.groupby(features.columns.map(cause_of)).sum().T
    expected.index = tables["shap"]["customer_id"]
    causes = tables["causes"].pivot_table(
        index="customer_id", columns="cause", values="contribution", aggfunc="sum", fill_value=0
    )
    pd.testing.assert_frame_equal(
        causes.reindex(index=expected.index, columns=expected.columns, fill_value=0.0),
        expected,
        check_names=False,
        atol=1e-12,
    )


def test_tidy_table_ranks_each_direction_and_shares_sum_to_one(explained):
    causes = _explained(explained)["causes"]
    assert list(causes.columns) == [
        "customer_id",
        "cutoff",
        "cause",
        "direction",
        "rank",
        "contribution",
        "share",
    ]
    groups = causes.groupby(["customer_id", "direction"])
    np.testing.assert_allclose(groups["share"].sum(), 1.0)
    assert (groups["rank"].max() == groups.size()).all()
    assert not causes.duplicated(["customer_id", "cause"]).any()
    customers = _explained(explained)["customers"]
    first = causes.query("direction == 'risk' and rank == 1").set_index("customer_id")["cause"]
    assert (
        customers.set_index("customer_id")["risk_cause_1"]
        .dropna()
        .equals(first.reindex(customers["customer_id"]).dropna().rename("risk_cause_1"))
    )


def test_report_has_speed_scale_and_fidelity_next_to_the_constant_guess(explained):
    report = _report(explained)
    assert report["scale"].startswith("raw log-odds")
    assert report["max_additivity_error"] < 1e-9
    assert report["rows_per_second"] > 0
    top = report["fidelity"]["top_risk"]["all"]
    assert top["rows"] == int(np.ceil(0.1 * report["rows"])) or top["rows"] == round(
        0.1 * report["rows"]
    )
    assert 0 <= top["agreement"] <= 1 and 0 < top["most_frequent_guess"] <= 1
    assert set(report["fidelity"]) == {"top_risk", "true_top_risk", "true_churners"}
    plots = Path(explained.paths.reports_dir) / explain.PLOTS_DIR
    assert {p.name for p in plots.iterdir()} >= {
        "beeswarm.png",
        "cause_importance.png",
        "cause_importance.csv",
        "features_by_cause.png",
        "feature_importance.csv",
        "waterfall.png",
        "confusion_top_risk.png",
        "causes_top_risk.csv",
    }


def test_metrics_and_figures_go_to_the_models_mlflow_run(explained):
    run_id = json.loads((Path(explained.paths.models_dir) / train.RUN_FILE).read_text())["run_id"]
    run = MlflowClient().get_run(run_id)
    assert "explain.rows_per_second" in run.data.metrics
    assert "explain.fidelity.top_risk.all.agreement" in run.data.metrics
    assert run.data.tags["explain.scale"].startswith("raw log-odds")
    artifacts = {a.path for a in MlflowClient().list_artifacts(run_id, "explain")}
    assert "explain/beeswarm.png" in artifacts and "explain/waterfall.png" in artifacts


def test_a_feature_missing_from_the_cause_mapping_stops_the_stage(explained, tmp_path):
    features = copy.deepcopy(explained.features)
    del features.causes["credit_score"]
    cfg = replace(
        explained,
        features=features,
        paths=replace(explained.paths, explanations_dir=str(tmp_path / "explanations")),
    )
    with pytest.raises(ConfigError, match="credit_score: matches no pattern"):
        explain.run(cfg)
    assert not (tmp_path / "explanations").exists()


def test_same_model_and_rows_give_the_samefiles_in(explained, tmp_path):
    again = replace(
        explained,
        paths=replace(
            explained.paths,
            explanations_dir=str(tmp_path / "explanations"),
            reports_dir=str(tmp_path / "reports"),
        ),
    )
    explain.run(again)
    files = files_in(Path(explained.paths.explanations_dir))
    assert files == files_in(tmp_path / "explanations")
    plots = explain.PLOTS_DIR
    assert files_in(Path(explained.paths.reports_dir) / plots) == files_in(
        tmp_path / "reports" / plots
    )


def test_failed_run_keeps_the_previous_explanations(explained, monkeypatch):
    before = files_in(Path(explained.paths.explanations_dir))

    monkeypatch.setattr(explain, "use_tracking_store", tracking_server_down)
    with pytest.raises(ConnectionError, match="unreachable"):
        explain.run(explained)
    assert files_in(Path(explained.paths.explanations_dir)) == before


def test_real_data_get_explanations_without_a_fidelity_check(explained, tmp_path):
    """Without the simulator's output there is no truth: no fidelity, no confusion plots."""
    mine = replace(
        explained,
        data=replace(explained.data, dir=str(tmp_path / "my_tables")),
        paths=replace(
            explained.paths,
            explanations_dir=str(tmp_path / "explanations"),
            reports_dir=str(tmp_path / "reports"),
        ),
    )
    explain.run(mine)
    report = json.loads((tmp_path / "reports" / explain.REPORT_FILE).read_text())
    assert report["fidelity"] is None
    plots = {p.name for p in (tmp_path / "reports" / explain.PLOTS_DIR).iterdir()}
    assert "waterfall.png" in plots and not any(name.startswith("confusion") for name in plots)
    assert files_in(tmp_path / "explanations") == files_in(Path(explained.paths.explanations_dir))
