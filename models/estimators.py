"""The estimators: LightGBM, logistic regression and the RFM rule, each with its preprocessing.

Every fitted model is a scikit-learn Pipeline that takes the feature table's columns as
they are (numbers as float32, categories as strings), so the model logged to MLflow
scores a raw feature table with no code of ours around it. Scores become probabilities
in ``calibrate``, on rows neither the fit nor early stopping has seen.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from contract.errors import ConfigError
from features.columns import LABEL
from models.config import ModelConfig


def feature_columns(catalogue: list[dict], families: list[str] | None) -> list[str]:
    """The catalogue's features of ``families`` (all when None), in catalogue order."""
    known = {spec["family"] for spec in catalogue}
    unknown = sorted(set(families or []) - known)
    if unknown:
        raise ConfigError(
            f"model.families: {unknown} are not feature families; have {sorted(known)}"
        )
    return [spec["name"] for spec in catalogue if families is None or spec["family"] in families]


def categorical_columns(catalogue: list[dict], columns: list[str]) -> list[str]:
    dtypes = {spec["name"]: spec["dtype"] for spec in catalogue}
    return [name for name in columns if dtypes[name] == "category"]


def model_inputs(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The model's input frame: categories as plain strings, which MLflow signatures keep."""
    frame = rows[columns].copy()
    for name in frame.select_dtypes("category").columns:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame.reset_index(drop=True)


def labels(rows: pd.DataFrame) -> np.ndarray:
    return rows[LABEL].astype(int).to_numpy()


class RFMRule(ClassifierMixin, BaseEstimator):
    """Classic RFM scoring as a classifier: quantile scores of recency, frequency and
    monetary value, learned on the training rows, summed into a risk score in [0, 1].

    Never buying counts as the riskiest recency, frequency and spend.
    """

    def __init__(
        self,
        recency: str = "recency_days",
        frequency: str = "purchases_365d",
        monetary: str | None = "spend_365d",
        bins: int = 5,
    ) -> None:
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary
        self.bins = bins

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> RFMRule:
        quantiles = np.linspace(0, 1, self.bins + 1)[1:-1]
        self.edges_ = {
            column: np.nanquantile(X[column].to_numpy(dtype=float), quantiles)
            for column in (self.recency, self.frequency, self.monetary)
            if column is not None
        }
        self.classes_ = np.unique(y)
        return self

    def _risk(self, X: pd.DataFrame, column: str, risky_when_high: bool) -> np.ndarray:
        values = X[column].to_numpy(dtype=float)
        score = np.searchsorted(self.edges_[column], values, side="right").astype(float)
        if not risky_when_high:
            score = self.bins - 1 - score
        return np.where(np.isnan(values), self.bins - 1, score)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        scores = [
            self._risk(X, self.recency, risky_when_high=True),
            self._risk(X, self.frequency, risky_when_high=False),
        ]
        if self.monetary is not None:
            scores.append(self._risk(X, self.monetary, risky_when_high=False))
        risk = sum(scores) / (len(scores) * (self.bins - 1))
        return np.column_stack([1 - risk, risk])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def fit_model(
    cfg: ModelConfig,
    train: pd.DataFrame,
    y_train: np.ndarray,
    early_stopping: tuple[pd.DataFrame, np.ndarray],
    categorical: list[str],
    seed: int,
) -> Pipeline:
    """Fit the estimator ``cfg`` names on the training rows; LightGBM stops early on
    ``early_stopping`` (rows of the validation cutoff)."""
    if cfg.name == "lightgbm":
        return _fit_lightgbm(cfg, train, y_train, early_stopping, categorical, seed)
    if cfg.name == "logreg":
        return _logreg(cfg, train, categorical, seed).fit(train, y_train)
    params = dict(cfg.params)
    if params.get("monetary") not in train:
        params["monetary"] = None  # no amounts in the data: the rule is recency and frequency
    return make_pipeline(RFMRule(**params)).fit(train, y_train)


def _fit_lightgbm(
    cfg: ModelConfig,
    train: pd.DataFrame,
    y_train: np.ndarray,
    early_stopping: tuple[pd.DataFrame, np.ndarray],
    categorical: list[str],
    seed: int,
) -> Pipeline:
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    encode.fit(train)
    booster = lgb.LGBMClassifier(**cfg.params, class_weight=cfg.class_weight, random_state=seed)
    stop_x, stop_y = early_stopping
    callbacks = []
    if cfg.early_stopping_rounds:
        callbacks.append(lgb.early_stopping(cfg.early_stopping_rounds, verbose=False))
    if cfg.log_every_trees:
        callbacks.append(lgb.log_evaluation(cfg.log_every_trees))
    booster.fit(
        encode.transform(train),
        y_train,
        eval_X=encode.transform(stop_x),
        eval_y=stop_y,
        categorical_feature=categorical,
        callbacks=callbacks,
    )
    return Pipeline([("encode", encode), ("model", booster)])


def _logreg(cfg: ModelConfig, train: pd.DataFrame, categorical: list[str], seed: int) -> Pipeline:
    numeric = [name for name in train.columns if name not in categorical]
    prepare = ColumnTransformer(
        [
            (
                "numbers",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = LogisticRegression(**cfg.params, class_weight=cfg.class_weight, random_state=seed)
    return Pipeline([("prepare", prepare), ("model", model)])


def calibrate(
    model: Pipeline, features: pd.DataFrame, y: np.ndarray, method: str
) -> CalibratedClassifierCV:
    """Map the fitted model's scores to probabilities on held-out rows (``method``:
    isotonic or sigmoid); the model itself is not refitted."""
    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(features, y)


def best_iteration_of(model: Pipeline) -> int | None:
    """Trees kept by early stopping, for a fitted LightGBM pipeline; None otherwise."""
    return getattr(model.steps[-1][1], "best_iteration_", None)


def best_iteration(model: CalibratedClassifierCV) -> int | None:
    """Trees kept by early stopping, for a calibrated LightGBM model; None otherwise."""
    return best_iteration_of(model.estimator.estimator)
