"""A model folder cannot run code when loaded: skops of trusted types, with the digest
recorded at training, or a clear refusal before anything is deserialised."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml

from models.estimators import calibrate, fit_model
from pipeline.model_file import UnsafeModel, digest, load_checked, untrusted_types
from pipeline.registry import ModelFormat, save_model
from tests.support import compose_config


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "recency_days": rng.random(300),
            "purchases_365d": rng.random(300),
            "spend_365d": rng.random(300),
            "contract_type": pd.Categorical(rng.choice(["none", "annual"], 300)),
        }
    )
    return frame, (rng.random(300) < 0.3).astype(int)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, inputs) -> dict:
    cfg = compose_config(tmp_path_factory.mktemp("models"), "model.params.n_estimators=20")
    frame, y = inputs
    configs = {
        "lightgbm": cfg.model,
        "logreg": cfg.training.baselines["logreg"],
        "rfm_rule": cfg.training.baselines["rfm_rule"],
    }
    return {
        (name, method): calibrate(
            fit_model(model, frame, y, (frame, y), ["contract_type"], 0), frame, y, method
        )
        for name, model in configs.items()
        for method in ("sigmoid", "isotonic")
    }


def test_every_model_the_pipeline_fits_needs_only_trusted_types(models):
    for key, model in models.items():
        assert untrusted_types(model) == [], key


@pytest.fixture
def saved(tmp_path: Path, models, inputs) -> tuple[Path, str]:
    model = models[("lightgbm", "sigmoid")]
    recorded = save_model(model, ModelFormat.of(model, inputs[0]), tmp_path)
    return tmp_path / "model", recorded


def test_a_model_loads_with_the_digest_recorded_at_training(saved, models, inputs):
    folder, recorded = saved
    loaded = load_checked(folder, recorded)
    expected = models[("lightgbm", "sigmoid")].predict_proba(inputs[0])
    np.testing.assert_array_equal(loaded.predict_proba(inputs[0]), expected)


class _Payload:
    """Unpickling this runs a command: what a doctored model folder would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_pickle_model_is_refused_without_running(saved, tmp_path):
    folder, recorded = saved
    marker = tmp_path / "pwned"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"] |= {
        "serialization_format": "pickle",
        "pickled_model": "model.pkl",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(UnsafeModel, match="stored as 'pickle'; only skops files are loaded"):
        load_checked(folder, recorded)
    assert not marker.exists()


def test_a_changed_model_file_is_refused(saved):
    folder, recorded = saved
    (folder / "model.skops").write_bytes((folder / "model.skops").read_bytes() + b"\0")
    with pytest.raises(UnsafeModel, match=r"is not the \w+ recorded at training"):
        load_checked(folder, recorded)
    with pytest.raises(UnsafeModel, match="missing recorded at training"):
        load_checked(folder, None)


def test_a_skops_file_of_other_types_is_refused_even_with_its_digest(saved):
    folder, _ = saved
    skops.io.dump({"anything": pd.Timedelta(days=1)}, folder / "model.skops")
    with pytest.raises(UnsafeModel, match="holds types this pipeline never writes"):
        load_checked(folder, digest(folder))


def test_a_model_file_outside_its_folder_is_refused(saved):
    folder, recorded = saved
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(UnsafeModel, match="names no model file inside the folder"):
        load_checked(folder, recorded)
