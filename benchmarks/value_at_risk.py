"""Value at risk the retention lists capture, against ranking by churn probability alone.

Simulated data only. The pipeline's model (data/models, from `make repro`) scores the
customers as of the test cutoff, which training never saw and whose label horizon lies
inside the data; the simulator's ground truth then says who truly churned within the
horizon. Value at risk is the customer value (clipped at zero: a loss-making customer has
nothing to lose) of those true churners. Compared at the same number of customers:

- the exported lists (tiers, playbook, expected net value, exclusions);
- the same number of customers with the highest churn probability;
- the same number with the highest probability x customer value.

The comparison is repeated for several risk thresholds (the configured one first): below
the threshold nobody is contacted, whatever their value. Results go to
benchmarks/results/value_at_risk.md.

    python benchmarks/value_at_risk.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from features.columns import DEFINITION, KEYS
from pipeline import score
from pipeline.artifacts import (
    EXCLUDED,
    FEATURES,
    LISTS_DIR,
    PREDICTIONS,
    TRUTH_CUSTOMERS,
    ground_truth_dir,
)
from pipeline.config import Config, load_config
from simulator.truth import true_churn

RESULTS = Path(__file__).parent / "results" / "value_at_risk.md"


def scored_customers(retention_day: Path) -> pd.DataFrame:
    """Every scored customer, listed or not, with ``listed``."""
    lists = [pd.read_parquet(p) for p in sorted((retention_day / LISTS_DIR).glob("*.parquet"))]
    listed = pd.concat(lists, ignore_index=True).assign(listed=True)
    excluded = pd.read_parquet(retention_day / f"{EXCLUDED}.parquet").assign(listed=False)
    columns = ["customer_id", "churn_probability", "customer_value", "tier", "listed"]
    return pd.concat([listed[columns], excluded[columns]], ignore_index=True)


def captured(customers: pd.DataFrame, chosen: pd.Series) -> dict[str, float]:
    """Share of the true churners' value, and of the true churners, that ``chosen`` covers."""
    churners = customers["truly_churned"]
    at_risk = customers["value_at_risk"]
    return {
        "customers": int(chosen.sum()),
        "true churners among them": int((chosen & churners).sum()),
        "value at risk captured": float(at_risk[chosen].sum() / at_risk.sum()),
        "true churners captured": float((chosen & churners).sum() / churners.sum()),
    }


def top(customers: pd.DataFrame, by: pd.Series, n: int) -> pd.Series:
    order = by.sort_values(ascending=False, kind="stable").index[:n]
    return pd.Series(customers.index.isin(order), index=customers.index)


THRESHOLDS = (0.1, 0.05, 0.02, 0.0)


def lists_at(cfg: Config, day: str, threshold: float, workdir: Path) -> pd.DataFrame:
    """Score as of ``day`` with the pipeline's model and ``threshold``: every customer."""
    retention_dir = workdir / f"threshold-{threshold}"
    run_cfg = replace(
        cfg,
        paths=replace(cfg.paths, retention_dir=str(retention_dir)),
        scoring=replace(cfg.scoring, as_of=day, model_source="pipeline", risk_threshold=threshold),
        tracking=replace(cfg.tracking, tracking_uri=f"sqlite:///{workdir}/mlflow.db"),
    )
    score.run(run_cfg)
    return scored_customers(retention_dir / day)


def comparison(customers: pd.DataFrame, threshold: float) -> pd.DataFrame:
    n = int(customers["listed"].sum())
    probability = customers["churn_probability"]
    value = customers["customer_value"].clip(lower=0)
    rankings = {
        "retention lists": customers["listed"],
        "top by churn probability": top(customers, probability, n),
        "top by probability x value": top(customers, probability * value, n),
    }
    table = pd.DataFrame([captured(customers, chosen) for chosen in rankings.values()])
    table.insert(0, "ranking", list(rankings))
    table.insert(0, "risk threshold", threshold)
    return table


def main() -> None:
    cfg = load_config()
    truth_dir = ground_truth_dir(cfg.paths.ground_truth_dir, cfg.data)
    if truth_dir is None:
        raise SystemExit("needs the simulator's data and ground truth: run `make repro` first")
    test_cutoff = pd.read_parquet(Path(cfg.paths.models_dir) / PREDICTIONS)["cutoff"].iloc[0]
    day = str(test_cutoff.date())
    rows = pd.read_parquet(
        Path(cfg.paths.features_dir) / FEATURES,
        columns=[*KEYS, DEFINITION],
        filters=[("cutoff", "==", test_cutoff)],
    )
    truth = pd.read_parquet(truth_dir / TRUTH_CUSTOMERS, columns=["customer_id", "churn_time"])
    rows["truly_churned"] = true_churn(rows, truth, cfg.features.label.horizon_days).to_numpy()
    thresholds = sorted({cfg.scoring.risk_threshold, *THRESHOLDS}, reverse=True)
    tables = []
    with tempfile.TemporaryDirectory(prefix="value-at-risk-") as workdir:
        for threshold in thresholds:
            customers = lists_at(cfg, day, threshold, Path(workdir)).merge(
                rows[["customer_id", "truly_churned"]], on="customer_id"
            )
            value = customers["customer_value"].clip(lower=0)
            customers["value_at_risk"] = value.where(customers["truly_churned"], 0.0)
            tables.append(comparison(customers, threshold))
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    churners = int(customers["truly_churned"].sum())
    text = (
        f"Measured {time.strftime('%Y-%m-%d')} on {machine} with `{' '.join(sys.argv)}`.\n\n"
        f"As of {day} (the test cutoff): {len(customers):,} customers scored, {churners:,} "
        f"truly churn within {cfg.features.label.horizon_days} days, their value at risk is "
        f"{customers['value_at_risk'].sum():,.0f}. The configured risk threshold is "
        f"{cfg.scoring.risk_threshold}.\n\n"
        + pd.concat(tables).to_markdown(index=False, floatfmt=".3f", intfmt=",")
        + "\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
