"""Loading a model file without letting it run code.

MLflow loads whatever serialization its ``MLmodel`` file names, pickle included, and a
skops file lists the types it wants trusted. Scoring and explaining read model folders
that anyone with write access to ``data/models`` or the MLflow store could replace, so
they load only:

- skops files (never pickle), whatever ``MLmodel`` says otherwise;
- holding no type beyond those skops trusts and ``TRUSTED_TYPES``, a list fixed here in
  the code, never read from the artifact;
- whose SHA-256 equals the digest recorded when the model was trained (``run.json`` for
  the train stage's folder, the ``model_sha256`` tag of a registered version).

Anything else is refused with ``UnsafeModel`` before a byte of it is deserialised.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import mlflow
import skops.io
import yaml
from sklearn.calibration import CalibratedClassifierCV

from contract.errors import UserError

# Types beyond skops' defaults that the models this pipeline fits hold
# (models/estimators.py: LightGBM, the logistic regression pipeline, the RFM rule, each
# calibrated). A model needing another type is refused; a new estimator must be added
# here deliberately (tests/logic/test_model_file.py checks every estimator fits the list).
TRUSTED_TYPES = (
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "models.estimators.RFMRule",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)
DIGEST_TAG = "model_sha256"


class UnsafeModel(UserError):
    """A model folder that could run code or is not the one recorded at training."""


def untrusted_types(model: CalibratedClassifierCV) -> list[str]:
    """The types of ``model`` beyond skops' defaults that ``TRUSTED_TYPES`` does not list."""
    needed = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return sorted(set(needed) - set(TRUSTED_TYPES))


def model_file(model_dir: Path) -> Path:
    """The skops file of an MLflow model folder; UnsafeModel for any other format."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.exists():
        raise UnsafeModel(f"{model_dir}: no MLmodel file; not a model folder this pipeline wrote")
    flavor = (yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}).get("flavors", {})
    sklearn = flavor.get("sklearn") or {}
    if sklearn.get("serialization_format") != "skops":
        raise UnsafeModel(
            f"{model_dir}: the model is stored as {sklearn.get('serialization_format')!r}; only "
            "skops files are loaded (pickle can run any code): retrain it with this pipeline"
        )
    path = (model_dir / str(sklearn.get("pickled_model", ""))).resolve()
    if path.parent != model_dir.resolve() or not path.is_file():
        raise UnsafeModel(f"{model_dir}: MLmodel names no model file inside the folder")
    return path


def digest(model_dir: Path) -> str:
    """SHA-256 of the model file of ``model_dir``."""
    return hashlib.sha256(model_file(model_dir).read_bytes()).hexdigest()


def load_checked(model_dir: Path, expected_digest: str | None) -> CalibratedClassifierCV:
    """The model of ``model_dir`` if it is a skops file of trusted types with the digest
    recorded at training; UnsafeModel otherwise, without deserialising it."""
    path = model_file(model_dir)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if expected_digest is None or actual != expected_digest:
        raise UnsafeModel(
            f"{path}: SHA-256 {actual[:12]}... is not the {expected_digest or 'missing'} "
            "recorded at training; the file was changed or replaced. Retrain (dvc repro) or "
            "restore it"
        )
    unknown = sorted(set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if unknown:
        raise UnsafeModel(f"{path}: holds types this pipeline never writes: {unknown}")
    return skops.io.load(path, trusted=list(TRUSTED_TYPES))


def load_registered(uri: str, expected_digest: str | None) -> CalibratedClassifierCV:
    """A registered version (``models:/name/version``), checked like ``load_checked``."""
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=scratch))
        return load_checked(local, expected_digest)


def registered_digest(uri: str) -> str:
    """SHA-256 of a registered version's model file, as stored."""
    with tempfile.TemporaryDirectory() as scratch:
        return digest(Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=scratch)))
