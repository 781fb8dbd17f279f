"""Do BTYD outputs help the booster? Measured, not assumed.

Fits BG/NBD at every cutoff of the feature table `dvc repro` wrote (purchases before the
cutoff only) and adds P(alive) and the expected purchases in the horizon as two features.
The configured model is trained on the train stage's split with and without them; both
are scored on the test cutoff against the label and, per contract type, against true
churn. Results go to benchmarks/results/btyd_features.md.

    python benchmarks/btyd_features.py
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from default_data import ground_truth
from sklearn.metrics import roc_auc_score

from features.columns import DEFINITION, LABEL
from models.btyd import btyd_forecast
from models.fit import train_model
from models.split import plan_split, split_rows
from pipeline.config import load_config
from pipeline.io import read_feature_table, read_table, validated_paths
from simulator.truth import true_churn

RESULTS = Path(__file__).parent / "results" / "btyd_features.md"
BTYD_FEATURES = {"p_alive": "btyd_p_alive", "expected_purchases": "btyd_expected_purchases"}


def main() -> None:
    cfg = load_config()
    rows, catalogue = read_feature_table(cfg.paths.features_dir)
    purchases = read_table(validated_paths(cfg.paths.validated_dir, cfg.data)["transactions"])
    horizon = cfg.features.label.horizon_days
    started = time.perf_counter()
    forecast = btyd_forecast(purchases[["customer_id", "timestamp"]], rows, horizon)
    seconds = time.perf_counter() - started
    for column, feature in BTYD_FEATURES.items():
        rows[feature] = forecast[column].to_numpy()
    added = [
        {"name": name, "family": "btyd", "dtype": "float32", "cause": "lifecycle_decline"}
        for name in BTYD_FEATURES.values()
    ]
    labelled = list(rows.loc[rows[LABEL].notna(), "cutoff"].unique())
    split = plan_split(labelled, cfg.features.label.lookahead_days, cfg.training.split)
    parts = split_rows(rows, split, cfg.training.split.calibration_share, cfg.seed)
    truth = ground_truth(cfg)
    table = {}
    for name, specs in (
        ("pipeline features", catalogue),
        ("+ BG/NBD P(alive), expected", [*catalogue, *added]),
    ):
        trained = train_model(cfg.model, parts, specs, cfg.training.calibration, cfg.seed)
        test, probability = parts["test"], trained.test_probability
        truly = true_churn(test, truth.customers, horizon).astype(bool).to_numpy()
        result = {"label ROC-AUC": roc_auc_score(test[LABEL].astype(int), probability)}
        for definition in ("non_contractual", "contractual"):
            mine = (test[DEFINITION] == definition).to_numpy()
            result[f"{definition}: true-churn ROC-AUC"] = roc_auc_score(
                truly[mine], probability[mine]
            )
        table[name] = result
        print(name, result, flush=True)
    text = (
        f"Default simulated data, test cutoff {test['cutoff'].iloc[0].date()}, model "
        f"`{cfg.model.name}` as configured. Fitting BG/NBD at all "
        f"{rows['cutoff'].nunique()} cutoffs took {seconds:.0f} s.\n\n"
        + pd.DataFrame(table).T.to_markdown(floatfmt=".4f")
        + "\n"
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
