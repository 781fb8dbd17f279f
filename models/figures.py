"""Figures comparing models on the test cutoff, and the main model's feature importance
(the stage writes them: no file I/O here).

Each figure function takes the test labels and a mapping of model name to predicted
probability, so the main model, the baselines and (on simulated data) the oracle share
one set of axes. Figures are plain matplotlib ``Figure`` objects, not pyplot state, so
building them in a stage or a notebook leaves no global figures behind.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import CalibratedClassifierCV

from models.metrics import (
    calibration_table,
    gain_table,
    pr_curve_table,
    roc_curve_table,
)

Scores = dict[str, np.ndarray]


def _axes(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(6, 5))
    axes = figure.subplots()
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def _curve_figure(
    y: np.ndarray,
    scores: Scores,
    curve: Callable[[np.ndarray, np.ndarray], pd.DataFrame],
    columns: tuple[str, str],
    axes_text: tuple[str, str, str],
) -> tuple[Figure, Axes]:
    """One line per model: ``columns`` (x, y) of ``curve(y, probability)``."""
    figure, axes = _axes(*axes_text)
    x, y_column = columns
    for name, probability in scores.items():
        table = curve(y, probability)
        axes.plot(table[x], table[y_column], label=name)
    return figure, axes


def roc_figure(y: np.ndarray, scores: Scores) -> Figure:
    figure, axes = _curve_figure(
        y,
        scores,
        roc_curve_table,
        ("false_positive_rate", "true_positive_rate"),
        ("ROC, test cutoff", "false positive rate", "true positive rate"),
    )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    axes.legend(loc="lower right")
    return figure


def pr_figure(y: np.ndarray, scores: Scores) -> Figure:
    figure, axes = _curve_figure(
        y,
        scores,
        pr_curve_table,
        ("recall", "precision"),
        ("Precision-recall, test cutoff", "recall", "precision"),
    )
    axes.axhline(y.mean(), color="grey", linestyle=":", label="churn rate")
    axes.legend(loc="upper right")
    return figure


def calibration_figure(y: np.ndarray, scores: Scores, bins: int) -> Figure:
    figure, axes = _curve_figure(
        y,
        scores,
        lambda y, p: calibration_table(y, p, bins),
        ("mean_probability", "churn_rate"),
        ("Calibration, test cutoff", "mean predicted probability", "churn rate"),
    )
    for line in axes.get_lines():
        line.set_marker("o")
    top = max(float(np.max(line.get_xdata())) for line in axes.get_lines())
    axes.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    axes.legend(loc="upper left")
    return figure


def gain_figure(y: np.ndarray, scores: Scores) -> Figure:
    figure, axes = _curve_figure(
        y,
        scores,
        gain_table,
        ("contacted_share", "churners_caught_share"),
        (
            "Cumulative gain, test cutoff",
            "share of customers contacted, riskiest first",
            "share of churners reached",
        ),
    )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    axes.legend(loc="lower right")
    return figure


def reliability_figure(reliability: pd.DataFrame, horizon_days: int) -> Figure:
    """BG/NBD's expected against observed purchases in the horizon, per forecast decile."""
    figure, axes = _axes(
        f"BG/NBD reliability, test cutoff: purchases in {horizon_days} days",
        "expected purchases (mean per forecast decile)",
        "observed purchases (mean)",
    )
    axes.plot(reliability["expected_purchases"], reliability["observed_purchases"], marker="o")
    top = float(reliability[["expected_purchases", "observed_purchases"]].to_numpy().max())
    axes.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    axes.legend(loc="upper left")
    return figure


def feature_importance(model: CalibratedClassifierCV) -> pd.DataFrame:
    """Importance of each model input, largest first: LightGBM's total gain, or the absolute
    coefficient of a standardised input for logistic regression; empty for the RFM rule."""
    pipeline = model.estimator.estimator
    prepare, estimator = pipeline[:-1], pipeline.steps[-1][1]
    if hasattr(estimator, "booster_"):
        names = estimator.booster_.feature_name()
        values = estimator.booster_.feature_importance(importance_type="gain")
    elif hasattr(estimator, "coef_"):
        names = list(prepare.get_feature_names_out())
        values = np.abs(estimator.coef_[0])
    else:
        return pd.DataFrame({"feature": [], "importance": []})
    table = pd.DataFrame({"feature": names, "importance": values / max(values.sum(), 1e-12)})
    return table.sort_values("importance", ascending=False, ignore_index=True)


def importance_figure(importance: pd.DataFrame, top: int = 25) -> Figure:
    shown = importance.head(top).iloc[::-1]
    figure = Figure(figsize=(7, 0.25 * len(shown) + 1.5))
    axes = figure.subplots()
    axes.barh(shown["feature"], shown["importance"])
    axes.set(title=f"Feature importance (top {len(shown)})", xlabel="share of total importance")
    figure.tight_layout()
    return figure


def comparison_figures(y: np.ndarray, scores: Scores, bins: int) -> dict[str, Figure]:
    """Every comparison figure, by file stem."""
    return {
        "roc": roc_figure(y, scores),
        "precision_recall": pr_figure(y, scores),
        "calibration": calibration_figure(y, scores, bins),
        "gain": gain_figure(y, scores),
    }


def training_plots(
    y: np.ndarray,
    scores: Scores,
    main_name: str,
    main_model: CalibratedClassifierCV,
    bins: int,
) -> tuple[dict[str, pd.DataFrame], dict[str, Figure]]:
    """The main model's curves and feature importance as tables (DVC plots compare them
    across experiments) and the figures comparing every model, by file stem."""
    main = scores[main_name]
    tables = {
        "roc": roc_curve_table(y, main),
        "precision_recall": pr_curve_table(y, main),
        "calibration": calibration_table(y, main, bins),
        "gain": gain_table(y, main),
        "importance": feature_importance(main_model),
    }
    figures = {
        **comparison_figures(y, scores, bins),
        "importance": importance_figure(tables["importance"]),
    }
    return tables, figures
