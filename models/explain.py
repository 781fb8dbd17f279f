"""SHAP values of the LightGBM model, summed into the documented churn causes, and the
causes each customer is named, in percentage points of churn probability.

Exact TreeSHAP comes from LightGBM itself (``pred_contrib``): ``shap.TreeExplainer`` runs
the same algorithm on a LightGBM booster and returns identical values
(benchmarks/bench_explain.py). The values explain the booster's raw output, the
log-odds of churn *before* calibration: per row, the expected value plus the row's
values equals that raw score. Calibration is a monotone map on top, so the ranking of
causes within a row is the same on the probability scale.

A cause's contribution is the sum of the values of its features (``features.causes`` in
config). A positive contribution pushes this customer's risk above the average
customer's: a *risk* cause. A negative one holds the customer back: a *protective*
cause.

The causes *named* for a customer (``risk_cause_<k>`` with ``risk_points_<k>``) come from
the cause model where the data have stated reasons (models/cause_model.py: the churn
probability split into causes); otherwise from the SHAP values, as the percentage points
by which the calibrated churn probability would fall without the cause's push, leaving
out the context causes (``explain.context_causes``) that describe a customer's segment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer

from contract.errors import ConfigError
from features.catalogue import assign_causes
from features.columns import KEYS
from models.cause_model import CauseModel, risk_points
from models.estimators import model_inputs
from models.metrics import top_k_mask

log = logging.getLogger(__name__)

SCALE = "raw log-odds of the LightGBM booster, before calibration"
RISK = "risk"
PROTECTIVE = "protective"
CAUSE_MODEL = "cause model"  # how causes were named (Explained.method)
SHAP = "SHAP"


@dataclass
class Contributions:
    """SHAP values (rows x features) on the ``SCALE`` of the booster's raw output, with
    the encoded feature values they explain (categories as codes)."""

    by_feature: pd.DataFrame
    expected_value: float
    raw_score: np.ndarray
    data: pd.DataFrame

    def max_additivity_error(self) -> float:
        """Largest |expected value + sum of a row's values - raw score| over the rows."""
        total = self.expected_value + self.by_feature.to_numpy().sum(axis=1)
        return float(np.max(np.abs(total - self.raw_score), initial=0.0))


def tree_parts(model: CalibratedClassifierCV) -> tuple[ColumnTransformer, lgb.LGBMClassifier]:
    """The category encoder and the LightGBM classifier inside a calibrated model."""
    pipeline = model.estimator.estimator  # CalibratedClassifierCV(FrozenEstimator(Pipeline))
    encoder, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
    if not isinstance(classifier, lgb.LGBMClassifier):
        raise ConfigError(
            f"explanations need a LightGBM model (model=lightgbm); this one is "
            f"{type(classifier).__name__}"
        )
    return encoder, classifier


def shap_values(model: CalibratedClassifierCV, inputs: pd.DataFrame) -> Contributions:
    """Exact SHAP values of ``inputs`` (the model's input frame, rows x features)."""
    encoder, classifier = tree_parts(model)
    encoded = encoder.transform(inputs)
    booster = classifier.booster_
    raw_score = booster.predict(encoded, raw_score=True)
    contributions = booster.predict(encoded, pred_contrib=True)
    values = contributions[:, :-1]
    expected = float(contributions[0, -1]) if len(encoded) else 0.0
    columns = list(inputs.columns)
    frame = pd.DataFrame(values, columns=list(encoded.columns), index=inputs.index)
    return Contributions(frame[columns], expected, raw_score, encoded[columns])


def cause_contributions(values: pd.DataFrame, causes_of: dict[str, str]) -> pd.DataFrame:
    """Rows x causes: each cause's contribution is the sum of its features' values.

    Columns follow the order in which causes first appear in ``causes_of``.
    """
    order = list(dict.fromkeys(causes_of[name] for name in values.columns))
    summed = values.T.groupby(values.columns.map(causes_of), sort=False).sum().T
    return summed[order]


