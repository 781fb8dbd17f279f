"""The explain stage: SHAP values of the trained model, causes, reports and tracking."""

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

from contract.errors import ConfigError
from models.estimators import model_inputs
from models.explain import (
    shap_values,
    tree_parts,
)
from pipeline import explain, tracking
from pipeline.artifacts import (
    CAUSES,
    EXPLAINED_CUSTOMERS,
    MODEL_DIR,
    PREDICTIONS,
    RUN_RECORD,
    SHAP_VALUES,
)
from pipeline.config import Config
from pipeline.registry import load_model
from tests.support import files_in, outputs_in, tracking_server_down


def _explained(cfg: Config) -> dict[str, pd.DataFrame]:
    out = Path(cfg.paths.explanations_dir)
    return {
        name: pd.read_parquet(out / file)
        for name, file in (
            ("shap", SHAP_VALUES),
            ("causes", CAUSES),
            ("customers", EXPLAINED_CUSTOMERS),
        )
    }


def _report(cfg: Config) -> dict:
    return json.loads(Path(cfg.paths.explain_report).read_text())


@pytest.fixture(scope="module")
def explained(trained: Config) -> Config:
    explain.run(trained)
    return trained


@pytest.fixture(scope="module")
def model_and_inputs(trained: Config) -> tuple[CalibratedClassifierCV, pd.DataFrame]:
    model = mlflow.sklearn.load_model(str(Path(trained.paths.models_dir) / MODEL_DIR))
    keys = pd.read_parquet(Path(trained.paths.models_dir) / PREDICTIONS)
    rows = explain._test_rows(Path(trained.paths.features_dir), keys[["customer_id", "cutoff"]])
    return model, model_inputs(rows, list(tree_parts(model)[0].feature_names_in_))


# -- causes from SHAP values -------------------------------------------------------------


# -- fidelity ------------------------------------------------------------------------------


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


# -- the explain stage ----------------------------------------------------------------------


def test_stage_explains_every_test_row_and_causes_add_up(explained):
    tables = _explained(explained)
    predictions = pd.read_parquet(Path(explained.paths.models_dir) / PREDICTIONS)
    customers = tables["customers"]
    assert customers[["customer_id", "cutoff"]].equals(predictions[["customer_id", "cutoff"]])
    np.testing.assert_allclose(
        customers["churn_probability"], predictions["probability_lightgbm"], rtol=1e-12
    )
    report = _report(explained)
    assert report["rows"] == report["test_rows"] == len(predictions)
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
    # The customers table's protective causes are the tidy table's; its risk causes are
    # named by the cause model (test below), not by the SHAP values.
    customers = _explained(explained)["customers"]
    first = causes.query("direction == 'protective' and rank == 1").set_index("customer_id")
    assert (
        customers.set_index("customer_id")["protective_cause_1"]
        .dropna()
        .equals(
            first["cause"].reindex(customers["customer_id"]).dropna().rename("protective_cause_1")
        )
    )


def test_report_has_scale_and_fidelity_next_to_the_constant_guess(explained):
    report = _report(explained)
    assert report["scale"].startswith("raw log-odds")
    assert report["max_additivity_error"] < 1e-9
    # Only what the same inputs reproduce: the timing is in MLflow, not in the DVC metrics.
    assert not {"seconds", "rows_per_second", "model_version"} & set(report)
    top = report["fidelity"]["top_risk"]["all"]
    assert top["rows"] == int(np.ceil(0.1 * report["rows"])) or top["rows"] == round(
        0.1 * report["rows"]
    )
    assert 0 <= top["agreement"] <= top["within_top_3"] <= 1
    assert 0 < top["most_frequent_guess"] <= top["most_frequent_3_guess"] <= 1
    assert set(report["fidelity"]) == {"top_risk", "true_top_risk", "true_churners"}
    # Per contract type too (the simulated customers have one), with recall per true cause.
    segments = set(report["fidelity"]["true_churners"])
    assert {"all", "contractual", "non_contractual", "contract_type/none"} <= segments
    recall = report["fidelity"]["true_churners"]["all"]["recall"]
    assert recall and all(0 <= share <= 1 for share in recall.values())
    plots = Path(explained.paths.explain_plots)
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


def test_the_cause_model_names_causes_in_points_that_split_the_churn_probability(explained):
    report = _report(explained)
    assert report["causes_named_by"] == "cause model"
    customers = _explained(explained)["customers"]
    points = customers.filter(regex=r"^risk_points_").fillna(0)
    assert (points.diff(axis=1).iloc[:, 1:] <= 1e-12).all().all()  # most points first
    # The points of every cause sum to the churn probability; the named ones to no more.
    assert (points.sum(axis=1) <= 100 * customers["churn_probability"] + 1e-9).all()
    assert (points["risk_points_1"] > 0).all()


