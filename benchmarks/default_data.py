"""What the checks against the simulator's truth share: the train stage's split of the
data `dvc repro` wrote, and the ground truth beside it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.split import Split
from pipeline.config import Config
from pipeline.feature_rows import read_split
from pipeline.io import read_catalogue, read_ground_truth
from simulator.truth import GroundTruth


def split_features(cfg: Config) -> tuple[list[dict], Split, dict[str, pd.DataFrame]]:
    """The feature catalogue, the train stage's out-of-time split and each part's rows."""
    split, parts = read_split(
        cfg.paths.features_dir, cfg.features.label.lookahead_days, cfg.training.split, cfg.seed
    )
    return read_catalogue(cfg.paths.features_dir), split, parts


def ground_truth(cfg: Config) -> GroundTruth:
    return read_ground_truth(Path(cfg.paths.ground_truth_dir))
