"""Stage `featurize`: point-in-time features and churn labels for every cutoff.

Inputs: the validated tables (`paths.validated_dir`), queried in place by the configured
engine (`engine`, DuckDB by default): one query per cutoff. Outputs, in `paths.features_dir`:
`features.parquet`, one row per active customer per cutoff keyed by (customer_id,
cutoff), with the features, `lifecycle_stage`, `churn_definition` and the label
`churned` (empty when the label window runs past the data: scoring rows); and
`catalogue.json`, each feature's description, family, dtype and churn cause. Rows and
label rates per cutoff go to `paths.features_report` (DVC metrics).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from features.catalogue import catalogue_records
from features.columns import LABEL
from features.feature_table import (
    categories,
    cutoff_dates,
    observed_until,
    plan_features,
    snapshot,
)
from pipeline.artifacts import CATALOGUE, FEATURES
from pipeline.config import Config
from pipeline.engine import validated_history
from pipeline.io import TableWriter, atomic_path, write_json
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    history = validated_history(cfg)
    plan = plan_features(history, list(cfg.causes))
    for family, missing in plan.absent.items():
        log.warning("feature family %r left out: %s absent", family, ", ".join(missing))
    data_end = observed_until(history)
    cutoffs = cutoff_dates(history, data_end)
    log.info(
        "%d features from %d families at %d cutoffs; data observed until %s",
        len(plan.catalogue),
        len(plan.families),
        len(cutoffs),
        data_end.date(),
    )
    categories_of = categories(history, plan)
    per_cutoff = {}
    with atomic_path(Path(cfg.paths.features_dir)) as out:
        out.mkdir()
        with TableWriter(out / FEATURES) as writer:
            for cutoff in tqdm(cutoffs, desc="cutoffs", unit="cutoff"):
                rows = snapshot(history, plan, cutoff, data_end, categories_of)
                writer.write(rows)
                per_cutoff[str(cutoff.date())] = _summary(rows)
        (out / CATALOGUE).write_text(
            json.dumps(catalogue_records(list(plan.catalogue)), indent=2, ensure_ascii=False)
            + "\n",
            encoding="utf-8",
        )
    report = {
        "observed_until": str(data_end.date()),
        "n_features": len(plan.catalogue),
        "absent_families": plan.absent,
        "cutoffs": per_cutoff,
    }
    write_json(report, Path(cfg.paths.features_report))


def _summary(rows: pd.DataFrame) -> dict[str, float | int | None]:
    labelled = rows[LABEL].notna()
    return {
        "rows": len(rows),
        "labelled": int(labelled.sum()),
        "churn_rate": round(float(rows[LABEL].mean()), 4) if labelled.any() else None,
    }


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
