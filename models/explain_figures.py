"""Figures of the explanations: beeswarm, cause importance, features per cause, a waterfall
by cause for one customer, and the fidelity confusion matrix.

shap draws on pyplot's current figure; each function here gives it a fresh figure and
closes it in pyplot before returning, so no global figure is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure

from models.explain import (
    SCALE,
    Explained,
    cause_importance,
    mean_abs_by_feature,
)


@contextmanager
def _pyplot_figure(size: tuple[float, float]) -> Iterator[Figure]:
    figure = plt.figure(figsize=size)
    try:
        yield figure
    finally:
        plt.close(figure)


@contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """shap's beeswarm jitters points with NumPy's global random state: seed it for the
    plot, so the same values draw the same figure, and restore it afterwards."""
    state = np.random.get_state()  # noqa: NPY002 (shap reads the legacy global state)
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def beeswarm_figure(
    values: pd.DataFrame,
    features: pd.DataFrame,
    expected_value: float,
    seed: int,
    max_display: int = 20,
) -> Figure:
    """SHAP beeswarm of the strongest features (``features``: the rows' encoded inputs)."""
    explanation = shap.Explanation(
        values=values.to_numpy(),
        base_values=np.full(len(values), expected_value),
        data=features.to_numpy(dtype=float),
        feature_names=list(values.columns),
    )
    with _pyplot_figure((8, 0.3 * max_display + 2)) as figure, _global_numpy_seed(seed):
        axes = figure.subplots()
        shap.plots.beeswarm(
            explanation, max_display=max_display, ax=axes, show=False, plot_size=None
        )
        axes.set_title(f"SHAP values of {len(values):,} rows ({SCALE})", fontsize=9)
        figure.tight_layout()
    return figure


def cause_importance_figure(importance: pd.DataFrame, labels: dict[str, str]) -> Figure:
    """Mean |contribution| per cause, every explained row next to the top-risk rows."""
    table = importance.pivot_table(
        index="cause", columns="group", values="mean_abs_contribution", sort=False
    )
    table = table.sort_values("everyone")
    figure = Figure(figsize=(7, 0.45 * len(table) + 1.5))
    axes = figure.subplots()
    positions = np.arange(len(table))
    for offset, group in ((-0.2, "everyone"), (0.2, "top_risk")):
        axes.barh(positions + offset, table[group], height=0.4, label=group.replace("_", "-"))
    axes.set_yticks(positions, [labels.get(cause, cause) for cause in table.index])
    axes.set(title="Cause importance", xlabel="mean |SHAP| summed over the cause's features")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def features_by_cause_figure(
    by_feature: pd.DataFrame, labels: dict[str, str], per_cause: int = 5
) -> Figure:
    """One bar chart per cause: its strongest features by mean |SHAP|."""
    causes = list(dict.fromkeys(by_feature["cause"]))
    columns = 3
    rows = int(np.ceil(len(causes) / columns))
    figure = Figure(figsize=(5 * columns, 2.2 * rows))
    grid = figure.subplots(rows, columns, squeeze=False)
    top = by_feature["mean_abs_shap"].max()
    for axes, cause in zip(grid.flat, causes, strict=False):
        shown = by_feature[by_feature["cause"] == cause].head(per_cause).iloc[::-1]
        axes.barh(shown["feature"], shown["mean_abs_shap"])
        axes.set_xlim(0, top * 1.05)
        axes.set_title(labels.get(cause, cause), fontsize=10)
        axes.tick_params(labelsize=8)
    for axes in grid.flat[len(causes) :]:
        axes.set_visible(False)
    figure.suptitle("Strongest features of each cause (mean |SHAP|)")
    figure.tight_layout()
    return figure


def cause_waterfall_figure(
    contributions: pd.Series, expected_value: float, labels: dict[str, str], title: str
) -> Figure:
    """One customer's raw score built up from the expected value, cause by cause."""
    explanation = shap.Explanation(
        values=contributions.to_numpy(dtype=float),
        base_values=expected_value,
        feature_names=[labels.get(cause, cause) for cause in contributions.index],
    )
    with _pyplot_figure((8, 5)) as figure:
        shap.plots.waterfall(explanation, max_display=len(contributions), show=False)
        figure.axes[0].set_title(title, fontsize=10)
        figure.set_size_inches(8, 5)
        figure.tight_layout()
    return figure


def confusion_figure(table: pd.DataFrame, title: str) -> Figure:
    """Heat map of row shares per true cause, with the counts written in."""
    shares = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    figure = Figure(figsize=(8, 6.5))
    axes = figure.subplots()
    image = axes.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(table.columns)), table.columns, rotation=45, ha="right")
    axes.set_yticks(range(len(table.index)), table.index)
    for (row, column), count in np.ndenumerate(table.to_numpy()):
        if count:
            axes.text(column, row, str(count), ha="center", va="center", fontsize=8)
    axes.set(title=title, xlabel="top attributed cause", ylabel="true dominant cause")
    figure.colorbar(image, ax=axes, label="share of the true cause's rows")
    figure.tight_layout()
    return figure


def explanation_plots(
    explained: Explained, labels: dict[str, str], seed: int, plot_rows: int
) -> tuple[dict[str, pd.DataFrame], dict[str, Figure]]:
    """Importance tables (DVC plots) and the figures of the explanations, by file stem:
    the beeswarm of ``plot_rows`` rows drawn with ``seed``, cause importance, features by
    cause and the waterfall of the riskiest customer; ``labels`` names the causes."""
    contributions = explained.contributions
    tables = {
        "cause_importance": cause_importance(explained.by_cause, explained.top_risk),
        "feature_importance": mean_abs_by_feature(contributions.by_feature, explained.causes_of),
    }
    sample = np.sort(np.random.default_rng(seed).permutation(len(explained.rows))[:plot_rows])
    probability = explained.customers["churn_probability"].to_numpy()
    riskiest = int(np.argmax(probability))
    figures = {
        "beeswarm": beeswarm_figure(
            contributions.by_feature.iloc[sample],
            contributions.data.iloc[sample],
            contributions.expected_value,
            seed,
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
    return tables, figures
