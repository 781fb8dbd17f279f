"""Stage `featurize`: point-in-time features and churn labels for every cutoff.

Inputs: the validated tables (`paths.validated_dir`), queried in place by the configured
engine (`engine`, DuckDB by default), a batch of cutoffs per query. Outputs, in
`paths.features_dir`:
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
from features.history import CustomerHistory
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
    cutoffs = cutoff_dates(history, data_end)
    log.info(
        "%d features from %d families at %d cutoffs; data observed until %s",
        len(plan.catalogue),
        len(plan.families),
        len(cutoffs),
        data_end.date(),
    )
    categories_of = categories(history, plan)
    batches = cutoff_batches(cutoffs, history, cfg.engine.customer_cutoffs_per_query)
    per_cutoff = {}
    with atomic_path(Path(cfg.paths.features_dir)) as out:
        out.mkdir()
        with (
            TableWriter(out / FEATURES) as writer,
            tqdm(total=len(cutoffs), desc="cutoffs", unit="cutoff") as progress,
        ):
            for batch in batches:
                rows = snapshot(history, plan, batch, data_end, categories_of)
                writer.write(rows)
                for cutoff, at_cutoff in rows.groupby("cutoff", sort=True):
                    per_cutoff[str(cutoff.date())] = _summary(at_cutoff)
                progress.update(len(batch))
        (out / CATALOGUE).write_text(
            json.dumps(catalogue_records(list(plan.catalogue)), indent=2, ensure_ascii=False)
            + "\n",
            encoding="utf-8",
        )
    return {
        "observed_until": str(data_end.date()),
        "n_features": len(plan.catalogue),
        "absent_families": plan.absent,
        "cutoffs": per_cutoff,
    }


def cutoff_batches(
    cutoffs: list[pd.Timestamp], history: CustomerHistory, customer_cutoffs_per_query: int
) -> list[list[pd.Timestamp]]:
    """The cutoffs in batches of one query each: as many as keep (customers x cutoffs)
    within ``customer_cutoffs_per_query``, at least one."""
    n_customers = history.customers.count().to_pyarrow().as_py()
    size = max(1, customer_cutoffs_per_query // max(n_customers, 1))
    return [cutoffs[start : start + size] for start in range(0, len(cutoffs), size)]


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
