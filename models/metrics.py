"""Evaluation metrics of churn probabilities, and the curves behind the plots.

Every function takes true labels (0/1) and predicted churn probabilities. Ranking metrics
(ROC-AUC, PR-AUC, lift and precision/recall at the top k%) say whether the riskiest
customers come first; log loss, Brier score and the expected calibration error say whether
the probabilities can be trusted as probabilities, which the expected-value ranking of the
retention lists relies on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics

log = logging.getLogger(__name__)


def top_k_mask(probability: np.ndarray, fraction: float) -> np.ndarray:
    """The ``fraction`` of rows with the highest probability (ties broken by row order)."""
    k = max(1, round(len(probability) * fraction))
    order = np.argsort(-probability, kind="stable")
    mask = np.zeros(len(probability), dtype=bool)
    mask[order[:k]] = True
    return mask


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, bins: int) -> float:
    """Mean |churn rate - mean probability| over equal-count bins, weighted by bin size."""
    table = calibration_table(y, probability, bins)
    return float(
        np.average(np.abs(table["churn_rate"] - table["mean_probability"]), weights=table["rows"])
    )


def calibration_table(y: np.ndarray, probability: np.ndarray, bins: int) -> pd.DataFrame:
    """Rows, mean probability and churn rate of equal-count bins of the probability."""
    order = np.argsort(probability, kind="stable")
    groups = np.array_split(order, bins)
    return pd.DataFrame(
        {
            "bin": np.arange(1, len(groups) + 1),
            "rows": [len(g) for g in groups],
            "mean_probability": [probability[g].mean() for g in groups],
            "churn_rate": [y[g].mean() for g in groups],
        }
    )


# Metrics where higher is better: only these can decide which model is the champion.
RANKING_METRICS = ("roc_auc", "pr_auc")
TOP_METRICS = ("precision", "recall", "lift")


def top_metric_names(top_fractions: list[float]) -> list[str]:
    """Names of the top-k% metrics, e.g. ``lift_top_10pct``."""
    return [f"{kind}_{_top(fraction)}" for fraction in top_fractions for kind in TOP_METRICS]


def higher_is_better(top_fractions: list[float]) -> list[str]:
    """The metrics that can rank models: higher is better."""
    return [*RANKING_METRICS, *top_metric_names(top_fractions)]


def _top(fraction: float) -> str:
    return f"top_{round(fraction * 100)}pct"


TOP_METRIC = re.compile(r"^(precision|recall|lift)_top_(\d+)pct$")


def ranking_metric(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """The higher-is-better metric ``name`` (``pr_auc``, ``lift_top_10pct``, ...) alone, as
    ``metric(y, probability)``: what a paired bootstrap recomputes on every resample."""
    if name == "roc_auc":
        return lambda y, p: float(metrics.roc_auc_score(y, p))
    if name == "pr_auc":
        return lambda y, p: float(metrics.average_precision_score(y, p))
    matched = TOP_METRIC.match(name)
    if matched is None:
        raise ValueError(f"{name!r} is not a higher-is-better metric")
    kind, fraction = matched[1], int(matched[2]) / 100

    def top_metric(y: np.ndarray, probability: np.ndarray) -> float:
        caught = y[top_k_mask(probability, fraction)]
        return float(
            {
                "precision": caught.mean(),
                "recall": caught.sum() / max(y.sum(), 1),
                "lift": caught.mean() / y.mean(),
            }[kind]
        )

    return top_metric


def evaluate(
    y: np.ndarray, probability: np.ndarray, top_fractions: list[float], calibration_bins: int
) -> dict[str, float]:
    """Every metric of the report, keyed by name (``lift_top_10pct`` and so on)."""
    clipped = np.clip(probability, 1e-15, 1 - 1e-15)
    scores = {
        "roc_auc": metrics.roc_auc_score(y, probability),
        "pr_auc": metrics.average_precision_score(y, probability),
        "log_loss": metrics.log_loss(y, clipped, labels=[0, 1]),
        "brier": metrics.brier_score_loss(y, probability),
        "calibration_error": expected_calibration_error(y, probability, calibration_bins),
        "churn_rate": y.mean(),
        "rows": len(y),
    }
    for fraction in top_fractions:
        top = top_k_mask(probability, fraction)
        name = _top(fraction)
        precision = y[top].mean()
        scores[f"precision_{name}"] = precision
        scores[f"recall_{name}"] = y[top].sum() / max(y.sum(), 1)
        scores[f"lift_{name}"] = precision / y.mean()
    return {name: float(value) for name, value in scores.items()}


def evaluate_models(
    y: np.ndarray, scores: dict[str, np.ndarray], top_fractions: list[float], bins: int
) -> dict[str, dict[str, float]]:
    """``evaluate`` for each model's probabilities in ``scores``, by model name."""
    metrics = {name: evaluate(y, p, top_fractions, bins) for name, p in scores.items()}
    for name, values in metrics.items():
        log.info("%s: ROC-AUC %.4f, PR-AUC %.4f", name, values["roc_auc"], values["pr_auc"])
    return metrics


def roc_curve_table(y: np.ndarray, probability: np.ndarray) -> pd.DataFrame:
    fpr, tpr, _ = metrics.roc_curve(y, probability, drop_intermediate=True)
    return pd.DataFrame({"false_positive_rate": fpr, "true_positive_rate": tpr})


def pr_curve_table(y: np.ndarray, probability: np.ndarray) -> pd.DataFrame:
    precision, recall, _ = metrics.precision_recall_curve(y, probability, drop_intermediate=True)
    return pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})


def gain_table(y: np.ndarray, probability: np.ndarray, points: int = 100) -> pd.DataFrame:
    """Cumulative gain and lift when contacting the riskiest x% of customers."""
    order = np.argsort(-probability, kind="stable")
    caught = np.cumsum(y[order]) / max(y.sum(), 1)
    share = np.arange(1, len(y) + 1) / len(y)
    at = np.unique(np.ceil(np.linspace(0, len(y), points + 1)[1:]).astype(int)) - 1
    return pd.DataFrame(
        {
            "contacted_share": share[at],
            "churners_caught_share": caught[at],
            "lift": caught[at] / share[at],
        }
    )
