"""Stage `train`: fit the main model and the baselines out of time, evaluate, track and register.

Inputs: `paths.features_dir` (features and catalogue). The main model (`model`) and the
baselines (`training.baselines`) are fitted on the training cutoffs, calibrated on held-out
customers of the validation cutoff and scored on the test cutoff (models/split.py). On
simulated data the oracle (pipeline/simulator/oracle.py) is scored too.

Outputs: `paths.models_dir` with the calibrated main model in MLflow format (`model/`),
the test-cutoff predictions of every model (`predictions.parquet`), the MLflow run and
registry record (`run.json`) and the training rows' feature profile that scoring checks
drift against (`drift_reference.json`, models/drift.py); `paths.reports_dir`/train.json
(DVC metrics) and `paths.reports_dir`/train/ (DVC plots: curves as CSV, figures as PNG).
The same metrics, figures, config, data fingerprint and git commit go to an MLflow run,
the model is registered, and the registry alias moves to it if it beats the champion.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature, infer_signature

from features.build import KEYS, LABEL
from models.drift import reference_profile
from models.estimators import best_iteration, labels, model_inputs
from models.metrics import RANKING_METRICS, evaluate, top_metric_names
from models.report import write_plots
from models.split import Split, plan_split, split_rows
from models.tracking import (
    Promotion,
    fingerprint,
    flat_config,
    git_commit,
    promote_if_better,
    signature_columns,
    trusted_types,
    use_tracking_store,
)
from models.training import TrainedModel, train_candidates
from pipeline.config import Config, ConfigError, ModelConfig
from pipeline.featurize import CATALOGUE_FILE, FEATURES_FILE
from pipeline.io import atomic_directories, write_json
from pipeline.simulator.oracle import oracle_probability
from pipeline.stage import run_stage

log = logging.getLogger(__name__)

MODEL_DIR = "model"
PREDICTIONS_FILE = "predictions.parquet"
RUN_FILE = "run.json"
DRIFT_REFERENCE_FILE = "drift_reference.json"
REPORT_FILE = "train.json"
PLOTS_DIR = "train"
ORACLE = "oracle"
MODEL_REQUIREMENTS = ("scikit-learn", "lightgbm", "pandas", "numpy", "skops")


def split_features(cfg: Config) -> tuple[list[dict], Split, dict[str, pd.DataFrame]]:
    """The feature catalogue, the out-of-time split and the rows of each part."""
    features_dir = Path(cfg.paths.features_dir)
    rows = pd.read_parquet(features_dir / FEATURES_FILE)
    catalogue = json.loads((features_dir / CATALOGUE_FILE).read_text(encoding="utf-8"))
    labelled_cutoffs = list(rows.loc[rows[LABEL].notna(), "cutoff"].unique())
    split = plan_split(labelled_cutoffs, cfg.features.label.horizon_days, cfg.training.split)
    parts = split_rows(rows, split, cfg.training.split.calibration_share, cfg.seed)
    log.info("split: %s; rows %s", split.as_dict(), {k: len(v) for k, v in parts.items()})
    return catalogue, split, parts


def run(cfg: Config) -> None:
    _check_registry_metric(cfg)
    features_dir = Path(cfg.paths.features_dir)
    catalogue, split, parts = split_features(cfg)

    trained = train_candidates(
        _candidates(cfg), parts, catalogue, cfg.training.calibration, cfg.seed
    )
    main = trained[cfg.model.name]
    test = parts["test"]
    scores = {name: model.test_probability for name, model in trained.items()}
    oracle = oracle_probability(cfg, test)
    if oracle is not None:
        scores[ORACLE] = oracle
    evaluation = cfg.training.evaluation
    y = labels(test)
    metrics = {
        name: evaluate(y, p, evaluation.top_fractions, evaluation.calibration_bins)
        for name, p in scores.items()
    }
    for name, values in metrics.items():
        log.info(
            "%s on %s: ROC-AUC %.4f, PR-AUC %.4f",
            name,
            split.test_cutoff.date(),
            values["roc_auc"],
            values["pr_auc"],
        )

    reports_dir = Path(cfg.paths.reports_dir)
    with atomic_directories(Path(cfg.paths.models_dir), reports_dir / PLOTS_DIR) as (out, plots):
        predictions = out / PREDICTIONS_FILE
        _predictions(test, scores).to_parquet(predictions, index=False)
        write_plots(plots, y, scores, cfg.model.name, main.model, evaluation.calibration_bins)
        inputs = model_inputs(test, main.columns)
        signature = infer_signature(inputs, main.model.predict_proba(inputs))
        profile = reference_profile(
            model_inputs(parts["train"], main.columns), cfg.scoring.drift.bins
        )
        write_json(profile, out / DRIFT_REFERENCE_FILE)
        record = _track(
            cfg,
            split,
            trained,
            metrics,
            test,
            signature,
            plots,
            features_dir,
            predictions,
            out / DRIFT_REFERENCE_FILE,
        )
        mlflow.sklearn.save_model(
            main.model,
            out / MODEL_DIR,
            signature=signature,
            input_example=inputs.head(5),
            pip_requirements=_requirements(),
            skops_trusted_types=trusted_types(main.model),
            pyfunc_predict_fn="predict_proba",
        )
        write_json(record, out / RUN_FILE)
    write_json(_report(cfg, split, parts, metrics), reports_dir / REPORT_FILE)


def _candidates(cfg: Config) -> dict[str, ModelConfig]:
    """The main model, under its estimator name, then the baselines (a baseline named like
    the main model, as `rfm_rule` is under `model=rfm_rule`, is left out)."""
    if ORACLE in cfg.training.baselines:
        raise ConfigError(f"training.baselines: {ORACLE!r} is reserved; rename the baseline")
    baselines = {k: v for k, v in cfg.training.baselines.items() if k != cfg.model.name}
    return {cfg.model.name: cfg.model, **baselines}


def _check_registry_metric(cfg: Config) -> None:
    metric = cfg.training.registry.metric
    allowed = [*RANKING_METRICS, *top_metric_names(cfg.training.evaluation.top_fractions)]
    if metric not in allowed:
        raise ConfigError(
            f"training.registry.metric: {metric!r} is not a higher-is-better metric; "
            f"use one of {allowed}"
        )


def _predictions(test: pd.DataFrame, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = test[[*KEYS, "churn_definition", LABEL]].reset_index(drop=True)
    for name, probability in scores.items():
        frame[f"probability_{name}"] = probability.astype("float64")
    return frame


def _requirements() -> list[str]:
    return [f"{package}=={version(package)}" for package in MODEL_REQUIREMENTS]


def _track(
    cfg: Config,
    split: Split,
    trained: dict[str, TrainedModel],
    metrics: dict[str, dict[str, float]],
    test: pd.DataFrame,
    signature: ModelSignature,
    plots: Path,
    features_dir: Path,
    predictions: Path,
    drift_reference: Path,
) -> dict:
    """Log the run to MLflow, register the main model and move the alias if it wins."""
    tracking_uri = use_tracking_store(cfg.training.mlflow)
    registry = cfg.training.registry
    main_name = cfg.model.name
    main = trained[main_name]
    inputs = model_inputs(test, main.columns)
    with mlflow.start_run(run_name=main_name) as run:
        mlflow.log_params(flat_config(cfg))
        mlflow.log_dict(asdict(cfg), "config.yaml")
        mlflow.set_tags(
            {
                "git_commit": git_commit(),
                "data_fingerprint": fingerprint(
                    features_dir / FEATURES_FILE, features_dir / CATALOGUE_FILE
                ),
                "model": main_name,
                "test_cutoff": str(split.test_cutoff.date()),
                "validation_cutoff": str(split.validation_cutoff.date()),
                "promotion_rule": (
                    f"{registry.alias} moves when {registry.metric} on the test rows beats the "
                    f"champion's on the same rows by more than {registry.min_improvement}"
                ),
            }
        )
        mlflow.log_metrics(_mlflow_metrics(main_name, metrics, trained))
        mlflow.log_artifacts(str(plots), artifact_path="plots")
        mlflow.log_artifact(str(features_dir / CATALOGUE_FILE))
        mlflow.log_artifact(str(predictions))
        mlflow.log_dict(split.as_dict(), "split.json")
        mlflow.log_artifact(str(drift_reference))
        info = mlflow.sklearn.log_model(
            main.model,
            name="model",
            signature=signature,
            input_example=inputs.head(5),
            pip_requirements=_requirements(),
            skops_trusted_types=trusted_types(main.model),
            pyfunc_predict_fn="predict_proba",
            registered_model_name=registry.model_name,
        )
        version = str(info.registered_model_version)
        promotion = promote_if_better(
            MlflowClient(),
            registry,
            version,
            metrics[main_name][registry.metric],
            _champion_scorer(test, cfg),
        )
        mlflow.set_tags({f"promotion.{k}": str(v) for k, v in promotion.as_dict().items()})
    return _run_record(tracking_uri, run.info.run_id, registry.model_name, version, promotion)


def _champion_scorer(test: pd.DataFrame, cfg: Config) -> Callable[[str], float | None]:
    """Scores a registered model on this run's test rows with the registry metric; None
    when the rows lack a feature its signature needs."""
    y = labels(test)
    evaluation = cfg.training.evaluation

    def score(uri: str) -> float | None:
        columns = signature_columns(uri)
        if not columns or not set(columns) <= set(test.columns):
            return None
        probability = mlflow.sklearn.load_model(uri).predict_proba(model_inputs(test, columns))[
            :, 1
        ]
        return evaluate(y, probability, evaluation.top_fractions, evaluation.calibration_bins)[
            cfg.training.registry.metric
        ]

    return score


def _mlflow_metrics(
    main_name: str, metrics: dict[str, dict[str, float]], trained: dict[str, TrainedModel]
) -> dict[str, float]:
    """The main model's metrics under their own names; others as ``<model>.<metric>``."""
    flat = dict(metrics[main_name])
    for name, values in metrics.items():
        if name != main_name:
            flat.update({f"{name}.{metric}": value for metric, value in values.items()})
    if ORACLE in metrics:
        flat[f"{ORACLE}.gap_roc_auc"] = metrics[ORACLE]["roc_auc"] - metrics[main_name]["roc_auc"]
    for name, model in trained.items():
        flat[f"{name}.fit_seconds"] = model.seconds
        trees = best_iteration(model.model)
        if trees:
            flat[f"{name}.best_iteration"] = trees
    return flat


def _run_record(
    tracking_uri: str, run_id: str, model_name: str, version: str, promotion: Promotion
) -> dict:
    return {
        "tracking_uri": tracking_uri,
        "run_id": run_id,
        "registered_model": model_name,
        "version": version,
        "promotion": promotion.as_dict(),
    }


def _report(
    cfg: Config,
    split: Split,
    parts: dict[str, pd.DataFrame],
    metrics: dict[str, dict[str, float]],
) -> dict:
    """train.json: what `dvc metrics diff` compares across experiments."""
    return {
        "model": cfg.model.name,
        "split": {**split.as_dict(), "rows": {name: len(rows) for name, rows in parts.items()}},
        "metrics": {
            name: {k: round(v, 6) for k, v in values.items()} for name, values in metrics.items()
        },
    }


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
