"""Models as MLflow files and registry versions: saving, registering, promoting, loading.

Every train run registers its model as a new version of ``tracking.registry.model_name``;
the alias (``champion``) moves to it only when it beats the current champion on the same
rows. A scoring run uses the model ``scoring.model_source`` names: ``registry`` loads the
version the alias names (or the pinned ``scoring.model_version``) from the MLflow store;
``pipeline`` loads the train stage's output in ``paths.models_dir``, so ``dvc repro``
never depends on the state of the registry. Either way the model comes with the input
columns and types of its MLflow signature and the drift reference profile of its
training rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, get_model_info, infer_signature
from sklearn.calibration import CalibratedClassifierCV

from contract.errors import ConfigError
from pipeline.artifacts import DRIFT_REFERENCE, MODEL_DIR, RUN_RECORD
from pipeline.config import RegistryConfig, TrackingConfig
from pipeline.model_file import (
    DIGEST_TAG,
    TRUSTED_TYPES,
    UnsafeModel,
    digest,
    load_checked,
    load_registered,
    registered_digest,
    untrusted_types,
)
from pipeline.tracking import redacted, use_tracking_store
from scoring.errors import SchemaMismatch

log = logging.getLogger(__name__)

MODEL_REQUIREMENTS = ("scikit-learn", "lightgbm", "pandas", "numpy", "skops")


@dataclass(frozen=True)
class ModelFormat:
    """What MLflow stores with a model: its signature, an input example, the types skops
    must trust to load it and the requirements."""

    signature: ModelSignature
    input_example: pd.DataFrame

    @classmethod
    def of(cls, model: CalibratedClassifierCV, inputs: pd.DataFrame) -> ModelFormat:
        unknown = untrusted_types(model)
        if unknown:
            raise RuntimeError(
                f"the model holds types pipeline/model_file.py does not trust: {unknown}; "
                "add them to TRUSTED_TYPES if they are this pipeline's own"
            )
        signature = infer_signature(inputs, model.predict_proba(inputs))
        return cls(signature, inputs.head(5))

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "input_example": self.input_example,
            "pip_requirements": [f"{p}=={version(p)}" for p in MODEL_REQUIREMENTS],
            "serialization_format": "skops",
            "skops_trusted_types": list(TRUSTED_TYPES),
            "pyfunc_predict_fn": "predict_proba",
        }


def load_model(models_dir: Path) -> CalibratedClassifierCV:
    """The train stage's model in ``models_dir``, checked against the digest its run
    record holds (pipeline/model_file.py)."""
    record = json.loads((models_dir / RUN_RECORD).read_text(encoding="utf-8"))
    return load_checked(models_dir / MODEL_DIR, record.get(DIGEST_TAG))


def save_model(model: CalibratedClassifierCV, form: ModelFormat, models_dir: Path) -> str:
    """The model in MLflow format under ``models_dir``, for scoring from the pipeline;
    returns its file's SHA-256, for the run record."""
    mlflow.sklearn.save_model(model, models_dir / MODEL_DIR, **form.arguments)
    return digest(models_dir / MODEL_DIR)


def register_and_decide(
    model: CalibratedClassifierCV,
    form: ModelFormat,
    registry: RegistryConfig,
    score: float,
    champion_score: Callable[[str], float | None],
) -> tuple[str, Promotion]:
    """Log the model to the active run, register it as a new version and decide whether
    the alias should move to it: when its ``score`` beats the champion's,
    ``champion_score(model_uri)`` (``promotion_decision``). The alias itself moves later
    (``move_alias``), once every output of the run is written."""
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name=registry.model_name, **form.arguments
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    uri = f"models:/{registry.model_name}/{version}"
    client.set_model_version_tag(registry.model_name, version, DIGEST_TAG, registered_digest(uri))
    promotion = promotion_decision(client, registry, score, champion_score)
    mlflow.set_tags({f"promotion.{k}": str(v) for k, v in promotion.as_dict().items()})
    return version, promotion


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str
    champion_version: str | None
    champion_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promotion_decision(
    client: MlflowClient,
    registry: RegistryConfig,
    score: float,
    champion_score: Callable[[str], float | None],
) -> Promotion:
    """Whether a new version scoring ``score`` should take the alias: when it beats the
    champion's ``champion_score(model_uri)`` (on the same rows; None when the champion
    cannot read the current features) by more than the minimum improvement."""
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
    return decision


