"""MLflow: where runs go, what identifies them, and when the registry alias moves.

The tracking store is the local SQLite file of ``training.mlflow.tracking_uri`` (under the
repository, git-ignored) unless ``MLFLOW_TRACKING_URI`` is set, e.g. to a shared server.
Every training run registers its model as a new version of ``registry.model_name``; the
alias (``champion``) moves to it only when it beats the current champion on the same rows.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import skops.io
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, get_model_info

from pipeline.config import Config, MlflowConfig, RegistryConfig

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"
PARAM_NAME_FORBIDDEN = re.compile(r"[^\w\-. :/]")


def use_tracking_store(cfg: MlflowConfig) -> str:
    """Point MLflow at the configured store (or ``MLFLOW_TRACKING_URI``) and experiment.

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
    if mlflow.get_experiment_by_name(cfg.experiment) is None:
        mlflow.create_experiment(cfg.experiment, artifact_location=artifacts)
    mlflow.set_experiment(cfg.experiment)
    return uri


def flat_config(cfg: Config) -> dict[str, Any]:
    """The whole configuration as ``section.key`` → value, for MLflow params.

    Characters MLflow refuses in a name (the ``*`` of cause patterns) become ``_``; the
    run's ``config.yaml`` artifact has the exact keys.
    """
    flat = pd.json_normalize(asdict(cfg), sep=".").iloc[0].to_dict()
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


def trusted_types(model: object) -> list[str]:
    """Types skops must trust to load ``model`` (our own freshly built object)."""
    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def signature_columns(model_uri: str) -> list[str]:
    """The input columns a logged model's signature names (empty without a signature)."""
    signature: ModelSignature | None = get_model_info(model_uri).signature
    return [] if signature is None else list(signature.inputs.input_names())


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str
    champion_version: str | None
    champion_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote_if_better(
    client: MlflowClient,
    registry: RegistryConfig,
    version: str,
    score: float,
    champion_score: Callable[[str], float | None],
) -> Promotion:
    """Move the alias to ``version`` when its ``score`` beats the champion's.

    ``champion_score(model_uri)`` scores the current champion on the same rows as
    ``score``, or returns None when the champion cannot read the current features.
    """
    try:
        champion = client.get_model_version_by_alias(registry.model_name, registry.alias)
    except MlflowException:
        champion = None
    if champion is None:
        decision = Promotion(True, "no champion yet", None, None)
    else:
        champion_version = str(champion.version)
        uri = f"models:/{registry.model_name}/{champion_version}"
        previous = champion_score(uri)
        if previous is None:
            decision = Promotion(
                True, "champion cannot score the current features", champion_version, None
            )
        elif score > previous + registry.min_improvement:
            decision = Promotion(
                True,
                f"{registry.metric} {score:.4f} beats {previous:.4f} + {registry.min_improvement}",
                champion_version,
                previous,
            )
        else:
            decision = Promotion(
                False,
                f"{registry.metric} {score:.4f} does not beat {previous:.4f} + "
                f"{registry.min_improvement}",
                champion_version,
                previous,
            )
    if decision.promoted:
        client.set_registered_model_alias(registry.model_name, registry.alias, version)
    log.info(
        "alias %r %s version %s: %s",
        registry.alias,
        "moved to" if decision.promoted else "stays off",
        version,
        decision.reason,
    )
    return decision
