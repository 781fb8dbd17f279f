"""Models as MLflow files and registry versions: saving, registering, promoting, loading.

Every train run registers its model as a new version of ``tracking.registry.model_name``,
with a description and tags; the alias (``champion``) moves only by ``make promote``
(pipeline/promote.py), never as a side effect of training. A scoring run uses the
model ``scoring.model_source`` names: ``registry`` loads the version the alias names
(or the pinned ``scoring.model_version``) from the MLflow store;
``pipeline`` loads the train stage's output in ``paths.models_dir``, so ``dvc repro``
never depends on the state of the registry. Either way the model comes with the input
columns and types of its MLflow signature, the drift reference profile of its
training rows and, where the data had stated churn reasons, the cause model trained with
it (a file of the same run, checked against the digest recorded at training).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
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
from models.cause_model import DIGEST_TAG as CAUSE_DIGEST_TAG
from models.cause_model import CauseModel
from models.cause_model import digest as cause_model_digest
from pipeline.artifacts import CAUSE_MODEL, DRIFT_REFERENCE, MODEL_DIR, RUN_RECORD
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
from pipeline.tracking import frame_schema, redacted, use_tracking_store
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
        example = inputs.head(5)
        outputs = infer_signature(example, model.predict_proba(example)).outputs
        return cls(ModelSignature(frame_schema(inputs), outputs), example)

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


def load_cause_model(models_dir: Path) -> CauseModel | None:
    """The cause model trained with the model in ``models_dir``, checked against the digest
    its run record holds; None if it was trained without one."""
    record = json.loads((models_dir / RUN_RECORD).read_text(encoding="utf-8"))
    return _checked_cause_model(models_dir / CAUSE_MODEL, record.get(CAUSE_DIGEST_TAG))


def _checked_cause_model(path: Path, expected_digest: str | None) -> CauseModel | None:
    if expected_digest is None:
        return None
    actual = cause_model_digest(path) if path.is_file() else "missing"
    if actual != expected_digest:
        raise UnsafeModel(
            f"{path}: SHA-256 {actual[:12]}... is not the {expected_digest} recorded at "
            "training; the file was changed, replaced or removed. Retrain (dvc repro) or restore it"
        )
    return CauseModel.from_json(path.read_text(encoding="utf-8"))


def save_model(model: CalibratedClassifierCV, form: ModelFormat, models_dir: Path) -> str:
    """The model in MLflow format under ``models_dir``, for scoring from the pipeline;
    returns its file's SHA-256, for the run record."""
    mlflow.sklearn.save_model(model, models_dir / MODEL_DIR, **form.arguments)
    return digest(models_dir / MODEL_DIR)


def register_version(
    model: CalibratedClassifierCV,
    form: ModelFormat,
    registry: RegistryConfig,
    logged_name: str,
    described: VersionDescription,
) -> str:
    """Log the model to the active run as ``logged_name``, register it as a new version of
    ``registry.model_name`` with its description and tags, and return the version. The
    alias does not move: only ``make promote`` moves it (pipeline/promote.py)."""
    info = mlflow.sklearn.log_model(
        model, name=logged_name, registered_model_name=registry.model_name, **form.arguments
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    uri = f"models:/{registry.model_name}/{version}"
    client.update_registered_model(registry.model_name, described.model)
    client.update_model_version(registry.model_name, version, described.version)
    tags = {**described.tags, DIGEST_TAG: registered_digest(uri)}
    for key, value in tags.items():
        client.set_model_version_tag(registry.model_name, version, key, value)
    return version


@dataclass(frozen=True)
class VersionDescription:
    """What the registry shows: the registered model's description, and a version's."""

    model: str
    version: str
    tags: dict[str, str]


def champion_version(registry: RegistryConfig) -> str | None:
    """The version the alias names, or None before the first promotion."""
    try:
        champion = MlflowClient().get_model_version_by_alias(registry.model_name, registry.alias)
        return str(champion.version)
    except MlflowException:
        return None


def move_alias(registry: RegistryConfig, version: str) -> None:
    """Point the alias at ``version`` (``make promote`` only, once its decision is recorded)."""
    MlflowClient().set_registered_model_alias(registry.model_name, registry.alias, version)
    log.info("alias %r moved to version %s", registry.alias, version)


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
    cause_model: CauseModel | None

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
        load_cause_model(models_dir),
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
            f"{redacted(mlflow.get_tracking_uri())}; train one (dvc repro) and promote it "
            "(make promote), or fix scoring.model_version"
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
        _registered_cause_model(version.run_id, version.tags.get(CAUSE_DIGEST_TAG)),
    )


def _registered_cause_model(run_id: str, expected_digest: str | None) -> CauseModel | None:
    """The cause model logged with a registered version's run, checked against the digest
    its version tags hold; None for a version trained without one."""
    if expected_digest is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        local = mlflow.artifacts.download_artifacts(
            f"runs:/{run_id}/{CAUSE_MODEL}", dst_path=scratch
        )
        return _checked_cause_model(Path(local), expected_digest)


def _signature(uri: str) -> ModelSignature:
    signature = get_model_info(uri).signature
    if signature is None:
        raise SchemaMismatch(f"{uri} has no signature: the features cannot be checked")
    return signature
