"""Speed of exact TreeSHAP, LightGBM's native contributions against shap, and model size.

Reads `data/` as written by `dvc repro` and retrains on the `train` stage's split:

1. the configured model: explained rows per second on the test cutoff with LightGBM's
   ``pred_contrib`` (on 1 and 2 threads) and with ``shap.TreeExplainer``, and the largest
   difference between the two (they run the same exact algorithm); beside them, how fast
   the train stage's cause model (where the data have stated reasons) names causes;
2. tree size: TreeSHAP costs trees x leaves x depth^2 per row, so smaller trees explain
   faster. For each size: the validation PR-AUC the model is chosen on, explained rows
   per second, and the fidelity of its explanations (top-1 agreement with the true cause
   among the top-risk decile), so a faster setting is judged on what it explains too.

    python benchmarks/bench_explain.py
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import shap
from default_data import split_features
from sklearn.metrics import average_precision_score

from models.cause_model import CauseModel
from models.estimators import best_iteration
from models.explain import shap_values, tree_parts
from models.fit import model_data, train_model
from pipeline.config import load_config
from pipeline.explain import explain_with_truth, fidelity_segments
from pipeline.registry import load_cause_model
from simulator.fidelity import fidelity_report

RESULTS = Path(__file__).parent / "results" / "explain.md"
REPEATS = 3
# (num_leaves, max_depth): LightGBM's default size, then smaller trees.
TREE_SIZES = [(31, -1), (31, 8), (31, 6), (15, -1), (15, 6), (7, -1)]


def best_seconds(work) -> float:
    """The fastest of ``REPEATS`` timed calls: the least disturbed measurement."""
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def implementations(model, cause_model: CauseModel | None, inputs: pd.DataFrame) -> pd.DataFrame:
    encoder, classifier = tree_parts(model)
    encoded = encoder.transform(inputs)
    booster = classifier.booster_
    native = booster.predict(encoded, pred_contrib=True)[:, :-1]
    from_shap = shap.TreeExplainer(booster)(encoded).values  # noqa: PD011 (a shap Explanation)
    rows = len(inputs)
    measured = {
        "lightgbm pred_contrib, 2 threads": best_seconds(
            lambda: booster.predict(encoded, pred_contrib=True, num_threads=2)
        ),
        "lightgbm pred_contrib, 1 thread": best_seconds(
            lambda: booster.predict(encoded, pred_contrib=True, num_threads=1)
        ),
        "shap.TreeExplainer (2 threads)": best_seconds(
            lambda: shap.TreeExplainer(booster)(encoded)
        ),
        "prediction only (calibrated model)": best_seconds(lambda: model.predict_proba(inputs)),
    }
    if cause_model is not None:
        names = cause_model.causes
        measured["cause model: P(cause | x, churn), no SHAP (2 threads)"] = best_seconds(
            lambda: cause_model.probabilities(inputs, names)
        )
    table = pd.DataFrame(
        {
            "implementation": list(measured),
            "rows_per_second": [round(rows / seconds) for seconds in measured.values()],
            "seconds_per_million_rows": [
                round(seconds / rows * 1e6) for seconds in measured.values()
            ],
        }
    )
    table.attrs["max_abs_difference"] = float(np.max(np.abs(native - from_shap)))
    return table


def tree_sizes(cfg, catalogue, parts) -> pd.DataFrame:
    data = model_data(parts, catalogue, cfg.model.families)
    test_inputs = data.inputs["test"]
    records = []
    for leaves, depth in TREE_SIZES:
        model_cfg = replace(
            cfg.model, params={**cfg.model.params, "num_leaves": leaves, "max_depth": depth}
        )
        trained = train_model(model_cfg, parts, catalogue, cfg.training.calibration, cfg.seed)
        validation = trained.model.predict_proba(data.inputs["calibration"])[:, 1]
        seconds = best_seconds(lambda model=trained.model: shap_values(model, test_inputs))
        explained, truth = explain_with_truth(cfg, trained.model, None, parts["test"])
        fidelity = fidelity_report(
            truth,
            explained.risk_causes,
            fidelity_segments(explained.rows),
            {"top_risk": explained.top_risk},
        )["top_risk"]
        records.append(
            {
                "num_leaves": leaves,
                "max_depth": depth,
                "trees": best_iteration(trained.model),
                "validation_pr_auc": round(
                    average_precision_score(data.labels["calibration"], validation), 4
                ),
                "explained_rows_per_second": round(len(test_inputs) / seconds),
                "top_risk_agreement": round(fidelity["all"]["agreement"], 3),
                "top_risk_agreement_contractual": round(fidelity["contractual"]["agreement"], 3),
            }
        )
    return pd.DataFrame(records)


def main() -> None:
    cfg = load_config()
    catalogue, split, parts = split_features(cfg)
    trained = train_model(cfg.model, parts, catalogue, cfg.training.calibration, cfg.seed)
    inputs = model_data(parts, catalogue, cfg.model.families).inputs["test"]
    cause_model = load_cause_model(Path(cfg.paths.models_dir))
    speed = implementations(trained.model, cause_model, inputs)
    sizes = tree_sizes(cfg, catalogue, parts)
    params = cfg.model.params
    lines = [
        f"Test cutoff {split.test_cutoff.date()}, {len(inputs):,} rows x {inputs.shape[1]} "
        f"features; configured model: {params['num_leaves']} leaves, max depth "
        f"{params['max_depth']}, best of {REPEATS} runs.",
        "",
        speed.to_markdown(index=False),
        "",
        f"Largest |LightGBM - shap| over all values: {speed.attrs['max_abs_difference']:.2e}",
        "",
        "Tree size (the model is chosen on validation PR-AUC; the fidelity is on the test "
        "cutoff's top-risk decile):",
        "",
        sizes.to_markdown(index=False),
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
