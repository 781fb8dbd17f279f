"""Stage `explain`: why each customer of the test cutoff is at risk, by documented cause.

Inputs: `paths.models_dir` (the trained model, its test-cutoff predictions and run record)
and `paths.features_dir`. Every row the train stage scored on the test cutoff is explained
with exact TreeSHAP; the values are on the booster's raw log-odds scale (models/explain.py)
and are summed per cause with `features.causes`.

Outputs, in `paths.explanations_dir`: `shap_values.parquet` (keys and one column per
feature), `causes.parquet` (tidy: customer_id, cutoff, cause, direction, rank,
contribution, share) and `customers.parquet` (probability, raw score and the top risk and
protective causes). `paths.reports_dir`/explain.json holds the DVC metrics (speed,
additivity, fidelity on simulated data) and `paths.reports_dir`/explain/ the plots. The
metrics and figures are also logged to the model's MLflow run.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV

from features.build import DEFINITION, KEYS
from features.catalogue import assign_causes
from models.estimators import model_inputs
from models.explain import (
    SCALE,
    Contributions,
    cause_contributions,
    cause_importance,
    mean_abs_by_feature,
    ranked_causes,
    shap_values,
    top_causes,
    tree_parts,
)
from models.explain_report import (
    beeswarm_figure,
    cause_importance_figure,
    cause_waterfall_figure,
    confusion_figure,
    features_by_cause_figure,
)
from models.metrics import top_k_mask
from models.tracking import use_tracking_store
from pipeline.config import Config
from pipeline.featurize import FEATURES_FILE
from pipeline.io import atomic_directories, write_json
from pipeline.simulator.fidelity import confusion, fidelity_report, true_causes
from pipeline.stage import run_stage
from pipeline.train import MODEL_DIR, PREDICTIONS_FILE, RUN_FILE

log = logging.getLogger(__name__)

SHAP_FILE = "shap_values.parquet"
CAUSES_FILE = "causes.parquet"
CUSTOMERS_FILE = "customers.parquet"
REPORT_FILE = "explain.json"
PLOTS_DIR = "explain"


@dataclass
class Explained:
    """Everything the stage derives from the SHAP values of the test cutoff's rows."""

    rows: pd.DataFrame
    contributions: Contributions
    seconds: float
    by_cause: pd.DataFrame
    ranked: pd.DataFrame
    customers: pd.DataFrame
    causes_of: dict[str, str]
    top_risk: np.ndarray
    truth: pd.DataFrame | None


def run(cfg: Config) -> None:
    models_dir = Path(cfg.paths.models_dir)
    record = json.loads((models_dir / RUN_FILE).read_text(encoding="utf-8"))
    model = mlflow.sklearn.load_model(str(models_dir / MODEL_DIR))
    rows = _test_rows(cfg, pd.read_parquet(models_dir / PREDICTIONS_FILE, columns=list(KEYS)))
    explained = explain(cfg, model, rows)
    report = _report(cfg, record, explained)

    reports_dir = Path(cfg.paths.reports_dir)
    targets = (Path(cfg.paths.explanations_dir), reports_dir / PLOTS_DIR)
    with atomic_directories(*targets) as (out, plots):
        keys = rows[list(KEYS)].reset_index(drop=True)
        values = explained.contributions.by_feature.reset_index(drop=True)
        pd.concat([keys, values], axis=1).to_parquet(out / SHAP_FILE, index=False)
        explained.ranked.to_parquet(out / CAUSES_FILE, index=False)
        explained.customers.to_parquet(out / CUSTOMERS_FILE, index=False)
        _write_plots(cfg, explained, plots)
        _track(cfg, record["run_id"], report, plots)
    write_json(report, reports_dir / REPORT_FILE)


def explain(cfg: Config, model: CalibratedClassifierCV, rows: pd.DataFrame) -> Explained:
    """SHAP values of ``rows`` (feature rows), their causes and, on simulated data, the
    true causes to check them against."""
    columns = list(tree_parts(model)[0].feature_names_in_)
    causes_of = assign_causes(columns, cfg.features.causes, list(cfg.causes))
    inputs = model_inputs(rows, columns)
    started = time.perf_counter()
    contributions = shap_values(model, inputs)
    seconds = time.perf_counter() - started
    log.info("explained %d rows in %.1f s (%.0f rows/s)", len(rows), seconds, len(rows) / seconds)
    probability = model.predict_proba(inputs)[:, 1]
    by_cause = cause_contributions(contributions.by_feature, causes_of)
    ranked = ranked_causes(rows, by_cause)
    customers = top_causes(ranked, rows, cfg.explain.top_causes)
    customers.insert(2, "churn_probability", probability)
    customers.insert(3, "raw_score", contributions.raw_score)
    return Explained(
        rows.reset_index(drop=True),
        contributions,
        seconds,
        by_cause,
        ranked,
        customers,
        causes_of,
        top_k_mask(probability, cfg.explain.top_risk_share),
        true_causes(cfg, rows),
    )