def ranked_causes(keys: pd.DataFrame, by_cause: pd.DataFrame) -> pd.DataFrame:
    """The tidy table: one row per customer, cutoff and cause with a nonzero contribution.

    ``direction`` is risk (pushes churn risk up) or protective (holds it down); ``rank``
    orders causes within a direction by the size of their contribution (1 = strongest);
    ``share`` is the contribution's part of its direction's total.
    """
    long = (
        pd.concat(
            [keys[list(KEYS)].reset_index(drop=True), by_cause.reset_index(drop=True)], axis=1
        )
        .melt(id_vars=list(KEYS), var_name="cause", value_name="contribution")
        .query("contribution != 0")
    )
    long["direction"] = np.where(long["contribution"] > 0, RISK, PROTECTIVE)
    size = long["contribution"].abs()
    group = [long[key] for key in KEYS] + [long["direction"]]
    long["share"] = size / size.groupby(group).transform("sum")
    long["rank"] = size.groupby(group).rank(method="first", ascending=False).astype("int16")
    return long.sort_values([*KEYS, "direction", "rank"], ascending=[True, True, False, True])[
        [*KEYS, "cause", "direction", "rank", "contribution", "share"]
    ].reset_index(drop=True)


def top_causes(ranked: pd.DataFrame, keys: pd.DataFrame, n: int) -> pd.DataFrame:
    """One row per key of ``keys``: the ``n`` strongest risk causes and protective causes
    with their shares (``risk_cause_1``, ``risk_share_1``, ...; empty where fewer)."""
    wide = keys[list(KEYS)].reset_index(drop=True)
    top = ranked[ranked["rank"] <= n]
    for direction in (RISK, PROTECTIVE):
        for rank in range(1, n + 1):
            picked = top.loc[
                (top["direction"] == direction) & (top["rank"] == rank), [*KEYS, "cause", "share"]
            ].rename(
                columns={"cause": f"{direction}_cause_{rank}", "share": f"{direction}_share_{rank}"}
            )
            wide = wide.merge(picked, on=list(KEYS), how="left")
    return wide


def calibrated_probability(model: CalibratedClassifierCV, raw_score: np.ndarray) -> np.ndarray:
    """The calibrated churn probability of booster raw scores (any shape): the calibration
    maps take LightGBM's decision function, its raw score, and ``predict_proba`` averages
    them (tests/logic/test_cause_model.py checks it gives ``predict_proba``)."""
    raw = np.asarray(raw_score, dtype=float)
    calibrated = np.mean(
        [part.calibrators[0].predict(raw.ravel()) for part in model.calibrated_classifiers_],
        axis=0,
    )
    return calibrated.reshape(raw.shape)


def check_context_causes(context_causes: list[str], cause_names: list[str]) -> None:
    """Every context cause (``explain.context_causes``) is a documented cause."""
    unknown = sorted(set(context_causes) - set(cause_names))
    if unknown:
        raise ConfigError(
            f"explain.context_causes: {unknown} are not documented causes (`causes`: {cause_names})"
        )


def shap_points(
    model: CalibratedClassifierCV,
    raw_score: np.ndarray,
    by_cause: pd.DataFrame,
    context_causes: list[str],
) -> pd.DataFrame:
    """Rows x causes (``context_causes`` left out): the percentage points by which a row's
    calibrated churn probability would fall without the cause's push on its raw score,
    100 * (p(raw) - p(raw - contribution)); 0 for a cause that holds the risk down."""
    risk = by_cause.drop(columns=context_causes, errors="ignore").clip(lower=0)
    raw = np.asarray(raw_score, dtype=float)[:, None]
    points = calibrated_probability(model, raw) - calibrated_probability(
        model, raw - risk.to_numpy()
    )
    return pd.DataFrame(100 * points, index=by_cause.index, columns=risk.columns)


