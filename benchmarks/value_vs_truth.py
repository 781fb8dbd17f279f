"""Future customer value against what customers who stayed then brought.

Simulated data only (`make repro` first). As of the last date with a full value horizon of
data after it, customer value's future part (scoring/value.py) is estimated both ways:

- ``btyd``: the purchases the purchase model (scoring.purchase_model) expects of a customer
  still there, times the margin of one purchase (Gamma-Gamma's expected amount, or each
  customer's mean where the amounts are too heavy-tailed for it, times their margin rate);
- ``run_rate``: the margin of the last run_rate_days, projected.

The customers measured bought or paid in the year before the date and truly stayed (the
simulator's truth) through the horizon: what they brought in it is the value a retention
action keeps. Compared by rank (Spearman), by the top 20% (the VIP and major tiers'
share), by mean absolute error and by the total against the realized total; plus Spearman
against the simulator's true spend rate (purchase rate x basket value).
Results go to benchmarks/results/value_vs_truth.md.

    python benchmarks/value_vs_truth.py
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from features.feature_table import observed_until
from features.history import customer_ranges
from pipeline.artifacts import TRUTH_CUSTOMERS, ground_truth_dir
from pipeline.config import load_config
from pipeline.engine import validated_history
from scoring.config import FUTURE_VALUE_METHODS
from scoring.outlook import purchase_outlook
from scoring.value import customer_value

RESULTS = Path(__file__).parent / "results" / "value_vs_truth.md"
TOP = 0.2


def agreement(estimate: np.ndarray, realized: np.ndarray, true_rate: np.ndarray) -> dict:
    top_estimate = estimate >= np.quantile(estimate, 1 - TOP)
    top_realized = realized >= np.quantile(realized, 1 - TOP)
    return {
        "Spearman vs realized": spearmanr(estimate, realized).statistic,
        "top 20% recovered": (top_estimate & top_realized).sum() / top_realized.sum(),
        "mean absolute error": np.abs(estimate - realized).mean(),
        "total / realized total": estimate.sum() / realized.sum(),
        "Spearman vs true spend rate": spearmanr(estimate, true_rate).statistic,
    }


def main() -> None:
    cfg = load_config()
    truth_dir = ground_truth_dir(cfg.paths.ground_truth_dir, cfg.data)
    if truth_dir is None:
        raise SystemExit("needs the simulator's data and ground truth: run `make repro` first")
    value = cfg.scoring.value
    with validated_history(cfg) as history:
        horizon = pd.Timedelta(days=value.horizon_days)
        as_of = (observed_until(history) - horizon).to_period("M").to_timestamp()
        started = time.perf_counter()
        scoring = cfg.scoring
        outlook = purchase_outlook(
            history,
            as_of,
            scoring.purchase_model,
            value.horizon_days,
            scoring.purchase_model_fit_customers,
            cfg.seed,
            customer_ranges(history, cfg.engine.customer_cutoffs_per_query),
        )
        estimates = {
            method: customer_value(history, as_of, replace(value, future=method), outlook)
            for method in FUTURE_VALUE_METHODS
        }
        seconds = time.perf_counter() - started
        # What each customer brought in the horizon: the historical margin at its end.
        over_horizon = replace(value, future="run_rate", history_days=value.horizon_days)
        realized = customer_value(history, as_of + horizon, over_horizon)["historical_margin"]

    truth = pd.read_parquet(truth_dir / TRUTH_CUSTOMERS).set_index("customer_id")
    ids = estimates["run_rate"]["customer_id"].to_numpy()
    churn = truth["churn_time"].reindex(ids)
    stayed = (churn.isna() | (churn >= as_of + horizon)).to_numpy()
    active = estimates["run_rate"]["historical_margin"].to_numpy() != 0
    measured = stayed & active
    true_rate = (truth["purchase_rate"] * truth["basket_value"]).reindex(ids).to_numpy()
    table = pd.DataFrame(
        [
            {"future value": method}
            | agreement(
                frame["future_value"].to_numpy()[measured],
                realized.to_numpy()[measured],
                true_rate[measured],
            )
            for method, frame in estimates.items()
        ]
    )
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    text = (
        f"Measured {time.strftime('%Y-%m-%d')} on {machine} with `{' '.join(sys.argv)}`.\n\n"
        f"As of {as_of.date()}, {measured.sum():,} customers who bought or paid in the year "
        f"before and truly stayed through the {value.horizon_days}-day horizon; they then "
        f"brought {realized.to_numpy()[measured].sum():,.0f} of margin. Purchase model "
        f"`{cfg.scoring.purchase_model}`; both estimates in {seconds:.0f} s.\n\n"
        + table.to_markdown(index=False, floatfmt=".3f")
        + "\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
