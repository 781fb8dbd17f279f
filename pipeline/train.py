"""Stage `train`: fit the main model and the baselines out of time, evaluate, track and register.

Inputs: `paths.features_dir` (features and catalogue), `paths.btyd_dir` (BG/NBD's forecast)
and the validated tables (which tables there are; the stated churn reasons). The
main model (`model`) and the baselines (`training.baselines`) are fitted on the training
cutoffs, calibrated on held-out customers of the validation cutoff and scored on the test
cutoff (models/split.py); on snapshot data (`data.snapshot`) they are cross-validated
instead and scored out of fold (models/crossval.py). Where the data have stated churn
reasons (the `churn_reasons` table), the cause model (models/cause_model.py) is fitted on
the training cutoffs' churners that stated one, stopped early on the validation cutoff's
and measured against the test cutoff's. A baseline whose feature families the
data lack is left out. The BG/NBD model's P(no purchase in the horizon), which the `btyd`
stage forecast for the test rows (pipeline/btyd.py), is scored beside them. On simulated
data the oracle (simulator/oracle.py) is scored too, and the labels and every model's
scores are checked against true churn (`label_vs_truth`, `true_churn` in the report).

Outputs: `paths.models_dir` with the calibrated main model in MLflow format, the cause
model (if any), the
test-cutoff predictions of every model, the MLflow run and registry record and the
training rows' feature profile that scoring checks drift against (models/drift.py; file
names in pipeline/artifacts.py); `paths.train_report` (DVC metrics) and
`paths.train_plots` (DVC plots: curves as CSV, figures as PNG). The same metrics,
figures, config, data fingerprint, git commit and the split's parts (as MLflow datasets)
go to an MLflow run named after what it trained, and the model is registered as a new
version with a description. The registry alias does not move: `make promote` moves it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from contract.reasons import reason_causes
from features.columns import DEFINITION, KEYS, LABEL
from models.btyd import BGNBD, activity_reliability, forecast_of
from models.cause_model import DIGEST_TAG as CAUSE_DIGEST_TAG
from models.cause_model import CauseModel, fit_cause_model, stated_fit
from models.cause_model import digest as cause_model_digest
from models.config import ModelConfig
from models.crossval import CrossValidation, cross_validate
from models.drift import reference_profile
from models.estimators import best_iteration, feature_columns, labels, model_inputs
from models.figures import reliability_figure, training_plots
from models.fit import ORACLE, TrainedModel, candidate_models, prediction_table, train_candidates
from models.metrics import evaluate_models
from models.reasons import stated_causes
from models.split import Split, sample_stayers
from pipeline.artifacts import (
    BTYD_FORECAST,
    CATALOGUE,
    CAUSE_MODEL,
    DRIFT_REFERENCE,
    FEATURES,
    PREDICTIONS,
    RUN_RECORD,
    ground_truth_dir,
)
from pipeline.config import Config
from pipeline.feature_rows import read_labels, read_split
from pipeline.io import (
    atomic_directories,
    read_catalogue,
    read_feature_table,
    read_ground_truth,
    read_table,
    validated_paths,
    write_json,
    write_plots,
)
from pipeline.model_file import DIGEST_TAG
from pipeline.registry import ModelFormat, VersionDescription, register_version, save_model
from pipeline.stage import Timings, run_stage
from pipeline.tracking import (
    config_hash,
    fingerprint,
    log_datasets,
    log_training_run,
    run_name,
    training_run,
)
from simulator.oracle import (
    OBSERVABLE_ORACLE,
    observable_churn_probability,
    oracle_probability,
    true_churn_probability,
)
from simulator.truth import label_agreement, true_churn_ranking

log = logging.getLogger(__name__)


@dataclass
class Evaluated:
    """The split (or cross-validation), each part's rows, the fitted models and every
    model's test metrics (out of fold when cross-validated)."""

    split: Split | CrossValidation
    parts: dict[str, pd.DataFrame]
    trained: dict[str, TrainedModel]
    metrics: dict[str, dict[str, float]]
    # On simulated data: the labels and the risk scores against true churn.
    against_truth: dict[str, dict[str, dict[str, float]]]
    # The cause model of stated reasons (None without enough of them) and, out of time,
    # how well it names the causes stated on the test cutoff.
    cause_model: CauseModel | None
    cause_fit: dict[str, float | int]

    @property
    def test(self) -> pd.DataFrame:
        return self.parts["test"]


