"""Why the explanations name the true churn cause as often as they do, on simulated data.

Reads `data/` as written by `dvc repro` (the trained model and the test cutoff) and prints:

1. who the model's top-risk decile is: rows per churn definition, and the share that truly
   churn within the horizon;
2. feature coverage of each cause: the rank correlation, over the test rows, between a
   cause's attributed contribution and the simulator's true hazard component of that cause;
3. the label: the same model trained on the simulator's true churn instead of the
   configured label (impossible on real data, a diagnosis only), with its fidelity.

    python benchmarks/explain_fidelity.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from default_data import ground_truth, split_features

from models.explain import Explained
from models.fit import train_model
from pipeline.artifacts import TRUTH_HAZARDS
from pipeline.config import load_config
from pipeline.explain import explain_with_truth, fidelity_groups, fidelity_segments
from pipeline.registry import load_model
from simulator.fidelity import fidelity_report
from simulator.truth import true_churn

RESULTS = Path(__file__).parent / "results" / "explain_fidelity.md"


def fidelity_table(explained: Explained, truth: pd.DataFrame) -> pd.DataFrame:
    report = fidelity_report(
        truth,
        explained.risk_causes,
        fidelity_segments(explained.rows),
        fidelity_groups(explained, truth),
    )
    return (
        pd.DataFrame(
            [
                {"group": group, "rows of": subset, **values}
                for group, subsets in report.items()
                for subset, values in subsets.items()
            ]
        )
        .drop(columns="recall")
        .round(3)
    )


def cause_coverage(cfg, explained: Explained) -> pd.DataFrame:
    """Spearman correlation of attributed contribution and true hazard component, per cause."""
    hazards = pd.read_parquet(Path(cfg.paths.ground_truth_dir) / TRUTH_HAZARDS)
    state = explained.rows[["customer_id", "cutoff", "churn_definition"]].merge(
        hazards, on=["customer_id", "cutoff"], how="left"
    )
    active = state["hazard_total"].notna().to_numpy()  # no hazard: already left
    records = []
    for cause in explained.by_cause.columns:
        record = {"cause": cause}
        for definition in ("contractual", "non_contractual"):
            rows = active & (state["churn_definition"] == definition).to_numpy()
            pair = pd.DataFrame(
                {
                    "attributed": explained.by_cause[cause].to_numpy()[rows],
                    "true": state[f"hazard_{cause}"].to_numpy()[rows],
                }
            )
            record[definition] = pair.corr(method="spearman").iloc[0, 1]
        records.append(record)
    return pd.DataFrame(records).round(3)


def main() -> None:
    cfg = load_config()
    catalogue, split, parts = split_features(cfg)
    model = load_model(Path(cfg.paths.models_dir))
    explained, truth = explain_with_truth(cfg, model, None, parts["test"])
    top = explained.rows[explained.top_risk]
    composition = (
        pd.DataFrame(
            {
                "churn_definition": top["churn_definition"],
                "truly_churned": truth["truly_churned"][explained.top_risk].to_numpy(),
            }
        )
        .groupby("churn_definition")
        .agg(rows=("truly_churned", "size"), truly_churned=("truly_churned", "mean"))
        .round(3)
    )
    top_causes = explained.customers.loc[explained.top_risk, "risk_cause_1"].value_counts(
        normalize=True
    )

    churn_time = ground_truth(cfg).customers[["customer_id", "churn_time"]]
    horizon = cfg.features.label.horizon_days
    relabelled = {
        name: rows.assign(churned=true_churn(rows, churn_time, horizon).astype("Int8").to_numpy())
        for name, rows in parts.items()
    }
    on_truth = train_model(cfg.model, relabelled, catalogue, cfg.training.calibration, cfg.seed)
    explained_on_truth = explain_with_truth(cfg, on_truth.model, None, relabelled["test"])

    sections = [
        f"Test cutoff {split.test_cutoff.date()}, {len(explained.rows):,} rows.",
        "",
        "## The model's top-risk decile",
        "",
        composition.to_markdown(),
        "",
        "Strongest risk cause among them (share of rows):",
        "",
        top_causes.round(3).to_frame("share").to_markdown(),
        "",
        "## Fidelity of the trained model (the `explain` stage's figures)",
        "",
        fidelity_table(explained, truth).to_markdown(index=False),
        "",
        "## Feature coverage: Spearman(attributed contribution, true hazard component)",
        "",
        cause_coverage(cfg, explained).to_markdown(index=False),
        "",
        "## Diagnosis: the same model trained on the simulator's true churn as label",
        "",
        fidelity_table(*explained_on_truth).to_markdown(index=False),
    ]
    text = "\n".join(sections) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
