"""The churn causes named for each candidate, in batches for the lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from tqdm import tqdm

from models.cause_model import CauseModel
from models.explain import cause_contributions, cause_points, named_causes, shap_values


def explain_causes(
    model: CalibratedClassifierCV,
    cause_model: CauseModel | None,
    features: pd.DataFrame,
    probability: np.ndarray,
    causes_of: dict[str, str],
    context_causes: list[str],
    n_causes: int,
    batch_rows: int,
) -> pd.DataFrame:
    """The ``n_causes`` causes named for each row of ``features`` (the model's inputs;
    ``probability``, their churn probabilities) with their percentage points of churn
    probability (``risk_cause_1``, ``risk_points_1``, ...), in batches of ``batch_rows``:
    by ``cause_model`` when there is one, else by exact TreeSHAP without the context
    causes (models/explain.py)."""
    features = features.reset_index(drop=True)
    cause_names = list(dict.fromkeys(causes_of.values()))
    if cause_model is not None:
        cause_names = list(dict.fromkeys([*cause_names, *cause_model.causes]))
    parts = []
    starts = range(0, len(features), batch_rows)
    for start in tqdm(starts, desc="naming causes", unit="batch", disable=len(starts) < 2):
        window = features.iloc[start : start + batch_rows]

        def contributions(rows: pd.DataFrame = window) -> tuple[np.ndarray, pd.DataFrame]:
            values = shap_values(model, rows)
            return values.raw_score, cause_contributions(values.by_feature, causes_of)

        points = cause_points(
            model,
            cause_model,
            window,
            probability[start : start + batch_rows],
            contributions,
            cause_names,
            context_causes,
        )
        parts.append(named_causes(points.reset_index(drop=True), n_causes))
    if not parts:
        return named_causes(pd.DataFrame(columns=cause_names, dtype=float), n_causes)
    return pd.concat(parts, ignore_index=True)