def run(cfg: Config) -> None:
    timings = Timings()
    catalogue = read_catalogue(cfg.paths.features_dir)
    candidates = candidate_models(cfg.model, cfg.training.baselines, catalogue)
    split, parts, trained, drift_reference = _fit(cfg, candidates, catalogue, timings)
    for name, model in trained.items():
        timings.seconds[f"fit {name}"] = round(model.seconds, 3)
    main, test = trained[cfg.model.name], parts["test"]
    scores = {name: model.test_probability for name, model in trained.items()}
    label = cfg.features.label
    with timings.step("BG/NBD"):
        bgnbd, reliability = _bgnbd(cfg, test)
    if bgnbd is not None:
        scores[BGNBD] = bgnbd
    with timings.step("against the truth"):
        scores, against_truth = _with_truth(cfg, test, scores)
    evaluation, y = cfg.training.evaluation, labels(test)
    metrics = evaluate_models(y, scores, evaluation.top_fractions, evaluation.calibration_bins)
    with timings.step("cause model"):
        cause_model, cause_fit = _cause_model(cfg, parts, main.columns)
    result = Evaluated(split, parts, trained, metrics, against_truth, cause_model, cause_fit)

    targets = (Path(cfg.paths.models_dir), Path(cfg.paths.train_plots))
    with atomic_directories(*targets) as (out, plots):
        with timings.step("plots"):
            prediction_table(test, scores).to_parquet(out / PREDICTIONS, index=False)
            bins = evaluation.calibration_bins
            tables, figures = training_plots(y, scores, cfg.model.name, main.model, bins)
            if reliability is not None:
                tables["activity_reliability"] = reliability
                figures["activity_reliability"] = reliability_figure(
                    reliability, label.horizon_days
                )
            write_plots(plots, tables, figures)
        form = ModelFormat.of(main.model, model_inputs(test, main.columns))
        write_json(drift_reference, out / DRIFT_REFERENCE)
        cause_digest = {}
        if cause_model is not None:
            (out / CAUSE_MODEL).write_text(cause_model.to_json(), encoding="utf-8")
            cause_digest = {CAUSE_DIGEST_TAG: cause_model_digest(out / CAUSE_MODEL)}
        with timings.step("track and register"):
            record = _track(cfg, result, form, out, plots, cause_digest)
            record[DIGEST_TAG] = save_model(main.model, form, out)
        record |= cause_digest
        # Where the stage spent its time: `make bench-train` reads it.
        record["seconds"] = timings.seconds
        write_json(record, out / RUN_RECORD)
    write_json(_report(cfg, result), Path(cfg.paths.train_report))


def _fit(
    cfg: Config, candidates: dict[str, ModelConfig], catalogue: list[dict], timings: Timings
) -> tuple[Split | CrossValidation, dict[str, pd.DataFrame], dict[str, TrainedModel], dict]:
    """Read the rows training needs, profile the training rows for drift checks, then fit
    and calibrate every candidate out of time (on the kept training rows, weighted: see
    ``training.max_training_rows``) or, on snapshot data, cross-validate them."""
    main_columns, bins = feature_columns(catalogue, cfg.model.families), cfg.training.drift_bins
    if cfg.data.snapshot is not None:
        with timings.step("read"):
            rows, _ = read_feature_table(cfg.paths.features_dir)
        with timings.step("drift reference"):
            drift_reference = reference_profile(rows.loc[rows[LABEL].notna(), main_columns], bins)
        return (
            *cross_validate(candidates, rows, catalogue, cfg.training, cfg.seed),
            drift_reference,
        )
    with timings.step("read"):
        split, parts = read_split(
            cfg.paths.features_dir,
            cfg.features.label.lookahead_days,
            cfg.training.split,
            cfg.seed,
            _columns_read(candidates, catalogue),
        )
    with timings.step("drift reference"):
        drift_reference = reference_profile(parts["train"][main_columns], bins)
    parts["train"], weight = sample_stayers(
        parts["train"], cfg.training.max_training_rows, cfg.seed
    )
    calibration = cfg.training.calibration
    trained = train_candidates(candidates, parts, catalogue, calibration, cfg.seed, weight)
    return split, parts, trained, drift_reference


def _columns_read(candidates: dict[str, ModelConfig], catalogue: list[dict]) -> list[str]:
    """The feature table's columns training needs: keys, definition, label and the
    features of every candidate, in catalogue order."""
    used = {
        name for cfg in candidates.values() for name in feature_columns(catalogue, cfg.families)
    }
    return [*KEYS, DEFINITION, LABEL, *(spec["name"] for spec in catalogue if spec["name"] in used)]


