"""MLflow tracking: where runs go, what identifies them, and what each stage logs.

Every MLflow call of the pipeline lives here and in ``pipeline.registry`` (the model
registry and model files); the logic packages never import MLflow. The tracking store is
the local SQLite file of ``tracking.tracking_uri`` (under the repository, git-ignored)
unless ``MLFLOW_TRACKING_URI`` is set, e.g. to a shared server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import pandas as pd
from mlflow import MlflowClient

from pipeline.config import Config, TrackingConfig
from pipeline.io import process_alive

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"
PROCESS_HOST, PROCESS_PID = "process.host", "process.pid"
PARAM_NAME_FORBIDDEN = re.compile(r"[^\w\-. :/]")


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


def git_commit(repo: Path = Path()) -> str:
    """The checked-out commit, marked ``-dirty`` when tracked files differ; or ``unknown``."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
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


@contextmanager
def training_run(cfg: TrackingConfig, name: str) -> Iterator[tuple[str, str]]:
    """An MLflow run of the training experiment; yields the tracking URI and run id."""
    uri = use_tracking_store(cfg, cfg.training_experiment)
    with mlflow.start_run(run_name=name, tags=_process_tags()) as run:
        yield uri, run.info.run_id


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


def log_explanations(cfg: TrackingConfig, run_id: str, report: dict, plots: Path) -> None:
    """Add the explanation metrics and figures to the model's MLflow run."""
    use_tracking_store(cfg, cfg.training_experiment)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(_explain_metrics(report))
        mlflow.set_tag("explain.scale", report["scale"])
        mlflow.log_artifacts(str(plots), artifact_path="explain")


def _explain_metrics(report: dict) -> dict[str, float]:
    metrics = {
        f"explain.{name}": report[name]
        for name in ("rows", "max_additivity_error", "rows_per_second")
    }
    for group, subsets in (report["fidelity"] or {}).items():
        for subset, values in subsets.items():
            for name in ("agreement", "most_frequent_guess"):
                if name in values:
                    metrics[f"explain.fidelity.{group}.{subset}.{name}"] = values[name]
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