def move_alias(
    registry: RegistryConfig,
    version: str,
    decision: Promotion,
    client: MlflowClient | None = None,
) -> None:
    """Point the alias at ``version`` if ``decision`` says so: the last step of a train
    run, so that a run killed earlier never leaves the champion on unfinished outputs."""
    if decision.promoted:
        client = client or MlflowClient()
        client.set_registered_model_alias(registry.model_name, registry.alias, version)
    log.info(
        "alias %r %s version %s: %s",
        registry.alias,
        "moved to" if decision.promoted else "stays off",
        version,
        decision.reason,
    )


def recorded_metric(metric: str) -> Callable[[str], float | None]:
    """Reads a registered model's ``metric`` from the run that logged it (None if absent)."""

    def score(uri: str) -> float | None:
        run_id = get_model_info(uri).run_id
        return MlflowClient().get_run(run_id).data.metrics.get(metric)

    return score


def champion_scorer(
    score_rows: Callable[[CalibratedClassifierCV, list[str]], float | None],
) -> Callable[[str], float | None]:
    """Scores a registered model with ``score_rows(model, its input columns)``; None when
    the model has no signature or cannot be loaded safely (it is then replaced)."""

    def score(uri: str) -> float | None:
        signature = get_model_info(uri).signature
        if signature is None:
            return None
        columns = list(signature.inputs.input_names())
        try:
            model = _load_version(MlflowClient(), uri)
        except UnsafeModel as err:
            log.warning("the champion cannot be loaded safely, so it is replaced: %s", err)
            return None
        return score_rows(model, columns)

    return score


def _load_version(client: MlflowClient, uri: str) -> CalibratedClassifierCV:
    """A registered version ``models:/<name>/<version>``, checked against its digest tag."""
    name, _, number = uri.removeprefix("models:/").rpartition("/")
    expected = client.get_model_version(name, number).tags.get(DIGEST_TAG)
    return load_registered(uri, expected)


@dataclass
class ScoringModel:
    model: CalibratedClassifierCV
    name: str
    version: str
    run_id: str
    uri: str
    signature: ModelSignature
    drift_reference: dict

    @property
    def columns(self) -> list[str]:
        return list(self.signature.inputs.input_names())

    @property
    def input_types(self) -> dict[str, str]:
        """Each input column and the MLflow type the model expects (``double``, ``string``)."""
        return {spec.name: spec.type.name for spec in self.signature.inputs.inputs}

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id, "uri": self.uri}


def load_scoring_model(
    model_source: str, models_dir: Path, tracking: TrackingConfig, pinned: str | None
) -> ScoringModel:
    """The model ``model_source`` names, with its signature and drift reference."""
    if model_source == "pipeline":
        return _from_pipeline(models_dir)
    return _from_registry(tracking, pinned)


def _from_pipeline(models_dir: Path) -> ScoringModel:
    record_path = models_dir / RUN_RECORD
    if not record_path.exists():
        raise FileNotFoundError(f"no trained model in {models_dir}: run the train stage first")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    uri = str(models_dir / MODEL_DIR)
    reference = json.loads((models_dir / DRIFT_REFERENCE).read_text(encoding="utf-8"))
    return ScoringModel(
        load_model(models_dir),
        record["registered_model"],
        record["version"],
        record["run_id"],
        uri,
        _signature(uri),
        reference,
    )


def _from_registry(tracking: TrackingConfig, pinned: str | None) -> ScoringModel:
    use_tracking_store(tracking, tracking.training_experiment)
    registry = tracking.registry
    client = MlflowClient()
    try:
        if pinned is None:
            version = client.get_model_version_by_alias(registry.model_name, registry.alias)
        else:
            version = client.get_model_version(registry.model_name, str(pinned))
    except MlflowException as err:
        wanted = f"version {pinned}" if pinned else f"alias {registry.alias!r}"
        raise ConfigError(
            f"model registry: no {wanted} of model {registry.model_name!r} in "
            f"{redacted(mlflow.get_tracking_uri())}; train one (dvc repro) or fix "
            "scoring.model_version"
        ) from err
    uri = f"models:/{registry.model_name}/{version.version}"
    try:
        reference = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/{DRIFT_REFERENCE}")
    except MlflowException as err:
        raise ConfigError(
            f"{uri} has no {DRIFT_REFERENCE} (trained before drift checks existed); "
            "retrain it, or pin a newer version with scoring.model_version"
        ) from err
    log.info("model %s (run %s)", uri, version.run_id)
    return ScoringModel(
        load_registered(uri, version.tags.get(DIGEST_TAG)),
        registry.model_name,
        str(version.version),
        version.run_id,
        uri,
        _signature(uri),
        reference,
    )


def _signature(uri: str) -> ModelSignature:
    signature = get_model_info(uri).signature
    if signature is None:
        raise SchemaMismatch(f"{uri} has no signature: the features cannot be checked")
    return signature
