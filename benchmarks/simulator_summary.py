"""Summarise simulated data against the simulator's config (figures for the README).

Reads `data/simulated` and `data/ground_truth` as written by `dvc repro` and prints the
realised churn rate, cause mixture, complaint sparsity, lifecycle mix and sales
concentration next to the configured targets.

    python benchmarks/simulator_summary.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.artifacts import TRUTH_CUSTOMERS, TRUTH_HAZARDS
from pipeline.config import load_config
from simulator.calibration import target_cause_shares


def main() -> None:
    cfg = load_config()
    sim = cfg.simulator
    raw, truth_dir = Path(cfg.paths.simulated_dir), Path(cfg.paths.ground_truth_dir)
    customers = pd.read_parquet(raw / "customers.parquet")
    transactions = pd.read_parquet(raw / "transactions.parquet", columns=["customer_id", "amount"])
    truth = pd.read_parquet(truth_dir / TRUTH_CUSTOMERS)
    hazards = pd.read_parquet(truth_dir / TRUTH_HAZARDS, columns=["stage"])

    start = pd.Timestamp(sim.start_date)
    end = start + pd.Timedelta(weeks=sim.n_weeks)
    exposure = truth["churn_time"].fillna(end) - customers["signup_date"].clip(lower=start)
    years = exposure.dt.total_seconds().sum() / (365.25 * 86400)
    annual = 1 - np.exp(-truth["churned"].sum() / years)
    print(f"customers {len(customers):,}; transactions {len(transactions):,}")
    print(f"annual churn probability: {annual:.3f} (config {sim.churn.annual_rate})")

    realised = truth["churn_cause"].value_counts(normalize=True)
    mixture = pd.DataFrame({"config": pd.Series(target_cause_shares(sim)), "realised": realised})
    print("\nchurn by true cause:\n" + mixture.round(3).to_markdown())

    per_episode = truth["complaints_filed"].sum() / truth["dissatisfying_episodes"].sum()
    dissatisfied = truth[truth["dissatisfying_episodes"] > 0]
    silent = (dissatisfied["complaints_filed"] == 0).mean()
    print(
        f"\ncomplaints per dissatisfying episode: {per_episode:.3f} "
        f"(config {sim.complaints.probability_per_episode})"
    )
    print(f"dissatisfied customers who never complained: {silent:.1%}")

    stages = hazards["stage"].value_counts(normalize=True)
    print("\ntrue lifecycle stage over all cutoffs:\n" + stages.round(3).to_markdown())
    spend = transactions.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top_fifth = spend.iloc[: len(spend) // 5].sum() / spend.sum()
    print(f"\nshare of sales from the top 20% of customers: {top_fifth:.1%}")


if __name__ == "__main__":
    main()