def _bgnbd(cfg: Config, test: pd.DataFrame) -> tuple[np.ndarray | None, pd.DataFrame | None]:
    """BG/NBD's P(no purchase in the horizon) for the test rows, from the forecast of the
    btyd stage, and its reliability per forecast decile. None without a transactions
    table; no reliability on snapshot data (the data end at the snapshot)."""
    if validated_paths(cfg.paths.validated_dir, cfg.data).get("transactions") is None:
        log.info("no transactions table: the BG/NBD baseline is left out")
        return None, None
    path = Path(cfg.paths.btyd_dir) / BTYD_FORECAST
    forecast = forecast_of(pd.read_parquet(path), test, str(path))
    if cfg.data.snapshot is not None:
        return forecast["p_no_purchase"].to_numpy(), None
    reliability = activity_reliability(
        forecast["expected_purchases"].to_numpy(),
        forecast["purchases_in_horizon"].to_numpy(),
        cfg.training.evaluation.calibration_bins,
    )
    return forecast["p_no_purchase"].to_numpy(), reliability


def _cause_model(
    cfg: Config, parts: dict[str, pd.DataFrame], columns: list[str]
) -> tuple[CauseModel | None, dict[str, float | int]]:
    """The cause model of the churners' stated reasons and its out-of-time fit to the
    test cutoff's (none on snapshot data, whose test rows are the training rows). None and
    no fit without a ``churn_reasons`` table or with too few reasons."""
    path = validated_paths(cfg.paths.validated_dir, cfg.data).get("churn_reasons")
    if path is None:
        log.info("no churn_reasons table: SHAP values name the causes")
        return None, {}
    names = list(cfg.causes)
    reasons = read_table(path)
    reasons["cause"] = reason_causes(reasons, dict(cfg.data.reason_causes), names)
    label = cfg.features.label
    window = label.horizon_days + label.confirmation_days  # what the label waits for

    def stated(rows: pd.DataFrame) -> pd.Series:
        return stated_causes(rows, reasons, window).where(rows[LABEL] == 1)

    validation = pd.concat([parts["early_stopping"], parts["calibration"]])
    model = fit_cause_model(
        (parts["train"], stated(parts["train"])),
        (validation, stated(validation)),
        columns,
        cfg.explain.cause_model,
        cfg.seed,
    )
    if model is None or cfg.data.snapshot is not None:
        return model, {}
    test = parts["test"]
    return model, stated_fit(model, test, stated(test), names, cfg.explain.top_causes)


def _with_truth(
    cfg: Config, test: pd.DataFrame, scores: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict]:
    """On simulated data, the scores with the oracle's, and how the labels of every
    labelled row and each model's test scores agree with true churn; the oracles there
    are the oracles of true churn, not of the label: one that knows who has already
    left, one that sees only what the data show. Elsewhere the scores and nothing."""
    truth_dir = ground_truth_dir(cfg.paths.ground_truth_dir, cfg.data)
    if truth_dir is None:
        return scores, {}
    truth, sim, label = read_ground_truth(truth_dir), cfg.simulator, cfg.features.label
    horizon = label.horizon_days
    oracle = oracle_probability(truth, test, sim, horizon, label.confirmation_days)
    models = dict(scores)
    models[ORACLE] = true_churn_probability(truth, test, horizon)
    models[OBSERVABLE_ORACLE] = observable_churn_probability(truth, test, sim, horizon)
    labelled = read_labels(cfg.paths.features_dir)
    return {**scores, ORACLE: oracle}, {
        "label_vs_truth": label_agreement(labelled, truth.customers, horizon),
        "true_churn": true_churn_ranking(test, models, truth.customers, horizon),
    }


