"""Where the gap between the model and the oracle comes from, on simulated data.

Trains the configured model on the `train` stage's split (same cutoffs, same calibration,
same test rows) several times: as the pipeline does, with class weighting, and with the
simulator's true state added as extra features: the true purchase rate (latent rate times
lifecycle multiplier), the true weekly churn hazard, or both. If the model given the true
state comes close to the oracle, the model can use the information; the rest of the gap is
information the observable data do not carry. Reads `data/` as written by `dvc repro`.

    python benchmarks/model_vs_oracle.py
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
from default_data import ground_truth, split_features

from models.estimators import labels
from models.fit import train_model
from models.metrics import evaluate
from pipeline.config import Config, load_config
from simulator.oracle import oracle_probability
from simulator.truth import GroundTruth

RESULTS = Path(__file__).parent / "results" / "model_vs_oracle.md"
TRUE_RATE, TRUE_HAZARD = "true_purchase_rate", "true_weekly_hazard"
# No hazard record at a cutoff: the customer had already left. A hazard far above any real
# one says so to the trees.
GONE_HAZARD = 10.0


def with_true_state(cfg: Config, truth: GroundTruth, rows: pd.DataFrame) -> pd.DataFrame:
    hazards = truth.hazards[["customer_id", "cutoff", "stage", "hazard_total"]]
    customers = truth.customers[["customer_id", "purchase_rate"]]
    state = rows[["customer_id", "cutoff"]].merge(hazards, on=["customer_id", "cutoff"], how="left")
    state = state.merge(customers, on="customer_id", how="left")
    multiplier = state["stage"].astype(object).map(cfg.simulator.lifecycle.purchase_multiplier)
    out = rows.reset_index(drop=True).copy()
    out[TRUE_RATE] = (state["purchase_rate"] * multiplier.astype(float)).fillna(0.0).to_numpy()
    out[TRUE_HAZARD] = state["hazard_total"].fillna(GONE_HAZARD).to_numpy()
    return out


def main() -> None:
    cfg = load_config()
    catalogue, split, parts = split_features(cfg)
    truth = ground_truth(cfg)
    parts = {name: with_true_state(cfg, truth, rows) for name, rows in parts.items()}
    y = labels(parts["test"])
    evaluation = cfg.training.evaluation

    def scores(probability) -> dict[str, float]:
        values = evaluate(y, probability, evaluation.top_fractions, evaluation.calibration_bins)
        return {k: round(values[k], 4) for k in ("roc_auc", "pr_auc", "log_loss", "lift_top_10pct")}

    truth_specs = {
        name: {"name": name, "family": "true_state", "dtype": "float32", "cause": "natural"}
        for name in (TRUE_RATE, TRUE_HAZARD)
    }
    variants = {
        "pipeline features (the train stage)": (cfg.model, []),
        "pipeline features, class_weight=balanced": (
            replace(cfg.model, class_weight="balanced"),
            [],
        ),
        "+ true purchase rate": (cfg.model, [TRUE_RATE]),
        "+ true weekly hazard": (cfg.model, [TRUE_HAZARD]),
        "+ true purchase rate and hazard": (cfg.model, [TRUE_RATE, TRUE_HAZARD]),
    }
    table = {}
    for name, (model_cfg, extra) in variants.items():
        specs = catalogue + [truth_specs[column] for column in extra]
        trained = train_model(model_cfg, parts, specs, cfg.training.calibration, cfg.seed)
        table[name] = scores(trained.test_probability)
        print(name, table[name], flush=True)
    table["oracle (true state, no model)"] = scores(
        oracle_probability(truth, parts["test"], cfg.simulator, cfg.features.label.horizon_days)
    )
    result = pd.DataFrame(table).T
    text = (
        f"Test cutoff {split.test_cutoff.date()}, {len(y):,} rows, churn rate {y.mean():.3f}; "
        f"model `{cfg.model.name}` as configured.\n\n{result.to_markdown()}\n"
    )
    print(text)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
