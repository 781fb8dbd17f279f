"""The cause model: which documented cause a customer would churn for, learned from what
churners said.

Competing risks: P(churn by cause c | x) = P(churn | x) * P(c | x, churn). The churn model
gives the first factor; the cause model, a multiclass LightGBM on the same features, gives
the second. It is fitted on the training cutoffs' churners that stated a reason (the
contract's ``churn_reasons`` table, models/reasons.py), stops early on the validation
cutoff's and is measured on the test cutoff's, against the reasons stated there. Its
``risk points`` split a customer's churn probability into causes: they sum to it, and a
cause's points are the probability, in percentage points, that this customer churns for
that cause. A cause no training churner stated gets no points.

The model is stored as LightGBM's own text format (trees and numbers, nothing that runs
code) in one JSON file with its causes, checked against the SHA-256 recorded at training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.config import CauseModelConfig

log = logging.getLogger(__name__)

DIGEST_TAG = "cause_model_sha256"


@dataclass
class CauseModel:
    """A multiclass booster of the causes churners stated, and those causes in class order."""

    booster: lgb.Booster
    causes: list[str]

    @property
    def features(self) -> list[str]:
        return list(self.booster.feature_name())

    def probabilities(self, rows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        """P(cause | x, churn) of ``rows`` (any frame with the model's features), one column
        per cause of ``names`` (0 for a cause the model never saw stated), indexed like
        ``rows``."""
        scores = pd.DataFrame(0.0, index=rows.index, columns=names)
        if len(rows):
            predicted = self.booster.predict(_as_features(rows, self.features))
            scores[self.causes] = predicted.reshape(len(rows), len(self.causes))
        return scores

    def to_json(self) -> str:
        return json.dumps({"causes": self.causes, "booster": self.booster.model_to_string()})

    @classmethod
    def from_json(cls, text: str) -> CauseModel:
        stored = json.loads(text)
        return cls(lgb.Booster(model_str=stored["booster"]), list(stored["causes"]))


def _as_features(rows: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The model's features of ``rows``, non-numeric ones as pandas categories (LightGBM
    maps them onto the categories it was trained with)."""
    frame = rows[features]
    text = [name for name in features if not pd.api.types.is_numeric_dtype(frame[name])]
    if not text:
        return frame
    return frame.astype(dict.fromkeys(text, "category"))


def fit_cause_model(
    train: tuple[pd.DataFrame, pd.Series],
    early_stopping: tuple[pd.DataFrame, pd.Series],
    features: list[str],
    cfg: CauseModelConfig,
    seed: int,
) -> CauseModel | None:
    """The cause model of the stated causes of ``train`` (feature rows, and each row's
    stated cause or NaN), stopping early on ``early_stopping``'s; None when fewer than
    ``cfg.min_reasons`` rows, or fewer than two causes, are stated."""
    rows, stated = train
    known = stated.notna().to_numpy()
    causes = sorted(stated[known].unique())
    if known.sum() < cfg.min_reasons or len(causes) < 2:
        log.info(
            "%d training churners stated a reason (%d causes); the cause model needs %d and "
            "two causes: SHAP values name the causes",
            known.sum(),
            len(causes),
            cfg.min_reasons,
        )
        return None
    stop_rows, stop_stated = early_stopping
    stop_known = stop_stated.isin(causes).to_numpy()
    stopping = {}
    if stop_known.any():
        stop_x = _as_features(stop_rows[stop_known], features)
        stopping = {
            "eval_X": stop_x,
            "eval_y": _codes(stop_stated[stop_known], causes),
            "callbacks": [lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        }
    classifier = lgb.LGBMClassifier(**cfg.params, random_state=seed)
    classifier.fit(_as_features(rows[known], features), _codes(stated[known], causes), **stopping)
    log.info(
        "cause model: %d stated reasons, %d causes, %d trees",
        known.sum(),
        len(causes),
        classifier.booster_.current_iteration(),
    )
    return CauseModel(classifier.booster_, causes)


def _codes(stated: pd.Series, causes: list[str]) -> np.ndarray:
    return pd.Categorical(stated, categories=causes).codes


def risk_points(churn_probability: np.ndarray, cause_probability: pd.DataFrame) -> pd.DataFrame:
    """Percentage points of churn probability per cause: P(churn) * P(cause | churn) * 100."""
    return cause_probability.mul(np.asarray(churn_probability) * 100, axis=0)


def stated_fit(
    model: CauseModel, rows: pd.DataFrame, stated: pd.Series, names: list[str], top: int
) -> dict[str, float | int]:
    """How well ``model`` names the causes stated for ``rows`` (NaN: none stated): how
    often its first cause is the stated one and how often that is among its first ``top``,
    next to the best constant answers (the most stated cause for everyone; the ``top`` most
    stated), and its log loss."""
    known = stated.notna().to_numpy()
    if not known.any():
        return {"rows": 0}
    truth = stated[known].to_numpy()
    probabilities = model.probabilities(rows[known], names)
    order = np.argsort(-probabilities.to_numpy(), axis=1, kind="stable")[:, :top]
    named = np.asarray(names)[order]
    counts = stated[known].value_counts()
    # Log loss of the stated causes; one the model never saw stated gets almost no
    # probability rather than none.
    stated_probability = probabilities.to_numpy()[np.arange(len(truth)), _codes(truth, names)]
    log_loss = float(-np.log(np.clip(stated_probability, 1e-9, None)).mean())
    return {
        "rows": int(known.sum()),
        "agreement": float((named[:, 0] == truth).mean()),
        f"within_top_{top}": float((named == truth[:, None]).any(axis=1).mean()),
        "most_frequent_guess": float(counts.iloc[0] / len(truth)),
        f"most_frequent_{top}_guess": float(counts.iloc[:top].sum() / len(truth)),
        "log_loss": log_loss,
    }


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
