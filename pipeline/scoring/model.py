"""The model a scoring run uses, what it expects as input, and the check that it gets it.

``scoring.model_source`` chooses it: ``registry`` loads the version the registry alias
names (or the pinned ``scoring.model_version``) from the MLflow store; ``pipeline``
loads the train stage's output in ``paths.models_dir``, so ``dvc repro`` never depends on
the state of the registry. Either way the model comes with its MLflow signature (the
input columns and types it was trained on) and the drift reference profile of its
training rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, get_model_info
from sklearn.calibration import CalibratedClassifierCV

from models.tracking import use_tracking_store
from pipeline.config import Config, ConfigError
from pipeline.scoring import SchemaMismatch
from pipeline.train import DRIFT_REFERENCE_FILE, MODEL_DIR, RUN_FILE

log = logging.getLogger(__name__)

NUMERIC_TYPES = ("double", "float", "long", "integer", "boolean")


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

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id, "uri": self.uri}


def load_scoring_model(cfg: Config) -> ScoringModel:
    """The model ``scoring.model_source`` names, with its signature and drift reference."""
    if cfg.scoring.model_source == "pipeline":
        return _from_pipeline(Path(cfg.paths.models_dir))
    return _from_registry(cfg)


def _from_pipeline(models_dir: Path) -> ScoringModel:
    record_path = models_dir / RUN_FILE
    if not record_path.exists():
        raise FileNotFoundError(f"no trained model in {models_dir}: run the train stage first")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    uri = str(models_dir / MODEL_DIR)
    reference = json.loads((models_dir / DRIFT_REFERENCE_FILE).read_text(encoding="utf-8"))
    return ScoringModel(
        mlflow.sklearn.load_model(uri),
        record["registered_model"],
        record["version"],
        record["run_id"],
        uri,
        _signature(uri),
        reference,
    )


def _from_registry(cfg: Config) -> ScoringModel:
    use_tracking_store(cfg.training.mlflow)
    registry, pinned = cfg.training.registry, cfg.scoring.model_version
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
            f"{mlflow.get_tracking_uri()}; train one (dvc repro) or fix scoring.model_version"
        ) from err
    uri = f"models:/{registry.model_name}/{version.version}"
    try:
        reference = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/{DRIFT_REFERENCE_FILE}")
    except MlflowException as err:
        raise ConfigError(
            f"{uri} has no {DRIFT_REFERENCE_FILE} (trained before drift checks existed); "
            "retrain it, or pin a newer version with scoring.model_version"
        ) from err
    log.info("model %s (run %s)", uri, version.run_id)
    return ScoringModel(
        mlflow.sklearn.load_model(uri),
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


def check_schema(rows: pd.DataFrame, signature: ModelSignature) -> list[str]:
    """Fail when ``rows`` lack a column the model's signature names or have it with an
    incompatible type; return the columns the model does not use (dropped by scoring)."""
    expected = {spec.name: spec.type.name for spec in signature.inputs.inputs}
    missing = [name for name in expected if name not in rows]
    wrong = [
        f"{name} ({rows[name].dtype}, model expects {kind})"
        for name, kind in expected.items()
        if name in rows and _numeric(rows[name]) != (kind in NUMERIC_TYPES)
    ]
    problems = [f"missing {missing}"] if missing else []
    problems += [f"wrong type {wrong}"] if wrong else []
    if problems:
        raise SchemaMismatch(
            f"the features do not match the model's signature: {'; '.join(problems)}. "
            "Retrain the model on the current features, or score with the model version "
            "that matches them (scoring.model_version)"
        )
    return [name for name in rows.columns if name not in expected]


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
