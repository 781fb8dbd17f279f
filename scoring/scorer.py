"""Scoring feature rows with a model: the churn probability of each customer, the
columns the decisions read, and the model inputs of those at risk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from features.columns import KEYS
from models.drift import DriftCounts
from models.estimators import model_inputs

PROBABILITY = "churn_probability"


@dataclass(frozen=True)
class Scorer:
    """``model`` reads ``columns``; ``decided_on`` are the columns the decisions read
    besides the probability; a customer whose probability reaches ``risk_threshold`` is
    at risk (the only ones that can be listed, so the only ones explained)."""

    model: ClassifierMixin
    columns: list[str]
    decided_on: list[str]
    risk_threshold: float

    def probability(self, rows: pd.DataFrame) -> np.ndarray:
        """The churn probability of each of the typed feature ``rows``."""
        if not len(rows):
            return np.empty(0)
        return self.model.predict_proba(model_inputs(rows, self.columns))[:, 1]

    def score(self, rows: pd.DataFrame, drift: DriftCounts) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Typed feature ``rows`` scored in this process: the keys, ``decided_on`` columns
        and probability of each, and the keys and model inputs of those at risk; their
        drift counts are added to ``drift``."""
        inputs = model_inputs(rows, self.columns)
        probability = self.probability(rows)
        drift.add(inputs)
        keys = rows[[*KEYS, *self.decided_on]].reset_index(drop=True)
        risky = probability >= self.risk_threshold
        at_risk = pd.concat([keys.loc[risky, list(KEYS)], inputs[risky]], axis=1)
        return keys.assign(**{PROBABILITY: probability}), at_risk
