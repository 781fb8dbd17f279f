"""Cross-validation for snapshot data: one labelled date, so no split in time is possible.

Rows are split into ``folds`` stratified by the label and grouped by customer (no customer
in two folds). For each fold, the other folds are the learning rows: a
``validation_share`` of their customers, stratified, is held out and split like the
validation cutoff of the out-of-time split (early stopping, and ``calibration_share`` of
them for calibration); the model learns on the rest and predicts the fold. Every row thus
gets an out-of-fold probability, and the metrics are computed on those. The model that is
kept is fitted the same way on all rows.

This estimates how well the model ranks customers like these at the same date; it cannot
say how it holds up as time passes, which only an out-of-time split can.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from contract.errors import ConfigError
from features.columns import LABEL
from models.config import CrossValidationConfig, ModelConfig, TrainingConfig
from models.fit import TrainedModel, train_candidates

log = logging.getLogger(__name__)

CAVEAT = (
    "cross-validated on one snapshot date: no split in time was possible, so these figures "
    "do not show how the model holds up as time passes"
)


@dataclass(frozen=True)
class CrossValidation:
    """How the metrics were obtained, for the reports and the MLflow run."""

    folds: int
    snapshot_date: pd.Timestamp

    def as_dict(self) -> dict[str, str | int]:
        return {
            "mode": "cross_validation",
            "folds": self.folds,
            "snapshot_date": str(self.snapshot_date.date()),
            "caveat": CAVEAT,
        }


def cross_validate(
    candidates: dict[str, ModelConfig],
    rows: pd.DataFrame,
    catalogue: list[dict],
    training: TrainingConfig,
    seed: int,
) -> tuple[CrossValidation, dict[str, pd.DataFrame], dict[str, TrainedModel]]:
    """Every candidate fitted on all rows, with out-of-fold test probabilities.

    The parts returned are those of the final fit, with every labelled row as ``test``.
    """
    cv, share = training.cross_validation, training.split.calibration_share
    folds = cross_validation_folds(rows, cv, share, seed)
    per_fold = [
        train_candidates(candidates, fold, catalogue, training.calibration, seed) for fold in folds
    ]
    labelled = _labelled(rows, cv)
    parts = learning_parts(labelled, cv, share, seed) | {"test": labelled}
    final = train_candidates(candidates, parts, catalogue, training.calibration, seed)
    for name, model in final.items():
        model.test_probability = out_of_fold(
            labelled, folds, [fold[name].test_probability for fold in per_fold]
        )
        model.seconds += sum(fold[name].seconds for fold in per_fold)
    description = CrossValidation(cv.folds, pd.Timestamp(labelled["cutoff"].max()))
    return description, parts, final


def cross_validation_folds(
    rows: pd.DataFrame, cfg: CrossValidationConfig, calibration_share: float, seed: int
) -> list[dict[str, pd.DataFrame]]:
    """The parts (train, early_stopping, calibration, test) of every fold."""
    labelled = _labelled(rows, cfg)
    folds = StratifiedGroupKFold(n_splits=cfg.folds, shuffle=True, random_state=seed)
    parts = []
    for learn, test in folds.split(labelled, labelled[LABEL], labelled["customer_id"]):
        fold = learning_parts(labelled.iloc[learn], cfg, calibration_share, seed)
        parts.append(fold | {"test": labelled.iloc[test]})
    log.info("cross-validation: %d folds of %d rows", cfg.folds, len(labelled))
    return parts


def learning_parts(
    rows: pd.DataFrame, cfg: CrossValidationConfig, calibration_share: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Training, early-stopping and calibration rows, split by customer and stratified by
    each customer's label (their last row's)."""
    labelled = _labelled(rows, cfg)
    per_customer = labelled.groupby("customer_id", sort=True)[LABEL].last()
    learn, held_out = train_test_split(
        per_customer.index.to_numpy(),
        test_size=cfg.validation_share,
        stratify=per_customer.to_numpy(),
        random_state=seed,
    )
    calibration, early_stopping = train_test_split(
        held_out,
        train_size=calibration_share,
        stratify=per_customer.loc[held_out].to_numpy(),
        random_state=seed,
    )
    customer = labelled["customer_id"]
    return {
        "train": labelled[customer.isin(learn)],
        "early_stopping": labelled[customer.isin(early_stopping)],
        "calibration": labelled[customer.isin(calibration)],
    }


def out_of_fold(
    rows: pd.DataFrame, folds: list[dict[str, pd.DataFrame]], fold_scores: list[np.ndarray]
) -> np.ndarray:
    """One model's out-of-fold probabilities, in the order of the labelled ``rows``."""
    probability = pd.Series(np.nan, index=rows.index[rows[LABEL].notna()])
    for fold, scores in zip(folds, fold_scores, strict=True):
        probability[fold["test"].index] = scores
    return probability.to_numpy()


def _labelled(rows: pd.DataFrame, cfg: CrossValidationConfig) -> pd.DataFrame:
    labelled = rows[rows[LABEL].notna()]
    counts = labelled[LABEL].value_counts()
    smallest = int(counts.min()) if len(counts) == 2 else 0
    if smallest < cfg.folds:
        raise ConfigError(
            f"training.cross_validation.folds: {cfg.folds} folds need at least as many "
            f"churners and stayers; the labels have {counts.to_dict()}"
        )
    return labelled
