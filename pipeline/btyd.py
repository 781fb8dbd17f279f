"""Stage `btyd`: the BG/NBD baseline's forecast of the rows the train stage tests on.

Inputs: `paths.features_dir` (which rows are tested: the labelled rows of the out-of-time
split's test cutoff, or every labelled row of snapshot data) and the validated
transactions. BG/NBD (models/btyd.py) is fitted at each tested cutoff on the purchases
before it and forecasts every tested customer: P(no purchase in the horizon), the
purchases to expect in it, and the purchases made in it (for its reliability; none on
snapshot data, which end at the snapshot).

Outputs: `paths.btyd_dir` with the forecast (pipeline/artifacts.py), which the train stage
scores beside its models. Without a transactions table the forecast has no rows and train
leaves BG/NBD out.

The forecast depends on the purchases, the label horizon and the split, not on any
model's settings: in a stage of its own it is fitted once per data, and experiments on
the models (`dvc exp run -S model.*`, `-S training.baselines.*`) reuse it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from models.btyd import baseline_forecast
from pipeline.artifacts import BTYD_FORECAST
from pipeline.config import Config
from pipeline.feature_rows import read_test_keys
from pipeline.io import atomic_directories, read_table, validated_paths
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    snapshot = cfg.data.snapshot is not None
    label = cfg.features.label
    rows = read_test_keys(
        cfg.paths.features_dir, label.lookahead_days, cfg.training.split, snapshot
    )
    path = validated_paths(cfg.paths.validated_dir, cfg.data).get("transactions")
    purchases = None
    if path is None:
        log.info("no transactions table: the BG/NBD baseline is left out")
    else:
        purchases = read_table(path)[["customer_id", "timestamp"]]
    forecast = baseline_forecast(purchases, rows, label.horizon_days, observed=not snapshot)
    with atomic_directories(Path(cfg.paths.btyd_dir)) as (out,):
        forecast.to_parquet(out / BTYD_FORECAST, index=False)
    log.info("BG/NBD forecast of %d test rows", len(forecast))


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