def named_causes(points: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per row, the ``n`` causes with the most points, most first (``risk_cause_1``,
    ``risk_points_1``, ...); empty past the causes with points above zero."""
    values = points.to_numpy(dtype=float)
    order = np.argsort(-values, axis=1, kind="stable")
    top = np.take_along_axis(values, order, axis=1)
    names = np.asarray(points.columns, dtype=object)[order]
    named = {}
    for k in range(n):
        has = top[:, k] > 0 if k < values.shape[1] else np.zeros(len(points), dtype=bool)
        named[f"risk_cause_{k + 1}"] = np.where(has, names[:, min(k, values.shape[1] - 1)], None)
        named[f"risk_points_{k + 1}"] = np.where(has, top[:, min(k, values.shape[1] - 1)], np.nan)
    return pd.DataFrame(named, index=points.index)


def cause_points(
    model: CalibratedClassifierCV,
    cause_model: CauseModel | None,
    rows: pd.DataFrame,
    probability: np.ndarray,
    contributions: Callable[[], tuple[np.ndarray, pd.DataFrame]],
    cause_names: list[str],
    context_causes: list[str],
) -> pd.DataFrame:
    """Rows x causes in percentage points of churn probability, by the cause model when
    there is one (``risk_points``), else by the SHAP values ``contributions`` gives (raw
    scores and rows x causes; computed only then) without the context causes."""
    if cause_model is not None:
        by_cause = cause_model.probabilities(rows.reset_index(drop=True), cause_names)
        return risk_points(probability, by_cause)
    raw_score, by_cause = contributions()
    return shap_points(model, raw_score, by_cause, context_causes)


def mean_abs_by_feature(values: pd.DataFrame, causes_of: dict[str, str]) -> pd.DataFrame:
    """Global feature importance: mean |SHAP| per feature, with its cause, largest first."""
    table = pd.DataFrame(
        {
            "feature": values.columns,
            "cause": [causes_of[name] for name in values.columns],
            "mean_abs_shap": values.abs().mean().to_numpy(),
        }
    )
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def cause_importance(by_cause: pd.DataFrame, top_risk: np.ndarray) -> pd.DataFrame:
    """Mean |contribution| and mean contribution per cause, among every explained row and
    among the top-risk rows (``top_risk``, a boolean mask), one row per cause and group."""
    groups = {"everyone": np.ones(len(by_cause), dtype=bool), "top_risk": np.asarray(top_risk)}
    tables = [
        pd.DataFrame(
            {
                "cause": by_cause.columns,
                "group": group,
                "rows": int(mask.sum()),
                "mean_abs_contribution": by_cause[mask].abs().mean().to_numpy(),
                "mean_contribution": by_cause[mask].mean().to_numpy(),
            }
        )
        for group, mask in groups.items()
    ]
    return pd.concat(tables, ignore_index=True)


@dataclass
class Explained:
    """Everything derived from the SHAP values of a set of feature rows, and the causes
    named for each row (``method``: by the cause model or by the SHAP values)."""

    rows: pd.DataFrame
    contributions: Contributions
    seconds: float
    by_cause: pd.DataFrame
    ranked: pd.DataFrame
    customers: pd.DataFrame
    causes_of: dict[str, str]
    top_risk: np.ndarray
    method: str
    naming_seconds: float

    @property
    def rows_per_second(self) -> float | None:
        return round(len(self.rows) / self.seconds, 1) if self.seconds else None

    @property
    def naming_rows_per_second(self) -> float | None:
        """Rows per second of naming causes alone (the cost a scoring run pays)."""
        return round(len(self.rows) / self.naming_seconds, 1) if self.naming_seconds else None

    @property
    def risk_causes(self) -> pd.DataFrame:
        """Each row's named risk causes, strongest first (``risk_cause_1``, ...)."""
        return self.customers.filter(regex=r"^risk_cause_\d+$")


def explain_rows(
    model: CalibratedClassifierCV,
    cause_model: CauseModel | None,
    rows: pd.DataFrame,
    cause_patterns: dict[str, str],
    cause_names: list[str],
    context_causes: list[str],
    n_causes: int,
    top_risk_share: float,
) -> Explained:
    """SHAP values of ``rows`` (feature rows), summed into causes (``cause_patterns``:
    feature pattern -> cause) and ranked; the ``n_causes`` causes named per row (by
    ``cause_model`` when there is one, else by the SHAP values without
    ``context_causes``) in percentage points, the strongest protective causes, and the
    ``top_risk_share`` of rows of highest churn probability."""
    columns = list(tree_parts(model)[0].feature_names_in_)
    causes_of = assign_causes(columns, cause_patterns, cause_names)
    check_context_causes(context_causes, cause_names)
    inputs = model_inputs(rows, columns)
    started = time.perf_counter()
    contributions = shap_values(model, inputs)
    seconds = time.perf_counter() - started
    log.info("explained %d rows in %.1f s (%.0f rows/s)", len(rows), seconds, len(rows) / seconds)
    probability = model.predict_proba(inputs)[:, 1]
    by_cause = cause_contributions(contributions.by_feature, causes_of)
    ranked = ranked_causes(rows, by_cause)
    started = time.perf_counter()
    points = cause_points(
        model,
        cause_model,
        rows,
        probability,
        lambda: (contributions.raw_score, by_cause),
        cause_names,
        context_causes,
    )
    named = named_causes(points.reset_index(drop=True), n_causes)
    naming_seconds = time.perf_counter() - started
    protective = top_causes(ranked, rows, n_causes).filter(regex=f"^{PROTECTIVE}_")
    customers = pd.concat([rows[list(KEYS)].reset_index(drop=True), named, protective], axis=1)
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
        top_k_mask(probability, top_risk_share),
        SHAP if cause_model is None else CAUSE_MODEL,
        naming_seconds + (seconds if cause_model is None else 0.0),
    )
