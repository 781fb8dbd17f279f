"""Stage `explain`: why each customer of the test cutoff is at risk, by documented cause.

Inputs: `paths.models_dir` (the trained model, the cause model if the data have stated
reasons, the test-cutoff predictions and run record) and `paths.features_dir`. Every row
the train stage scored on the test cutoff (at most `explain.max_rows`, drawn at random
beyond it) is explained with exact TreeSHAP; the values are on the booster's raw log-odds
scale (models/explain.py) and are summed per cause with `features.causes`. Each row's
causes are named in percentage points of churn probability: by the cause model where there
is one, else by the SHAP values (models/explain.py).

Outputs, in `paths.explanations_dir`: the SHAP values (keys and one column per feature),
the tidy causes table of the SHAP values (customer_id, cutoff, cause, direction, rank,
contribution, share) and the customers table (probability, raw score, the named risk
causes with their points and the strongest protective causes);
file names in pipeline/artifacts.py. `paths.explain_report` holds the DVC metrics (speed,
additivity, fidelity on simulated data) and `paths.explain_plots` the plots. The metrics
and figures are also logged to the model's MLflow run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import CalibratedClassifierCV

from features.catalogue import cause_patterns
from features.columns import DEFINITION, KEYS
from models.cause_model import CauseModel
from models.explain import SCALE, Explained, explain_rows
from models.explain_figures import confusion_figure, explanation_plots
from models.metrics import top_k_mask
from pipeline.artifacts import (
    CAUSES,
    EXPLAINED_CUSTOMERS,
    FEATURES,
    PREDICTIONS,
    RUN_RECORD,
    SHAP_VALUES,
    ground_truth_dir,
)
from pipeline.config import Config
from pipeline.io import (
    atomic_directories,
    read_catalogue,
    read_ground_truth,
    write_json,
    write_plots,
)
from pipeline.registry import load_cause_model, load_model
from pipeline.stage import run_stage
from pipeline.tracking import log_explanations
from simulator.fidelity import confusion, fidelity_report, true_causes

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    models_dir = Path(cfg.paths.models_dir)
    record = json.loads((models_dir / RUN_RECORD).read_text(encoding="utf-8"))
    model, cause_model = load_model(models_dir), load_cause_model(models_dir)
    test_keys = pd.read_parquet(models_dir / PREDICTIONS, columns=list(KEYS))
    keys = sample_keys(test_keys, cfg.explain.max_rows, cfg.seed)
    rows = _test_rows(Path(cfg.paths.features_dir), keys)
    explained, truth = explain_with_truth(cfg, model, cause_model, rows)
    report = {
        "test_rows": len(test_keys),
        **_report(explained, truth, read_catalogue(cfg.paths.features_dir)),
    }

    labels = {name: cause.label for name, cause in cfg.causes.items()}
    tables, figures = explanation_plots(explained, labels, cfg.seed, cfg.explain.plot_rows)
    if truth is not None:
        fidelity_tables, fidelity_figures = _fidelity_plots(explained, truth)
        tables, figures = tables | fidelity_tables, figures | fidelity_figures
    targets = (Path(cfg.paths.explanations_dir), Path(cfg.paths.explain_plots))
    with atomic_directories(*targets) as (out, plots):
        keys = rows[list(KEYS)].reset_index(drop=True)
        values = explained.contributions.by_feature.reset_index(drop=True)
        pd.concat([keys, values], axis=1).to_parquet(out / SHAP_VALUES, index=False)
        explained.ranked.to_parquet(out / CAUSES, index=False)
        explained.customers.to_parquet(out / EXPLAINED_CUSTOMERS, index=False)
        write_plots(plots, tables, figures)
        speed = {
            "seconds": explained.seconds,
            "rows_per_second": explained.rows_per_second,
            "naming_rows_per_second": explained.naming_rows_per_second,
        }
        log_explanations(cfg.tracking, record["run_id"], report, speed, plots)
    write_json(report, Path(cfg.paths.explain_report))


def explain_with_truth(
    cfg: Config,
    model: CalibratedClassifierCV,
    cause_model: CauseModel | None,
    rows: pd.DataFrame,
) -> tuple[Explained, pd.DataFrame | None]:
    """The explanations of ``rows`` (causes named by ``cause_model``, or by the SHAP values
    without one) and, on simulated data, their true causes (None on other data)."""
    explain = cfg.explain
    explained = explain_rows(
        model,
        cause_model,
        rows,
        cause_patterns(cfg.features, cfg.data),
        list(cfg.causes),
        explain.context_causes,
        explain.top_causes,
        explain.top_risk_share,
    )
    truth_dir = ground_truth_dir(cfg.paths.ground_truth_dir, cfg.data)
    if truth_dir is None:
        return explained, None
    horizon = cfg.features.label.horizon_days
    return explained, true_causes(read_ground_truth(truth_dir), rows, horizon)


def sample_keys(keys: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """``keys`` when there are at most ``max_rows`` of them (or it is None), else that many
    drawn at random with ``seed``, in their order."""
    if max_rows is None or len(keys) <= max_rows:
        return keys
    drawn = np.sort(np.random.default_rng(seed).permutation(len(keys))[:max_rows])
    log.info("explaining %d of the test cutoff's %d rows, drawn at random", max_rows, len(keys))
    return keys.iloc[drawn].reset_index(drop=True)


def _test_rows(features_dir: Path, keys: pd.DataFrame) -> pd.DataFrame:
    """The feature rows the train stage scored on the test cutoff, in its order."""
    features = pd.read_parquet(
        features_dir / FEATURES, filters=[("cutoff", "in", list(keys["cutoff"].unique()))]
    )
    return keys.merge(features, on=list(KEYS), how="left", validate="one_to_one")


def fidelity_groups(explained: Explained, truth: pd.DataFrame) -> dict[str, np.ndarray]:
    """The rows fidelity is measured on: the model's top-risk rows, the same number of rows
    with the highest true hazard, and the true churners."""
    return {
        "top_risk": explained.top_risk,
        "true_top_risk": top_k_mask(truth["true_hazard"].to_numpy(), explained.top_risk.mean()),
        "true_churners": truth["truly_churned"].to_numpy(),
    }


def fidelity_segments(rows: pd.DataFrame) -> list[pd.Series]:
    """The segments fidelity is reported per: each row's churn definition and, where the
    data have it, its contract type (``contract_type/<type>``)."""
    segments = [rows[DEFINITION]]
    if "contract_type" in rows.columns:
        segments.append("contract_type/" + rows["contract_type"].astype("string"))
    return segments


def _fidelity_plots(
    explained: Explained, truth: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], dict[str, Figure]]:
    """True dominant vs top attributed cause, as pairs (DVC plots) and confusion figures."""
    attributed = explained.customers["risk_cause_1"]
    tables, figures = {}, {}
    for group, mask in fidelity_groups(explained, truth).items():
        pairs = pd.DataFrame(
            {"true_cause": truth["true_cause"][mask], "attributed_cause": attributed[mask]}
        )
        tables[f"causes_{group}"] = pairs
        figures[f"confusion_{group}"] = confusion_figure(
            confusion(pairs["true_cause"], pairs["attributed_cause"]),
            f"{group.replace('_', ' ')}: true dominant vs top attributed cause",
        )
    return tables, figures


def _report(explained: Explained, truth: pd.DataFrame | None, catalogue: list[dict]) -> dict:
    """The explain report: what `dvc metrics` shows and compares across experiments, and
    the evidence the explanations stand on (the model's feature families and causes).
    Only what the same inputs reproduce: the timing goes to MLflow alone."""
    contributions = explained.contributions
    explained_features = set(contributions.by_feature.columns)
    used = [spec for spec in catalogue if spec["name"] in explained_features]
    fidelity = None
    if truth is not None:
        fidelity = fidelity_report(
            truth,
            explained.risk_causes,
            fidelity_segments(explained.rows),
            fidelity_groups(explained, truth),
        )
    return {
        "rows": len(contributions.by_feature),
        "causes_named_by": explained.method,
        "scale": SCALE,
        "expected_value": round(contributions.expected_value, 6),
        "max_additivity_error": contributions.max_additivity_error(),
        "fidelity": fidelity,
        "families": sorted({spec["family"] for spec in used}),
        "causes_with_evidence": sorted({spec["cause"] for spec in used}),
    }


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
