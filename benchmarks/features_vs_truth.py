"""Check the featurize stage's labels and lifecycle stages against the simulator's truth.

Reads `data/features` and `data/ground_truth` as written by `dvc repro` and prints, per
cutoff, the label rate next to the true churn rate (by churn definition), how often the
label equals the truth, and how the rule-based lifecycle stage compares with the true one.

    python benchmarks/features_vs_truth.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.artifacts import FEATURES, TRUTH_CUSTOMERS, TRUTH_HAZARDS
from pipeline.config import load_config
from simulator.truth import true_churn


def main() -> None:
    cfg = load_config()
    truth_dir = Path(cfg.paths.ground_truth_dir)
    features = pd.read_parquet(
        Path(cfg.paths.features_dir) / FEATURES,
        columns=["customer_id", "cutoff", "lifecycle_stage", "churn_definition", "churned"],
    )
    rows = features[features["churned"].notna()].reset_index(drop=True)
    truth = pd.read_parquet(truth_dir / TRUTH_CUSTOMERS, columns=["customer_id", "churn_time"])
    rows["truth"] = true_churn(rows, truth, cfg.features.label.horizon_days)
    rows["churned"] = rows["churned"].astype(bool)

    rates = rows.pivot_table(
        index="cutoff", columns="churn_definition", values=["churned", "truth"], observed=True
    )
    rates.columns = [f"{kind} {definition}" for kind, definition in rates.columns]
    overall = rows.groupby("cutoff")[["churned", "truth"]].mean()
    rates["label, all"], rates["truth, all"] = overall["churned"], overall["truth"]
    print("label rate vs true churn rate per labelled cutoff:")
    print(rates.rename(columns=lambda c: c.replace("churned", "label")).round(3).to_markdown())
    gap = overall["churned"] - overall["truth"]
    print(f"\nall rows: mean gap {gap.mean():+.3f}, largest |gap| {gap.abs().max():.3f}")
    for definition, group in rows.groupby("churn_definition", observed=True):
        agreement = (group["churned"] == group["truth"]).mean()
        recall = group.loc[group["truth"], "churned"].mean()
        print(
            f"{definition}: label = truth for {agreement:.1%}; true churners labelled {recall:.1%}"
        )

    hazards = pd.read_parquet(truth_dir / TRUTH_HAZARDS, columns=["customer_id", "cutoff", "stage"])
    stages = features.merge(hazards, on=["customer_id", "cutoff"])
    confusion = pd.crosstab(stages["stage"], stages["lifecycle_stage"], normalize="index")
    print("\nrule-based lifecycle stage (columns) by true stage (rows), share of row:")
    print(confusion.round(2).to_markdown())


if __name__ == "__main__":
    main()
