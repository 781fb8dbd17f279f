"""The train stage on tiny simulated data: outputs, MLflow run and registry, reruns, failures."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from contract.errors import ConfigError, UserError
from features.columns import LABEL
from models.cause_model import DIGEST_TAG as CAUSE_DIGEST_TAG
from models.estimators import model_inputs
from pipeline import promote, tracking, train, tune
from pipeline.artifacts import BTYD_FORECAST, CAUSE_MODEL, MODEL_DIR, PREDICTIONS, RUN_RECORD
from pipeline.config import Config
from pipeline.model_file import UnsafeModel
from pipeline.registry import load_cause_model
from pipeline.tracking import use_tracking_store
from tests.support import (
    TINY,
    TRAINABLE_DATA,
    compose_config,
    files_in,
    outputs_in,
    tracking_server_down,
)


def _report(cfg: Config) -> dict:
    return json.loads(Path(cfg.paths.train_report).read_text())


def _record(cfg: Config) -> dict:
    return json.loads((Path(cfg.paths.models_dir) / RUN_RECORD).read_text())


def _test_inputs(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The test rows' model inputs, in the order of predictions.parquet, and the predictions."""
    predictions = pd.read_parquet(Path(cfg.paths.models_dir) / PREDICTIONS)
    features = pd.read_parquet(Path(cfg.paths.features_dir) / "features.parquet")
    rows = predictions[["customer_id", "cutoff"]].merge(features, on=["customer_id", "cutoff"])
    catalogue = json.loads((Path(cfg.paths.features_dir) / "catalogue.json").read_text())
    return model_inputs(rows, [spec["name"] for spec in catalogue]), predictions


def test_report_compares_the_model_with_baselines_and_the_oracle_on_the_test_cutoff(trained):
    report = _report(trained)
    assert report["split"]["test_cutoff"] == "2024-10-01"
    assert report["split"]["validation_cutoff"] == "2024-08-01"  # 45-day label look-ahead
    assert report["split"]["train_cutoffs"][-1] == "2024-06-01"
    assert set(report["metrics"]) == {
        "lightgbm", "logreg", "logreg_rfm", "rfm_rule", "bgnbd", "oracle"
    }  # fmt: skip
    rows = report["split"]["rows"]
    for values in report["metrics"].values():
        assert values["rows"] == rows["test"]
        assert 0.5 < values["roc_auc"] <= 1 and 0 < values["brier"] < 0.25
    oracle, model = report["metrics"]["oracle"], report["metrics"]["lightgbm"]
    assert oracle["roc_auc"] > model["roc_auc"]


def test_report_checks_the_labels_and_scores_against_true_churn(trained):
    report = _report(trained)
    labels = report["label_vs_truth"]
    assert labels["contractual"]["accuracy"] == 1.0  # the cancellation date is the truth
    # No purchase after leaving: the confirmed label catches every true churner.
    assert labels["non_contractual"]["recall"] == 1.0
    assert 0 < labels["non_contractual"]["accuracy"] < 1  # a 15-day confirmation here
    for definition, ranking in report["true_churn"].items():
        assert ranking["rows"] > 100, definition
        assert ranking["oracle_roc_auc"] > max(
            ranking[f"{name}_roc_auc"] for name in ("lightgbm", "logreg", "bgnbd")
        ), definition
        # Blind to who has left, the observable oracle cannot beat the one that knows.
        assert 0.5 < ranking["observable_oracle_roc_auc"] <= ranking["oracle_roc_auc"], definition


def test_predictions_cover_the_test_rows_for_every_model(trained):
    predictions = pd.read_parquet(Path(trained.paths.models_dir) / PREDICTIONS)
    assert set(predictions["cutoff"]) == {pd.Timestamp("2024-10-01")}
    assert predictions[LABEL].notna().all()
    for name in ("lightgbm", "logreg", "logreg_rfm", "rfm_rule", "bgnbd", "oracle"):
        probability = predictions[f"probability_{name}"]
        assert probability.between(0, 1).all()


def test_bgnbd_is_scored_from_the_btyd_stage_s_forecast_and_never_from_another_split(
    trained, tmp_path
):
    """The btyd stage forecast each test row; train scores BG/NBD by it, and refuses,
    before writing anything, a forecast that lacks some of its test rows."""
    forecast = pd.read_parquet(Path(trained.paths.btyd_dir) / BTYD_FORECAST)
    predictions = pd.read_parquet(Path(trained.paths.models_dir) / PREDICTIONS)
    scored = predictions.merge(forecast, on=["customer_id", "cutoff"], validate="one_to_one")
    assert len(scored) == len(forecast) == len(predictions)
    assert np.allclose(scored["probability_bgnbd"], scored["p_no_purchase"])
    assert (scored["purchases_in_horizon"] >= 0).all()
    stale = tmp_path / "btyd"
    stale.mkdir()
    forecast.iloc[1:].to_parquet(stale / BTYD_FORECAST)
    paths = replace(outputs_in(trained.paths, tmp_path, "train"), btyd_dir=str(stale))
    with pytest.raises(UserError, match=r"no row for 1 of the [\d,]+ test rows.*dvc repro btyd"):
        train.run(replace(trained, paths=paths))
    assert not (tmp_path / "models").exists() and not (tmp_path / "reports").exists()


