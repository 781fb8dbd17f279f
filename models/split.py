"""Out-of-time splits of the labelled feature rows.

A row's label looks ``lookahead`` days past its cutoff (features.label: the horizon and its
confirmation), so two cutoffs closer than that share part of their label windows. Training
therefore only uses cutoffs whose label window has closed by the validation cutoff, and the
validation cutoff's window must close by the test cutoff: nothing the model is fitted or
selected on has seen the test period.
The validation cutoff is shared by early stopping and calibration, split by customer so
that no customer informs both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features.columns import LABEL
from models.config import SplitConfig

log = logging.getLogger(__name__)

PARTS = ("train", "early_stopping", "calibration", "test")


@dataclass(frozen=True)
class Split:
    train_cutoffs: tuple[pd.Timestamp, ...]
    validation_cutoff: pd.Timestamp
    test_cutoff: pd.Timestamp

    def as_dict(self) -> dict[str, str | list[str]]:
        return {
            "mode": "out_of_time",
            "train_cutoffs": [str(c.date()) for c in self.train_cutoffs],
            "validation_cutoff": str(self.validation_cutoff.date()),
            "test_cutoff": str(self.test_cutoff.date()),
        }

    @property
    def cutoffs(self) -> list[pd.Timestamp]:
        """Every cutoff the split reads, oldest first."""
        return [*self.train_cutoffs, self.validation_cutoff, self.test_cutoff]


def plan_split(
    labelled_cutoffs: list[pd.Timestamp], lookahead_days: int, cfg: SplitConfig
) -> Split:
    """Choose the test, validation and training cutoffs among the labelled ones."""
    cutoffs = sorted(pd.Timestamp(c) for c in labelled_cutoffs)
    if not cutoffs:
        raise ConfigError("training: the feature table has no labelled cutoff")
    lookahead = pd.Timedelta(days=lookahead_days)
    test = _chosen("test_cutoff", cfg.test_cutoff, cutoffs, cutoffs[-1])
    closed_by_test = [c for c in cutoffs if c + lookahead <= test]
    validation = _chosen(
        "validation_cutoff", cfg.validation_cutoff, closed_by_test, _last(closed_by_test, test)
    )
    train = [c for c in cutoffs if c + lookahead <= validation]
    if cfg.train_cutoffs is not None:
        train = train[-cfg.train_cutoffs :]
    if not train:
        raise ConfigError(
            f"training: no cutoff's {lookahead_days}-day label window closes by the validation "
            f"cutoff {validation.date()}; add earlier cutoffs (data.cutoffs) or move it"
        )
    return Split(tuple(train), validation, test)


def split_cutoffs(
    cutoffs: list[pd.Timestamp], data_end: pd.Timestamp, lookahead_days: int, cfg: SplitConfig
) -> list[pd.Timestamp]:
    """The cutoffs among ``cutoffs`` that the split of their feature rows reads: the
    labelled ones are those whose label window closes by ``data_end`` (features/labels.py),
    and ``plan_split`` chooses among them."""
    lookahead = pd.Timedelta(days=lookahead_days)
    return plan_split(
        [c for c in cutoffs if c + lookahead <= data_end], lookahead_days, cfg
    ).cutoffs


def _last(candidates: list[pd.Timestamp], test: pd.Timestamp) -> pd.Timestamp:
    if not candidates:
        raise ConfigError(
            f"training: no labelled cutoff's label window closes by the test cutoff {test.date()}"
        )
    return candidates[-1]


def _chosen(
    key: str, value: str | None, allowed: list[pd.Timestamp], default: pd.Timestamp
) -> pd.Timestamp:
    if value is None:
        return default
    chosen = pd.Timestamp(value)
    if chosen not in allowed:
        raise ConfigError(
            f"training.split.{key}: {chosen.date()} is not a labelled cutoff that the split "
            f"allows; choose one of {[str(c.date()) for c in allowed]}"
        )
    return chosen


def split_rows(
    rows: pd.DataFrame, split: Split, calibration_share: float, seed: int
) -> dict[str, pd.DataFrame]:
    """The labelled rows of each part, keyed by PARTS."""
    labelled = rows[rows[LABEL].notna()]
    early_stopping, calibration = split_validation(
        labelled[labelled["cutoff"] == split.validation_cutoff], calibration_share, seed
    )
    return {
        "train": labelled[labelled["cutoff"].isin(split.train_cutoffs)],
        "early_stopping": early_stopping,
        "calibration": calibration,
        "test": labelled[labelled["cutoff"] == split.test_cutoff],
    }


def split_validation(
    validation: pd.DataFrame, calibration_share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validation cutoff's rows split by customer: early stopping's, calibration's."""
    customers = np.sort(validation["customer_id"].unique())
    rng = np.random.default_rng(seed)
    calibration_customers = rng.choice(
        customers, size=round(len(customers) * calibration_share), replace=False
    )
    for_calibration = validation["customer_id"].isin(calibration_customers)
    return validation[~for_calibration], validation[for_calibration]


def sample_stayers(
    train: pd.DataFrame, max_rows: int | None, seed: int
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """At most ``max_rows`` training rows: every churner, and stayers drawn at random to
    fill the rest, each weighing (stayers) / (stayers drawn), so that the weighted rows
    keep the natural churn rate and the fitted scores their calibration. Fewer rows than
    ``max_rows``, or None: every row, equal weights (None). A warning when fewer stayers
    than churners are drawn: their large weights make the fit noisy."""
    if max_rows is None or len(train) <= max_rows:
        return train, None
    churned = train[LABEL].to_numpy() == 1
    churners, stayers = int(churned.sum()), int((~churned).sum())
    if churners >= max_rows:
        raise ConfigError(
            f"training.max_training_rows: {max_rows:,} rows cannot hold the {churners:,} "
            "churners of the training cutoffs, which are all kept; raise it (or null: every row)"
        )
    drawn = max_rows - churners
    rng = np.random.default_rng(seed)
    kept = churned.copy()
    kept[rng.choice(np.flatnonzero(~churned), size=drawn, replace=False)] = True
    log.info(
        "training rows: every churner (%d) and %d of %d stayers, weighing %.3g each "
        "(training.max_training_rows)",
        churners,
        drawn,
        stayers,
        stayers / drawn,
    )
    if drawn < churners:
        log.warning(
            "training.max_training_rows: %d stayers drawn against %d churners, each "
            "weighing %.3g: so few stayers make a noisy fit (at a million customers, "
            "6,337 stayers against 493,663 churners lost 0.010 test ROC-AUC: README, "
            "Training at scale). Raise it to at least %d rows (or null: every row)",
            drawn,
            churners,
            stayers / drawn,
            2 * churners,
        )
    return train[kept], np.where(churned[kept], 1.0, stayers / drawn)