def test_without_stated_reasons_shap_names_the_causes_leaving_out_the_context(explained):
    model = load_model(Path(explained.paths.models_dir))
    keys = pd.read_parquet(Path(explained.paths.models_dir) / PREDICTIONS)
    rows = explain._test_rows(Path(explained.paths.features_dir), keys[["customer_id", "cutoff"]])
    shap_named, _ = explain.explain_with_truth(explained, model, None, rows)
    assert shap_named.method == "SHAP"
    named = shap_named.risk_causes
    assert not named.isin(explained.explain.context_causes).any().any()
    assert named["risk_cause_1"].notna().mean() > 0.9
    customers = shap_named.customers
    points = customers["risk_points_1"].dropna()
    # Taking a cause's push away lowers the probability by its points, never below zero.
    assert (points > 0).all()
    assert (points <= 100 * customers.loc[points.index, "churn_probability"]).all()


def test_metrics_and_figures_go_to_the_models_mlflow_run(explained):
    run_id = json.loads((Path(explained.paths.models_dir) / RUN_RECORD).read_text())["run_id"]
    run = MlflowClient().get_run(run_id)
    assert run.data.metrics["explain.rows_per_second"] > 0
    assert "explain.fidelity.top_risk.all.agreement" in run.data.metrics
    assert "explain.fidelity.top_risk.non_contractual.within_top_3" in run.data.metrics
    assert any(".all.recall." in name for name in run.data.metrics)
    assert run.data.tags["explain.scale"].startswith("raw log-odds")
    assert run.data.tags["explain.causes_named_by"] == "cause model"
    assert run.data.metrics["explain.naming_rows_per_second"] > 0
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


def test_beyond_max_rows_a_seeded_sample_is_explained_as_in_full(explained, tmp_path):
    """A capped run explains a random subset of the test rows, in their order, the same
    subset for the same seed, and each sampled row exactly as the full run does."""
    full = _explained(explained)
    n_test = len(full["customers"])
    capped = replace(
        explained,
        explain=replace(explained.explain, max_rows=n_test // 3),
        paths=outputs_in(explained.paths, tmp_path, "explain"),
    )
    explain.run(capped)
    sample = _explained(capped)
    report = _report(capped)
    assert report["rows"] == len(sample["customers"]) == n_test // 3
    assert report["test_rows"] == n_test
    keys = ["customer_id", "cutoff"]
    position = full["customers"].reset_index().merge(sample["customers"][keys], on=keys)
    assert len(position) == n_test // 3 and position["index"].is_monotonic_increasing
    assert not position["index"].equals(pd.RangeIndex(n_test // 3))  # drawn, not the first rows
    again = explain.sample_keys(full["customers"][keys], n_test // 3, explained.seed)
    pd.testing.assert_frame_equal(again, sample["customers"][keys])
    in_full = full["shap"].merge(sample["shap"][keys], on=keys)
    pd.testing.assert_frame_equal(in_full, sample["shap"], atol=1e-9)
    assert report["fidelity"] is not None


def test_same_model_and_rows_give_the_samefiles_in(explained, tmp_path):
    again = replace(explained, paths=outputs_in(explained.paths, tmp_path, "explain"))
    explain.run(again)
    files = files_in(Path(explained.paths.explanations_dir))
    assert files == files_in(tmp_path / "explanations")
    assert files_in(Path(explained.paths.explain_plots)) == files_in(
        Path(again.paths.explain_plots)
    )


def test_failed_run_keeps_the_previous_explanations(explained, monkeypatch):
    before = files_in(Path(explained.paths.explanations_dir))

    monkeypatch.setattr(tracking, "use_tracking_store", tracking_server_down)
    with pytest.raises(ConnectionError, match="unreachable"):
        explain.run(explained)
    assert files_in(Path(explained.paths.explanations_dir)) == before


def test_real_data_get_explanations_without_a_fidelity_check(explained, tmp_path):
    """Without the simulator's output there is no truth: no fidelity, no confusion plots."""
    mine = replace(
        explained,
        data=replace(explained.data, name="mine", simulated=False, dir=str(tmp_path / "mine")),
        paths=outputs_in(explained.paths, tmp_path, "explain"),
    )
    explain.run(mine)
    report = _report(mine)
    assert report["fidelity"] is None
    plots = {p.name for p in Path(mine.paths.explain_plots).iterdir()}
    assert "waterfall.png" in plots and not any(name.startswith("confusion") for name in plots)
    assert files_in(tmp_path / "explanations") == files_in(Path(explained.paths.explanations_dir))