def test_plots_are_written_for_dvc(trained):
    plots = Path(trained.paths.train_plots)
    names = {p.name for p in plots.iterdir()}
    for stem in ("roc", "precision_recall", "calibration", "gain", "importance"):
        assert {f"{stem}.csv", f"{stem}.png"} <= names
    roc = pd.read_csv(plots / "roc.csv")
    assert roc["false_positive_rate"].is_monotonic_increasing
    assert roc.iloc[-1].tolist() == [1.0, 1.0]
    # BG/NBD's reliability: deciles of its forecast against the purchases that followed.
    reliability = pd.read_csv(plots / "activity_reliability.csv")
    assert len(reliability) == 10 and "activity_reliability.png" in names
    assert reliability["expected_purchases"].is_monotonic_increasing
    assert reliability["observed_purchases"].iloc[-1] > reliability["observed_purchases"].iloc[0]


def test_mlflow_run_has_config_metrics_plots_and_lineage(trained):
    record = _record(trained)
    use_tracking_store(trained.tracking, trained.tracking.training_experiment)
    run = MlflowClient().get_run(record["run_id"])
    assert run.data.params["model.name"] == "lightgbm"
    assert run.data.params["features.label.horizon_days"] == "30"
    assert run.data.params["features.causes.recency_days"] == "lifecycle_decline"
    assert run.data.metrics["roc_auc"] == pytest.approx(
        _report(trained)["metrics"]["lightgbm"]["roc_auc"], abs=1e-6
    )
    assert {
        "logreg_rfm.pr_auc",
        "rfm_rule.pr_auc",
        "oracle.roc_auc",
        "oracle.gap_roc_auc",
    } <= set(run.data.metrics)
    assert len(run.data.tags["data_fingerprint"]) == 64
    assert run.data.tags["git_commit"]
    artifacts = {a.path for a in MlflowClient().list_artifacts(record["run_id"], "plots")}
    assert "plots/roc.png" in artifacts and "plots/importance.csv" in artifacts


def test_run_model_and_datasets_are_named_after_what_was_trained(trained):
    record = _record(trained)
    use_tracking_store(trained.tracking, trained.tracking.training_experiment)
    client = MlflowClient()
    run = client.get_run(record["run_id"])
    name = f"simulated lightgbm {tracking.config_hash(trained)}"
    assert run.info.run_name == record["run_name"] == name
    (logged,) = client.search_logged_models([run.info.experiment_id])
    assert logged.name == name.replace(" ", "-")
    tags = [{t.key: t.value for t in i.tags} for i in run.inputs.dataset_inputs]
    inputs = {
        t["mlflow.data.context"]: i.dataset
        for t, i in zip(tags, run.inputs.dataset_inputs, strict=True)
    }
    assert set(inputs) == {"train", "early_stopping", "calibration", "test"}
    parts = json.loads(inputs["test"].profile)
    assert parts["num_rows"] == _report(trained)["split"]["rows"]["test"]
    assert inputs["test"].name == "simulated-test"
    assert json.loads(inputs["test"].source)["uri"].endswith("features/features.parquet")
    assert {t["data_fingerprint"] for t in tags} == {run.data.tags["data_fingerprint"]}
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_registered_version_has_a_description_tags_and_loads_by_alias(trained):
    record = _record(trained)
    use_tracking_store(trained.tracking, trained.tracking.training_experiment)
    name = trained.tracking.registry.model_name
    assert name == "churn-simulated"  # named after the dataset
    client = MlflowClient()
    version = client.get_model_version(name, record["version"])
    report = _report(trained)["metrics"]["lightgbm"]
    assert f"pr_auc {report['pr_auc']:.4f}" in version.description
    run = client.get_run(record["run_id"])
    assert run.data.tags["mlflow.note.content"] == version.description  # the run's too
    assert version.description.startswith(record["run_name"])
    assert version.tags["model"] == "lightgbm" and version.tags["test_cutoff"]
    assert float(version.tags["roc_auc"]) == pytest.approx(report["roc_auc"], abs=1e-6)
    assert "make promote" in client.get_registered_model(name).description
    inputs, predictions = _test_inputs(trained)
    expected = predictions["probability_lightgbm"].to_numpy()
    by_alias = mlflow.sklearn.load_model(f"models:/{name}@champion")  # promoted by the fixture
    np.testing.assert_allclose(by_alias.predict_proba(inputs)[:, 1], expected, rtol=1e-12)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(np.asarray(pyfunc.predict(inputs))[:, 1], expected, rtol=1e-12)
    local = mlflow.sklearn.load_model(str(Path(trained.paths.models_dir) / MODEL_DIR))
    np.testing.assert_allclose(local.predict_proba(inputs)[:, 1], expected, rtol=1e-12)


