"""MLflow tracking: where runs go, what identifies them, and what each stage logs.

Every MLflow call of the pipeline lives here and in ``pipeline.registry`` (the model
registry and model files); the logic packages never import MLflow. The tracking store is
the local SQLite file of ``tracking.tracking_uri`` (under the repository, git-ignored)
unless ``MLFLOW_TRACKING_URI`` is set, e.g. to a shared server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.types import ColSpec, Schema
from mlflow.types.utils import _infer_schema
from pandas.errors import Pandas4Warning

from models.comparison import Decision
from pipeline.config import Config, TrackingConfig
from pipeline.io import process_alive

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"
SCHEMA_ROWS = 1000  # rows a logged dataset's schema is inferred from
PROCESS_HOST, PROCESS_PID = "process.host", "process.pid"
PARAM_NAME_FORBIDDEN = re.compile(r"[^\w\-. :/]")


# The MLflow UI shows an experiment of this kind in its model-training view (runs,
# metrics, models), not the GenAI view (traces) it otherwise guesses.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
MODEL_TRAINING_VIEW = "workflowType=machine_learning"


def use_tracking_store(cfg: TrackingConfig, experiment: str) -> str:
    """Point MLflow at the configured store (or ``MLFLOW_TRACKING_URI``) and ``experiment``.

    A local SQLite store keeps its artifacts in ``artifacts/`` next to the database file,
    so one folder holds the whole store wherever the pipeline runs from.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    artifacts = None
    if uri.startswith(SQLITE):
        store = Path(uri.removeprefix(SQLITE)).resolve().parent
        store.mkdir(parents=True, exist_ok=True)
        artifacts = (store / "artifacts").as_uri()
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    mlflow.set_experiment_tags(EXPERIMENT_KIND)
    fail_abandoned_runs()
    return redacted(uri)


def _process_tags() -> dict[str, str]:
    """Which process a run belongs to, so a later start can tell that it was killed."""
    return {PROCESS_HOST: socket.gethostname(), PROCESS_PID: str(os.getpid())}


def fail_abandoned_runs() -> list[str]:
    """Mark FAILED the runs of the store still RUNNING although the process that started
    them on this machine is gone (killed), in every experiment (a killed scoring run is
    found by the next training run too); returns their ids."""
    client = MlflowClient()
    host = socket.gethostname()
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    abandoned = [
        run.info.run_id
        for run in client.search_runs(experiments, "attributes.status = 'RUNNING'")
        if run.data.tags.get(PROCESS_HOST) == host
        and not process_alive(run.data.tags.get(PROCESS_PID, ""))
    ]
    for run_id in abandoned:
        client.set_terminated(run_id, "FAILED")
        log.warning("MLflow run %s was left RUNNING by a killed process: marked FAILED", run_id)
    return abandoned


def redacted(uri: str) -> str:
    """``uri`` without the password of its user information, for anything logged, written
    or tagged: ``https://ann:secret@host`` -> ``https://ann:***@host``. Pass credentials as
    MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD instead (README, MLflow)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def public_config(cfg: Config) -> dict[str, Any]:
    """The whole configuration as a dict, with the tracking URI's password redacted."""
    config = asdict(cfg)
    config["tracking"]["tracking_uri"] = redacted(cfg.tracking.tracking_uri)
    return config


def flat_config(cfg: Config) -> dict[str, Any]:
    """The whole configuration as ``section.key`` → value, for MLflow params.

    Characters MLflow refuses in a name (the ``*`` of cause patterns) become ``_``; the
    run's ``config.yaml`` artifact has the exact keys.
    """
    flat = pd.json_normalize(public_config(cfg), sep=".").iloc[0].to_dict()
    return {PARAM_NAME_FORBIDDEN.sub("_", key): value for key, value in flat.items()}


# What the stages themselves write into tracked files (the DVC lock and the reports): a
# difference there says a stage ran, not that the code or configuration differ.
PIPELINE_WRITTEN = (":(exclude)dvc.lock", ":(exclude)reports")


def git_commit(repo: Path = Path()) -> str:
    """The checked-out commit, marked ``-dirty`` when tracked code or configuration differ
    (not the lock and reports the stages write); or ``unknown``."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = _git(
            repo, "status", "--porcelain", "--untracked-files=no", "--", ".", *PIPELINE_WRITTEN
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def fingerprint(*paths: Path) -> str:
    """SHA-256 over the bytes of ``paths``: which data a model was trained and scored on."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def config_hash(cfg: Config) -> str:
    """Eight hex digits of the configuration but where outputs and runs go (``paths``,
    ``tracking``): runs with the same name were trained with the same settings."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("paths", "tracking")}
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def run_name(cfg: Config) -> str:
    """What a train run trained: ``<dataset> <model> <config hash>``."""
    return f"{cfg.data.name} {cfg.model.name} {config_hash(cfg)}"


def ui_link(cfg: TrackingConfig, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI page of an experiment (or one of its runs), in the model-training
    view: on the configured ``ui_url`` for a local store, on the server itself otherwise."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    base = uri if uri.startswith(("http://", "https://")) else cfg.ui_url
    page = f"{redacted(base).rstrip('/')}/#/experiments/{experiment_id}"
    if run_id is not None:
        page += f"/runs/{run_id}"
    return f"{page}?{MODEL_TRAINING_VIEW}"


@contextmanager
def training_run(cfg: TrackingConfig, name: str) -> Iterator[tuple[str, str]]:
    """An MLflow run of the training experiment; yields the tracking URI and run id and,
    at the end, logs the run's page."""
    uri = use_tracking_store(cfg, cfg.training_experiment)
    with mlflow.start_run(run_name=name, tags=_process_tags()) as run:
        yield uri, run.info.run_id
    log.info("MLflow run %r: %s", name, ui_link(cfg, run.info.experiment_id, run.info.run_id))