def _test_rows(cfg: Config, keys: pd.DataFrame) -> pd.DataFrame:
    """The feature rows the train stage scored on the test cutoff, in its order."""
    features = pd.read_parquet(
        Path(cfg.paths.features_dir) / FEATURES_FILE,
        filters=[("cutoff", "in", list(keys["cutoff"].unique()))],
    )
    return keys.merge(features, on=list(KEYS), how="left", validate="one_to_one")


def _write_plots(cfg: Config, explained: Explained, plots: Path) -> None:
    """Importance tables as CSV (DVC plots) and every figure as PNG."""
    contributions = explained.contributions
    labels = {name: cause.label for name, cause in cfg.causes.items()}
    tables = {
        "cause_importance": cause_importance(explained.by_cause, explained.top_risk),
        "feature_importance": mean_abs_by_feature(contributions.by_feature, explained.causes_of),
    }
    sample = np.sort(
        np.random.default_rng(cfg.seed).permutation(len(explained.rows))[: cfg.explain.plot_rows]
    )
    probability = explained.customers["churn_probability"].to_numpy()
    riskiest = int(np.argmax(probability))
    figures = {
        "beeswarm": beeswarm_figure(
            contributions.by_feature.iloc[sample],
            contributions.data.iloc[sample],
            contributions.expected_value,
            cfg.seed,
        ),
        "cause_importance": cause_importance_figure(tables["cause_importance"], labels),
        "features_by_cause": features_by_cause_figure(tables["feature_importance"], labels),
        "waterfall": cause_waterfall_figure(
            explained.by_cause.iloc[riskiest],
            contributions.expected_value,
            labels,
            f"Riskiest customer (churn probability {probability[riskiest]:.2f}): "
            "raw log-odds by cause",
        ),
    }
    if explained.truth is not None:
        attributed = explained.customers["risk_cause_1"]
        for group, mask in fidelity_groups(explained).items():
            pairs = pd.DataFrame(
                {
                    "true_cause": explained.truth["true_cause"][mask],
                    "attributed_cause": attributed[mask],
                }
            )
            tables[f"causes_{group}"] = pairs
            figures[f"confusion_{group}"] = confusion_figure(
                confusion(pairs["true_cause"], pairs["attributed_cause"]),
                f"{group.replace('_', ' ')}: true dominant vs top attributed cause",
            )
    for stem, table in tables.items():
        table.to_csv(plots / f"{stem}.csv", index=False, float_format="%.6g")
    for stem, figure in figures.items():
        figure.savefig(plots / f"{stem}.png", dpi=100, metadata={"Software": None})


def fidelity_groups(explained: Explained) -> dict[str, np.ndarray]:
    """The rows fidelity is measured on: the model's top-risk rows, the same number of rows
    with the highest true hazard, and the true churners."""
    truth = explained.truth
    return {
        "top_risk": explained.top_risk,
        "true_top_risk": top_k_mask(truth["true_hazard"].to_numpy(), explained.top_risk.mean()),
        "true_churners": truth["truly_churned"].to_numpy(),
    }


def _report(cfg: Config, record: dict, explained: Explained) -> dict:
    """explain.json: what `dvc metrics` shows and compares across experiments."""
    contributions, seconds = explained.contributions, explained.seconds
    fidelity = None
    if explained.truth is not None:
        fidelity = fidelity_report(
            explained.truth,
            explained.customers["risk_cause_1"],
            explained.rows[DEFINITION],
            fidelity_groups(explained),
        )
    rows = len(contributions.by_feature)
    return {
        "model_version": record["version"],
        "rows": rows,
        "scale": SCALE,
        "expected_value": round(contributions.expected_value, 6),
        "max_additivity_error": contributions.max_additivity_error(),
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds else None,
        "fidelity": fidelity,
    }


def _mlflow_metrics(report: dict) -> dict[str, float]:
    metrics = {
        f"explain.{name}": report[name]
        for name in ("rows", "max_additivity_error", "rows_per_second")
    }
    for group, subsets in (report["fidelity"] or {}).items():
        for subset, values in subsets.items():
            for name in ("agreement", "most_frequent_guess"):
                if name in values:
                    metrics[f"explain.fidelity.{group}.{subset}.{name}"] = values[name]
    return metrics


def _track(cfg: Config, run_id: str, report: dict, plots: Path) -> None:
    """Add the explanation metrics and figures to the model's MLflow run."""
    use_tracking_store(cfg.training.mlflow)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(_mlflow_metrics(report))
        mlflow.set_tag("explain.scale", SCALE)
        mlflow.log_artifacts(str(plots), artifact_path="explain")


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
