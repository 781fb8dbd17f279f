"""Stage `featurize`: point-in-time features and churn labels at the cutoffs training reads.

Inputs: the validated tables (`paths.validated_dir`), queried in place by the configured
engine (`engine`, DuckDB by default). The cutoffs are those of `data.cutoffs` that the
out-of-time split reads (`features.cutoffs: split`, with `training.split`), or every one
(`all`). The customers are cut into ranges of ids small enough for one query to compute
every cutoff's rows of a range (`engine.customer_cutoffs_per_query`).

Outputs, in `paths.features_dir`: `features.parquet`, one row per active customer per
cutoff keyed by (customer_id, cutoff), ordered by range of ids, cutoff and customer_id,
with the features, `lifecycle_stage`, `churn_definition` and the label `churned` (empty
when the label window runs past the data); and `catalogue.json`, each feature's
description, family, dtype and churn cause. Rows and label rates per cutoff go to
`paths.features_report` (DVC metrics).
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from contract.errors import ConfigError
from features.catalogue import catalogue_records
from features.columns import LABEL
from features.feature_table import (
    categories,
    cutoff_dates,
    observed_until,
    plan_features,
    snapshot,
)
from features.history import CustomerHistory, customer_ranges
from models.split import split_cutoffs
from pipeline.artifacts import CATALOGUE, FEATURES
from pipeline.config import Config
from pipeline.engine import validated_history
from pipeline.io import TableWriter, atomic_path, write_json
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    with validated_history(cfg) as history:
        report = _write_features(cfg, history)
    write_json(report, Path(cfg.paths.features_report))


def _write_features(cfg: Config, history: CustomerHistory) -> dict:
    """The feature table and catalogue in ``paths.features_dir``; the stage's report."""
    plan = plan_features(history, list(cfg.causes))
    for family, missing in plan.absent.items():
        log.warning("feature family %r left out: %s absent", family, ", ".join(missing))
    data_end = observed_until(history)
    cutoffs = _cutoffs(cfg, history, data_end)
    log.info(
        "%d features from %d families at %d cutoffs; data observed until %s",
        len(plan.catalogue),
        len(plan.families),
        len(cutoffs),
        data_end.date(),
    )
    categories_of = categories(history, plan)
    # Every customer counts at every cutoff: an upper bound of the active ones.
    per_range = math.ceil(cfg.engine.customer_cutoffs_per_query / len(cutoffs))
    ranges = customer_ranges(history, per_range)
    counts = []
    with atomic_path(Path(cfg.paths.features_dir)) as out:
        out.mkdir()
        # A range is written while the engine computes the next: one write at a time, in
        # order, and an error in one ends the stage like an error here.
        with TableWriter(out / FEATURES) as writer, ThreadPoolExecutor(1) as writing:
            written = None
            for first, end in tqdm(ranges, desc="customer ranges", unit="range"):
                rows = snapshot(
                    history.of_customers(first, end), plan, cutoffs, data_end, categories_of
                )
                if written is not None:
                    written.result()
                written = writing.submit(writer.write, rows)
                counts.append(_counts(rows))
            written.result()
        (out / CATALOGUE).write_text(
            json.dumps(catalogue_records(list(plan.catalogue)), indent=2, ensure_ascii=False)
            + "\n",
            encoding="utf-8",
        )
    return {
        "observed_until": str(data_end.date()),
        "n_features": len(plan.catalogue),
        "absent_families": plan.absent,
        "cutoffs": _summary(pd.concat(counts)),
    }


def _cutoffs(cfg: Config, history: CustomerHistory, data_end: pd.Timestamp) -> list[pd.Timestamp]:
    """The cutoffs that get feature rows: every configured one, or (``features.cutoffs:
    split``) those the out-of-time split reads."""
    cutoffs = cutoff_dates(history, data_end)
    if cfg.features.cutoffs == "all" or cfg.data.snapshot is not None:
        return cutoffs
    lookahead = cfg.features.label.lookahead_days
    try:
        chosen = split_cutoffs(cutoffs, data_end, lookahead, cfg.training.split)
    except ConfigError as err:
        raise ConfigError(
            f"{err}. features.cutoffs=split computes the cutoffs of that split; "
            "features.cutoffs=all computes every cutoff (the train stage still needs a split)"
        ) from err
    log.info("the split reads %d of the %d cutoffs: features for those", len(chosen), len(cutoffs))
    return chosen


def _counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows, labelled rows and churners per cutoff of one range's rows."""
    label = rows[LABEL]
    counted = pd.DataFrame(
        {"cutoff": rows["cutoff"], "labelled": label.notna(), "churned": label.fillna(0)}
    )
    return counted.groupby("cutoff").agg(
        rows=("labelled", "size"), labelled=("labelled", "sum"), churned=("churned", "sum")
    )


def _summary(counts: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """Rows, labelled rows and churn rate per cutoff, from every range's ``_counts``."""
    totals = counts.groupby(level="cutoff").sum()
    return {
        str(cutoff.date()): {
            "rows": int(row.rows),
            "labelled": int(row.labelled),
            "churn_rate": round(float(row.churned) / row.labelled, 4) if row.labelled else None,
        }
        for cutoff, row in totals.iterrows()
    }


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