def frame_schema(rows: pd.DataFrame) -> Schema:
    """MLflow's schema of ``rows``: each column's type inferred from the first rows, and
    required unless some row misses it. MLflow's own inference visits every value in
    Python: 111 of the 209 s of the train stage at 100k customers."""
    with warnings.catch_warnings():
        # Ids are integers and never missing: MLflow's hint that integers cannot be is noise.
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
        # The inference PandasDataset itself uses (infer_signature gives up on datetimes).
        sampled = _infer_schema(rows.head(SCHEMA_ROWS))
    missing = rows.isna().any()
    return Schema(
        [ColSpec(spec.type, spec.name, required=not missing[spec.name]) for spec in sampled]
    )


class _FeatureRows(PandasDataset):
    """Rows of the feature table as an MLflow dataset, with ``frame_schema``."""

    @cached_property
    def schema(self) -> Schema:
        return frame_schema(self.df)


def log_datasets(
    parts: dict[str, pd.DataFrame], source: Path, name: str, target: str, digest: str
) -> None:
    """Each part of the split as an MLflow dataset input of the active run (context: the
    part), sourced from the feature table and tagged with the table's fingerprint."""
    for context, rows in parts.items():
        with warnings.catch_warnings():
            # MLflow registers its local-file source class for two URI schemes ("" and
            # "file") and warns that a path matches both; either is the same class. Its
            # digest calls a pandas function with positional arguments pandas 3 deprecates.
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
            warnings.filterwarnings("ignore", category=Pandas4Warning, module="mlflow.data")
            dataset = _FeatureRows(
                rows,
                source=resolve_dataset_source(str(source.resolve())),
                targets=target,
                name=f"{name}-{context}",
                # The table's fingerprint stands for the rows: MLflow's digest maps every
                # value of the part through Python.
                digest=hashlib.sha256(f"{digest}:{context}:{len(rows)}".encode()).hexdigest()[:8],
            )
        mlflow.log_input(dataset, context=context, tags={"data_fingerprint": digest})


def log_training_run(
    cfg: Config,
    tags: dict[str, str],
    metrics: dict[str, float],
    artifacts: list[Path],
    plots: Path,
    split: dict,
) -> None:
    """Everything a train run records besides the model: the whole config (as params and
    as ``config.yaml``), identifying tags, metrics, the plots and the given files."""
    mlflow.log_params(flat_config(cfg))
    mlflow.log_dict(public_config(cfg), "config.yaml")
    mlflow.set_tags({"git_commit": git_commit(), **tags})
    mlflow.log_metrics(metrics)
    mlflow.log_artifacts(str(plots), artifact_path="plots")
    for path in artifacts:
        mlflow.log_artifact(str(path))
    mlflow.log_dict(split, "split.json")


def log_explanations(
    cfg: TrackingConfig, run_id: str, report: dict, speed: dict[str, float], plots: Path
) -> None:
    """Add the explanation metrics, their speed and figures to the model's MLflow run."""
    use_tracking_store(cfg, cfg.training_experiment)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(_explain_metrics(report))
        mlflow.log_metrics({f"explain.{name}": value for name, value in speed.items()})
        mlflow.set_tags(
            {"explain.scale": report["scale"], "explain.causes_named_by": report["causes_named_by"]}
        )
        mlflow.log_artifacts(str(plots), artifact_path="explain")


def _explain_metrics(report: dict) -> dict[str, float]:
    metrics = {f"explain.{name}": report[name] for name in ("rows", "max_additivity_error")}
    for group, subsets in (report["fidelity"] or {}).items():
        for subset, values in subsets.items():
            prefix = f"explain.fidelity.{group}.{subset}"
            for name, value in values.items():
                if name == "recall":
                    metrics |= {f"{prefix}.recall.{cause}": v for cause, v in value.items()}
                elif name != "rows" and isinstance(value, float):
                    metrics[f"{prefix}.{name}"] = value
    return metrics