def test_the_cause_model_is_kept_with_the_model_and_measured_out_of_time(trained, tmp_path):
    """Trained on the stated reasons, stored beside the model and with its registered
    version under a digest, measured on the test cutoff's stated reasons; a changed file
    is refused."""
    fit = _report(trained)["cause_model"]
    assert fit["rows"] > 0 and 0 <= fit["agreement"] <= fit["within_top_3"] <= 1
    assert 0 < fit["most_frequent_guess"] <= fit["most_frequent_3_guess"] <= 1
    assert fit["log_loss"] > 0
    models_dir = Path(trained.paths.models_dir)
    record = _record(trained)
    digest = hashlib.sha256((models_dir / CAUSE_MODEL).read_bytes()).hexdigest()
    assert record[CAUSE_DIGEST_TAG] == digest
    client = MlflowClient()
    version = client.get_model_version(trained.tracking.registry.model_name, record["version"])
    assert version.tags[CAUSE_DIGEST_TAG] == digest
    run = client.get_run(record["run_id"])
    assert run.data.metrics["cause_model.agreement"] == pytest.approx(fit["agreement"], abs=1e-6)
    assert load_cause_model(models_dir).causes == sorted(load_cause_model(models_dir).causes)
    changed = tmp_path / "models"
    shutil.copytree(models_dir, changed)
    text = (changed / CAUSE_MODEL).read_text().replace('"causes": [', '"causes": ["natural", ', 1)
    (changed / CAUSE_MODEL).write_text(text)
    with pytest.raises(UnsafeModel, match=r"cause_model\.json: SHA-256"):
        load_cause_model(changed)


def _champion(cfg: Config) -> str:
    registry = cfg.tracking.registry
    return str(MlflowClient().get_model_version_by_alias(registry.model_name, "champion").version)


def _promote(cfg: Config, candidate: str, **rule) -> None:
    promotion = replace(cfg.tracking.promotion, candidate=candidate, **rule)
    promote.run(replace(cfg, tracking=replace(cfg.tracking, promotion=promotion)))


def test_only_promote_moves_the_alias_on_evidence_and_records_every_decision(trained, tmp_path):
    """Training never moves the champion; `make promote` moves it to a candidate that beats
    it on the same rows by the margin with bootstrap confidence, and records every
    decision with its evidence."""
    champion = _record(trained)["version"]
    worse = replace(
        trained,
        model=replace(trained.training.baselines["rfm_rule"]),
        paths=outputs_in(trained.paths, tmp_path, "train"),
    )
    train.run(worse)
    rule_version = json.loads((tmp_path / "models" / RUN_RECORD).read_text())["version"]
    assert rule_version != champion and _champion(trained) == champion  # training: no move

    _promote(trained, rule_version)  # the RFM rule does not beat LightGBM
    assert _champion(trained) == champion
    # Make the rule the champion, then LightGBM, clearly better, takes the alias back...
    MlflowClient().set_registered_model_alias("churn-simulated", "champion", rule_version)
    _promote(trained, champion, min_improvement=1.0)  # ...but not by a margin of 1.0 PR-AUC
    assert _champion(trained) == rule_version
    _promote(trained, champion)
    assert _champion(trained) == champion

    history = tracking.promotion_history(trained.tracking)
    assert list(history["decision"]) == ["promoted", "kept", "kept", "promoted"]  # newest first
    latest, margin, worse_kept = history.iloc[0], history.iloc[1], history.iloc[2]
    assert (latest["candidate"], latest["champion"]) == (champion, rule_version)
    assert latest["candidate_score"] - latest["champion_score"] > latest["lower_bound"] > 0.002
    assert margin["margin"] == "1.0" and "does not beat the margin 1.0" in margin["reason"]
    assert worse_kept["candidate_score"] < worse_kept["champion_score"]
    assert history.iloc[3]["reason"] == "no champion yet"
    run = MlflowClient().get_run(
        MlflowClient().get_model_version("churn-simulated", champion).tags["promotion_run"]
    )
    assert run.data.tags["decision"] == "promoted"
    assert run.data.params["held_out"].startswith("test cutoff")
    assert run.data.metrics["samples"] == trained.tracking.promotion.bootstrap_samples


