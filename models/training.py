"""Fit, calibrate and score every candidate model on one out-of-time split."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV

from models.estimators import (
    calibrate,
    categorical_columns,
    feature_columns,
    fit_model,
    labels,
    model_inputs,
)
from pipeline.config import ModelConfig

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    config: ModelConfig
    columns: list[str]
    model: CalibratedClassifierCV
    test_probability: np.ndarray
    seconds: float


def train_model(
    cfg: ModelConfig,
    parts: dict[str, pd.DataFrame],
    catalogue: list[dict],
    calibration_method: str,
    seed: int,
) -> TrainedModel:
    """Fit on the training part (early stopping on its own part), calibrate on the
    calibration part and predict the test part."""
    started = time.perf_counter()
    columns = feature_columns(catalogue, cfg.families)
    categorical = categorical_columns(catalogue, columns)
    inputs = {name: model_inputs(rows, columns) for name, rows in parts.items()}
    fitted = fit_model(
        cfg,
        inputs["train"],
        labels(parts["train"]),
        (inputs["early_stopping"], labels(parts["early_stopping"])),
        categorical,
        seed,
    )
    calibrated = calibrate(
        fitted, inputs["calibration"], labels(parts["calibration"]), calibration_method
    )
    probability = calibrated.predict_proba(inputs["test"])[:, 1]
    return TrainedModel(cfg, columns, calibrated, probability, time.perf_counter() - started)


def train_candidates(
    candidates: dict[str, ModelConfig],
    parts: dict[str, pd.DataFrame],
    catalogue: list[dict],
    calibration_method: str,
    seed: int,
) -> dict[str, TrainedModel]:
    trained = {}
    for name, cfg in candidates.items():
        trained[name] = train_model(cfg, parts, catalogue, calibration_method, seed)
        log.info("%s: fitted and calibrated in %.1f s", name, trained[name].seconds)
    return trained