@contextmanager
def scoring_run(cfg: TrackingConfig, as_of: str, model: dict[str, str]) -> Iterator[str]:
    """An MLflow run of the scoring experiment for the lists as of ``as_of``, tagged with
    the model it uses; yields the run id."""
    use_tracking_store(cfg, cfg.scoring_experiment)
    with mlflow.start_run(run_name=f"score {as_of}", tags=_process_tags()) as run:
        mlflow.set_tags({"as_of": as_of, **{f"model.{k}": v for k, v in model.items()}})
        yield run.info.run_id


@contextmanager
def tuning_run(cfg: TrackingConfig, metric: str) -> Iterator[None]:
    """The parent MLflow run of a hyperparameter search scored on ``metric``."""
    use_tracking_store(cfg, cfg.training_experiment)
    with mlflow.start_run(run_name="tune", tags=_process_tags()):
        mlflow.set_tag("validation_metric", metric)
        yield


@contextmanager
def trial_run(number: int) -> Iterator[None]:
    """A trial's MLflow run, nested under the search's."""
    with mlflow.start_run(run_name=f"trial {number}", nested=True, tags=_process_tags()):
        yield


def log_params(params: dict[str, Any]) -> None:
    mlflow.log_params(params)


def log_metrics(metrics: dict[str, float]) -> None:
    mlflow.log_metrics(metrics)


def log_metric(name: str, value: float) -> None:
    mlflow.log_metric(name, value)


def log_artifact(path: Path) -> None:
    mlflow.log_artifact(str(path))


def log_scoring_run(manifest: dict, files: list[Path]) -> None:
    """The counts, value and timings of a scoring run, and its manifest and drift report."""
    counts, value = manifest["counts"], manifest["value"]
    metrics = {
        "scored": counts["scored"],
        "listed": counts["listed"],
        **{f"excluded.{k}": v for k, v in counts["excluded_by_reason"].items()},
        **{f"listed.{k}": v for k, v in counts["listed_by_tier"].items()},
        **{k: v for k, v in value.items() if k != "tier_thresholds"},
        **{f"seconds.{k}": v for k, v in manifest["timings"].items()},
    }
    mlflow.log_metrics(metrics)
    mlflow.log_params({"as_of": manifest["as_of"], "model_source": manifest["model"]["source"]})
    mlflow.set_tag("data_fingerprint", manifest["data_fingerprint"])
    for path in files:
        mlflow.log_artifact(str(path))


def run_tags(run_id: str) -> dict[str, str]:
    return MlflowClient().get_run(run_id).data.tags


def run_artifact(run_id: str, name: str) -> str:
    """A local copy of a run's artifact ``name``."""
    return mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name)


PROMOTION_COLUMNS = {
    "start_time": "when",
    "tags.decision": "decision",
    "params.candidate_version": "candidate",
    "params.champion_version": "champion",
    "params.metric": "metric",
    "metrics.candidate": "candidate_score",
    "metrics.champion": "champion_score",
    "metrics.lower_bound": "lower_bound",
    "params.min_improvement": "margin",
    "tags.reason": "reason",
}


def record_promotion(cfg: TrackingConfig, decision: Decision) -> str:
    """One run of the promotion experiment with a ``make promote`` decision and its
    evidence; returns the run id. The candidate version is tagged with it."""
    use_tracking_store(cfg, cfg.promotion_experiment)
    rule = cfg.promotion
    name = f"v{decision.candidate} over v{decision.champion or '-'}"
    with mlflow.start_run(run_name=name, tags=_process_tags()) as run:
        mlflow.log_params(
            {
                "candidate_version": decision.candidate,
                "champion_version": decision.champion or "",
                "metric": rule.metric,
                "min_improvement": rule.min_improvement,
                "confidence": rule.confidence,
                "bootstrap_samples": rule.bootstrap_samples,
                "held_out": decision.held_out,
            }
        )
        mlflow.set_tags(
            {
                "decision": "promoted" if decision.promoted else "kept",
                "reason": decision.reason,
                "model": cfg.registry.model_name,
                "alias": cfg.registry.alias,
                "git_commit": git_commit(),
            }
        )
        if decision.comparison is not None:
            evidence = decision.comparison.as_dict()
            mlflow.log_metrics({k: v for k, v in evidence.items() if isinstance(v, (int, float))})
    MlflowClient().set_model_version_tag(
        cfg.registry.model_name, decision.candidate, "promotion_run", run.info.run_id
    )
    log.info("decision recorded: %s", ui_link(cfg, run.info.experiment_id, run.info.run_id))
    return run.info.run_id


def promotion_history(cfg: TrackingConfig) -> pd.DataFrame:
    """Every recorded ``make promote`` decision, newest first (an empty table before any)."""
    use_tracking_store(cfg, cfg.promotion_experiment)
    runs = mlflow.search_runs(experiment_names=[cfg.promotion_experiment])
    if runs.empty:
        return pd.DataFrame(columns=list(PROMOTION_COLUMNS.values()))
    present = [column for column in PROMOTION_COLUMNS if column in runs.columns]
    return runs[present].rename(columns=PROMOTION_COLUMNS).reset_index(drop=True)


def experiment_id(name: str) -> str:
    return mlflow.get_experiment_by_name(name).experiment_id
