"""Fit, calibrate and score every candidate model on one out-of-time split."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from contract.errors import ConfigError
from features.columns import DEFINITION, KEYS, LABEL
from models.config import ModelConfig
from models.estimators import (
    calibrate,
    categorical_columns,
    feature_columns,
    fit_model,
    labels,
)

log = logging.getLogger(__name__)

# Scored beside the candidates on simulated data (simulator/oracle.py): no candidate may
# take its name.
ORACLE = "oracle"


@dataclass
class ModelData:
    """Each part's model inputs and labels for one feature selection, and the training
    rows' weights (None: equal)."""

    columns: list[str]
    categorical: list[str]
    inputs: dict[str, pd.DataFrame]
    labels: dict[str, np.ndarray]
    weight: np.ndarray | None = None


def model_data(
    parts: dict[str, pd.DataFrame],
    catalogue: list[dict],
    families: list[str] | None,
    weight: np.ndarray | None = None,
) -> ModelData:
    """The parts' feature columns as they are (no copy: categories stay pandas
    categories, which every estimator's first step reads as it reads strings)."""
    columns = feature_columns(catalogue, families)
    return ModelData(
        columns,
        categorical_columns(catalogue, columns),
        {name: rows[columns] for name, rows in parts.items()},
        {name: labels(rows) for name, rows in parts.items()},
        weight,
    )


def fit_uncalibrated(cfg: ModelConfig, data: ModelData, seed: int) -> Pipeline:
    """Fit on the training part; LightGBM stops early on the early-stopping part."""
    return fit_model(
        cfg,
        data.inputs["train"],
        data.labels["train"],
        (data.inputs["early_stopping"], data.labels["early_stopping"]),
        data.categorical,
        seed,
        data.weight,
    )


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
    weight: np.ndarray | None = None,
) -> TrainedModel:
    """Fit on the training part (``weight``: its rows' weights; early stopping on its own
    part), calibrate on the calibration part and predict the test part."""
    started = time.perf_counter()
    data = model_data(parts, catalogue, cfg.families, weight)
    _check_both_classes(data.labels)
    log.info("%s: fitting on %d rows x %d features", cfg.name, *data.inputs["train"].shape)
    calibrated = calibrate(
        fit_uncalibrated(cfg, data, seed),
        data.inputs["calibration"],
        data.labels["calibration"],
        calibration_method,
    )
    probability = calibrated.predict_proba(data.inputs["test"])[:, 1]
    return TrainedModel(cfg, data.columns, calibrated, probability, time.perf_counter() - started)


def _check_both_classes(labels: dict[str, np.ndarray]) -> None:
    """Every part needs churners and stayers: a model, its calibration and its metrics
    mean nothing on one class."""
    for part, y in labels.items():
        classes = np.unique(y)
        if len(classes) < 2:
            found = f"all {len(y):,} rows are churned={classes[0]}" if len(y) else "no rows"
            raise ConfigError(
                f"training: the {part} part has {found}; a model needs churners and stayers. "
                "Check features.label.horizon_days, the cutoffs (data.cutoffs) and the labels "
                "in reports/features.json"
            )


def train_candidates(
    candidates: dict[str, ModelConfig],
    parts: dict[str, pd.DataFrame],
    catalogue: list[dict],
    calibration_method: str,
    seed: int,
    weight: np.ndarray | None = None,
) -> dict[str, TrainedModel]:
    trained = {}
    for name, cfg in candidates.items():
        trained[name] = train_model(cfg, parts, catalogue, calibration_method, seed, weight)
        log.info("%s: fitted and calibrated in %.1f s", name, trained[name].seconds)
    return trained


def candidate_models(
    main: ModelConfig, baselines: dict[str, ModelConfig], catalogue: list[dict]
) -> dict[str, ModelConfig]:
    """The main model, under its estimator name, then the baselines whose feature families
    the data has (a baseline named like the main model, as `rfm_rule` is under
    `model=rfm_rule`, is left out)."""
    if ORACLE in baselines:
        raise ConfigError(f"training.baselines: {ORACLE!r} is reserved; rename the baseline")
    present = {spec["family"] for spec in catalogue}
    missing = sorted(set(main.families or []) - present)
    if missing:
        raise ConfigError(
            f"model.families: the data has no {missing} features; choose among {sorted(present)}"
        )
    candidates = {main.name: main}
    for name, cfg in baselines.items():
        missing = sorted(set(cfg.families or []) - present)
        if missing:
            log.warning("baseline %r left out: the data has no %s features", name, missing)
        elif name != main.name:
            candidates[name] = cfg
    return candidates


def prediction_table(test: pd.DataFrame, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """The test rows' keys, churn definition and label with every model's probability."""
    frame = test[[*KEYS, DEFINITION, LABEL]].reset_index(drop=True)
    for name, probability in scores.items():
        frame[f"probability_{name}"] = probability.astype("float64")
    return frame
