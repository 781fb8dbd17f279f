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
    weight: np.ndarray | None = None,
) -> Pipeline:
    """Fit the estimator ``cfg`` names on the training rows (``weight``: each row's
    weight, None for equal); LightGBM stops early on ``early_stopping`` (rows of the
    validation cutoff). Categories may come as strings or as pandas categories."""
    if cfg.name == "lightgbm":
        return _fit_lightgbm(cfg, train, y_train, early_stopping, categorical, seed, weight)
    if cfg.name == "logreg":
        model = _logreg(cfg, train, categorical, seed)
        return model.fit(train, y_train, model__sample_weight=weight)
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
    weight: np.ndarray | None,
) -> Pipeline:
    encode = category_encoder(train, categorical)
    booster = lgb.LGBMClassifier(**cfg.params, class_weight=cfg.class_weight, random_state=seed)
    stop_x, stop_y = early_stopping
    callbacks = []
    if cfg.early_stopping_rounds:
        callbacks.append(lgb.early_stopping(cfg.early_stopping_rounds, verbose=False))
    if cfg.log_every_trees:
        callbacks.append(lgb.log_evaluation(cfg.log_every_trees))
    booster.fit(
        encoded_matrix(train, encode),
        y_train,
        sample_weight=weight,
        eval_X=encoded_matrix(stop_x, encode),
        eval_y=stop_y,
        categorical_feature=categorical,
        callbacks=callbacks,
    )
    return Pipeline([("encode", encode), ("model", booster)])


def category_encoder(train: pd.DataFrame, categorical: list[str]) -> ColumnTransformer:
    """The model's first step: categories to their rank among the training rows' values
    (sorted; unknown and missing: NaN), every other column passed through. Fitted on
    one row, with the categories given: fitting on all rows would copy them as float64."""
    present = [_present_categories(train[name]) for name in categorical]
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    categories=present,
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
    return encode.fit(model_inputs(train.iloc[:1], list(train.columns)))


def _present_categories(column: pd.Series) -> list[str]:
    """The values a column has, sorted (as the encoder sorts them), without a string copy
    of a categorical column."""
    return sorted(_as_categories(column).cat.remove_unused_categories().cat.categories)


def _as_categories(column: pd.Series) -> pd.Series:
    return column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")


def encoded_matrix(rows: pd.DataFrame, encode: ColumnTransformer) -> pd.DataFrame:
    """``rows`` as ``encode`` passes them to LightGBM, in one float32 array whose columns
    are contiguous (LightGBM reads it without a copy): half the memory of the encoder's
    own output, which is float64 for the categories and so for the whole array."""
    ordinal = encode.named_transformers_["categories"]
    categories = dict(zip(encode.transformers_[0][2], ordinal.categories_, strict=True))
    names = list(encode.get_feature_names_out())
    matrix = np.empty((len(rows), len(names)), dtype=np.float32, order="F")
    for j, name in enumerate(names):
        if name in categories:
            codes = _as_categories(rows[name]).cat.set_categories(categories[name]).cat.codes
            matrix[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            matrix[:, j] = rows[name].to_numpy(dtype=np.float32, na_value=np.nan)
    return pd.DataFrame(matrix, columns=names, copy=False)


def _logreg(cfg: ModelConfig, train: pd.DataFrame, categorical: list[str], seed: int) -> Pipeline:
    numeric = [name for name in train.columns if name not in categorical]
    # float32 throughout (the features are float32): float64 one-hot columns would turn
    # every column float64 and double the memory of the design matrix.
    prepare = ColumnTransformer(
        [
            (
                "numbers",
                make_pipeline(SimpleImputer(strategy="mean", add_indicator=True), StandardScaler()),
                numeric,
            ),
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", dtype=np.float32),
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