def test_same_inputs_and_config_give_the_same_predictions_and_report(trained, tmp_path):
    before = files_in(Path(trained.paths.train_plots))
    again = replace(
        trained,
        paths=outputs_in(trained.paths, tmp_path, "train"),
    )
    train.run(again)
    assert (tmp_path / "models" / PREDICTIONS).read_bytes() == (
        Path(trained.paths.models_dir) / PREDICTIONS
    ).read_bytes()
    assert files_in(tmp_path / "reports" / "train") == before
    assert _report(again) == _report(trained)


def test_a_row_budget_fits_fewer_rows_and_never_samples_the_held_out_parts(trained, tmp_path):
    full = _report(trained)["split"]["rows"]
    budget = full["train"] * 2 // 3
    sampled = replace(
        trained,
        paths=outputs_in(trained.paths, tmp_path, "train"),
        training=replace(trained.training, max_training_rows=budget),
    )
    train.run(sampled)
    kept = _report(sampled)["split"]["rows"]
    assert kept["train"] == budget
    assert {k: v for k, v in kept.items() if k != "train"} == {
        k: v for k, v in full.items() if k != "train"
    }
    # Weighted back to the natural churn rate, the probabilities stay calibrated.
    metrics = _report(sampled)["metrics"]["lightgbm"]
    assert metrics["calibration_error"] < 0.05
    # Where the time went, step by step, for `make bench-train`.
    steps = _record(sampled)["seconds"]
    assert {"read", "fit lightgbm", "fit logreg", "track and register"} <= set(steps)
    assert all(seconds >= 0 for seconds in steps.values())


def test_failed_run_keeps_the_previous_model_and_plots(trained, monkeypatch):
    models_before = files_in(Path(trained.paths.models_dir))
    plots_before = files_in(Path(trained.paths.train_plots))

    monkeypatch.setattr(tracking, "use_tracking_store", tracking_server_down)
    with pytest.raises(ConnectionError, match="unreachable"):
        train.run(trained)
    assert files_in(Path(trained.paths.models_dir)) == models_before
    assert files_in(Path(trained.paths.train_plots)) == plots_before


def test_promotion_metric_must_be_one_where_higher_is_better(trained):
    with pytest.raises(ConfigError, match="'log_loss' is not a higher-is-better metric"):
        _promote(trained, "1", metric="log_loss")


def test_tuning_logs_every_trial_and_scores_on_validation_only(trained, monkeypatch):
    tuning = replace(trained.training.tuning, n_trials=2)
    cfg = replace(trained, training=replace(trained.training, tuning=tuning))
    scored_rows = []
    original = tune.evaluate

    def recording_evaluate(y, probability, *args):
        scored_rows.append(len(y))
        return original(y, probability, *args)

    monkeypatch.setattr(tune, "evaluate", recording_evaluate)
    tune.run(cfg)
    report = _report(trained)
    # Scored on the calibration customers of the validation cutoff, never the test cutoff.
    assert scored_rows == [report["split"]["rows"]["calibration"]] * 2
    use_tracking_store(cfg.tracking, cfg.tracking.training_experiment)
    parent = mlflow.search_runs(filter_string="attributes.run_name = 'tune'", output_format="list")[
        0
    ]
    trials = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    assert len(trials) == 2
    assert {"learning_rate", "num_leaves"} <= set(trials[0].data.params)
    assert "validation.pr_auc" in trials[0].data.metrics
    assert "best.learning_rate" in parent.data.params


def test_tuning_refuses_parameters_the_model_does_not_have(trained):
    search = {"leaves": replace(next(iter(trained.training.tuning.search_space.values())))}
    tuning = replace(trained.training.tuning, search_space=search)
    with pytest.raises(ConfigError, match=r"\['leaves'\] are not in model.params"):
        tune.run(replace(trained, training=replace(trained.training, tuning=tuning)))


def test_model_logreg_is_one_override_away(trained, tmp_path):
    composed = compose_config(tmp_path, *TINY, *TRAINABLE_DATA, "model=logreg")
    cfg = replace(
        trained,
        model=composed.model,
        paths=outputs_in(trained.paths, tmp_path, "train"),
    )
    train.run(cfg)
    report = json.loads(Path(cfg.paths.train_report).read_text())
    assert report["model"] == "logreg"
    assert set(report["metrics"]) == {"logreg", "logreg_rfm", "rfm_rule", "bgnbd", "oracle"}
    importance = pd.read_csv(tmp_path / "reports" / "train" / "importance.csv")
    assert importance["feature"].str.startswith(("numbers__", "categories__")).all()