def _track(
    cfg: Config,
    result: Evaluated,
    form: ModelFormat,
    out: Path,
    plots: Path,
    cause_digest: dict[str, str],
) -> dict:
    """Log the run to MLflow and register the main model, with the cause model (if any) as
    a file of the run whose digest the version's tags hold; returns the run record."""
    main_name, split = cfg.model.name, result.split
    features_dir = Path(cfg.paths.features_dir)
    described = {k: str(v) for k, v in split.as_dict().items() if not isinstance(v, list)}
    data_fingerprint = fingerprint(features_dir / FEATURES, features_dir / CATALOGUE)
    tags = {
        "data_fingerprint": data_fingerprint,
        "data": cfg.data.name,
        "model": main_name,
        "config_hash": config_hash(cfg),
        **described,
        **cause_digest,
    }
    name = run_name(cfg)
    described = _description(cfg, result, name, tags)
    with training_run(cfg.tracking, name) as (tracking_uri, run_id):
        files = [features_dir / CATALOGUE, out / PREDICTIONS, out / DRIFT_REFERENCE]
        files += [out / CAUSE_MODEL] if cause_digest else []
        flat = _flat_metrics(main_name, result.metrics, result.trained, result.against_truth)
        flat |= {f"cause_model.{name}": value for name, value in result.cause_fit.items()}
        # The run's description in the MLflow UI is the note tag.
        noted = {**tags, "mlflow.note.content": described.version}
        log_training_run(cfg, noted, flat, files, plots, split.as_dict())
        log_datasets(result.parts, features_dir / FEATURES, cfg.data.name, LABEL, data_fingerprint)
        version = register_version(
            result.trained[main_name].model,
            form,
            cfg.tracking.registry,
            name.replace(" ", "-"),
            described,
        )
    return {
        "tracking_uri": tracking_uri,
        "run_id": run_id,
        "run_name": name,
        "registered_model": cfg.tracking.registry.model_name,
        "version": version,
    }


def _description(
    cfg: Config, result: Evaluated, name: str, tags: dict[str, str]
) -> VersionDescription:
    """The registry's words for the model and this version: what it predicts, how it
    was trained and how it scored on the held-out rows."""
    label = cfg.features.label
    metrics = result.metrics[cfg.model.name]
    held_out = "out-of-fold" if isinstance(result.split, CrossValidation) else "test-cutoff"
    scores = ", ".join(
        f"{metric} {metrics[metric]:.4f}"
        for metric in ("roc_auc", "pr_auc", "lift_top_10pct")
        if metric in metrics
    )
    return VersionDescription(
        model=(
            f"Probability that a customer of {cfg.data.name!r} churns within "
            f"{label.horizon_days} days of the scoring date (contractual customers: a "
            f"cancellation; the others: no purchase, confirmed by {label.confirmation_days} "
            "more silent days). "
            f"Every `dvc repro` registers a version; the {cfg.tracking.registry.alias!r} "
            "alias, which scheduled scoring loads, moves only by `make promote`."
        ),
        version=f"{name}: {held_out} {scores} on {metrics['rows']:.0f} rows.",
        tags={**tags, **{metric: f"{metrics[metric]:.6f}" for metric in ("roc_auc", "pr_auc")}},
    )


def _flat_metrics(
    main_name: str,
    metrics: dict[str, dict[str, float]],
    trained: dict[str, TrainedModel],
    against_truth: dict[str, dict[str, dict[str, float]]],
) -> dict[str, float]:
    """The main model's metrics under their own names; others as ``<model>.<metric>``."""
    flat = dict(metrics[main_name])
    for name, values in metrics.items():
        if name != main_name:
            flat.update({f"{name}.{metric}": value for metric, value in values.items()})
    if ORACLE in metrics:
        flat[f"{ORACLE}.gap_roc_auc"] = metrics[ORACLE]["roc_auc"] - metrics[main_name]["roc_auc"]
    for check, by_definition in against_truth.items():
        for definition, values in by_definition.items():
            flat.update({f"{check}.{definition}.{k}": v for k, v in values.items()})
    for name, model in trained.items():
        flat[f"{name}.fit_seconds"] = model.seconds
        trees = best_iteration(model.model)
        if trees:
            flat[f"{name}.best_iteration"] = trees
    return flat


def _report(cfg: Config, result: Evaluated) -> dict:
    """The train report: what `dvc metrics diff` compares across experiments."""
    rows = {name: len(part) for name, part in result.parts.items()}
    return {
        "model": cfg.model.name,
        "split": {**result.split.as_dict(), "rows": rows},
        "metrics": {
            name: {k: round(v, 6) for k, v in values.items()}
            for name, values in result.metrics.items()
        },
        **{
            check: {
                definition: {k: round(v, 6) for k, v in values.items()}
                for definition, values in by_definition.items()
            }
            for check, by_definition in result.against_truth.items()
        },
        # Out of time, against the reasons churners of the test cutoff stated.
        "cause_model": {k: round(v, 6) for k, v in result.cause_fit.items()} or None,
    }


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
