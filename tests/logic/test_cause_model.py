"""The cause model and the causes named from it or from SHAP values, on small frames."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from contract.errors import ConfigError
from models.cause_model import CauseModel, fit_cause_model, risk_points, stated_fit
from models.config import CauseModelConfig
from models.explain import (
    calibrated_probability,
    check_context_causes,
    named_causes,
    shap_points,
)

CONFIG = CauseModelConfig(
    min_reasons=50,
    early_stopping_rounds=10,
    params={
        "objective": "multiclass",
        "n_estimators": 60,
        "learning_rate": 0.2,
        "num_leaves": 4,
        "min_child_samples": 5,
        "n_jobs": 1,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    },
)
NAMES = ["unresolved_complaint", "poor_service", "competitor_price", "natural"]


def stated_reasons(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Churners whose open complaints, late deliveries or region say why they left; a
    quarter stated nothing."""
    rng = np.random.default_rng(seed)
    cause = rng.choice(NAMES[:3], n)
    rows = pd.DataFrame(
        {
            "complaints_unresolved": np.where(cause == NAMES[0], rng.integers(1, 4, n), 0),
            "late_deliveries": np.where(
                cause == NAMES[1], rng.integers(2, 5, n), rng.integers(0, 2, n)
            ),
            "region": np.where(cause == NAMES[2], "north", rng.choice(["south", "east"], n)),
            "noise": rng.normal(size=n),
        }
    )
    stated = pd.Series(cause, dtype=object).where(rng.random(n) < 0.75)
    return rows, stated


def test_the_cause_model_learns_the_stated_causes_and_survives_its_file():
    train, stop, test = stated_reasons(600, 1), stated_reasons(200, 2), stated_reasons(300, 3)
    features = ["complaints_unresolved", "late_deliveries", "region", "noise"]
    model = fit_cause_model(train, stop, features, CONFIG, seed=7)
    assert model is not None and model.causes == sorted(NAMES[:3])
    fit = stated_fit(model, *test, NAMES, top=2)
    assert fit["rows"] == test[1].notna().sum()
    assert fit["agreement"] > 0.95 and fit["agreement"] > fit["most_frequent_guess"] + 0.5
    assert fit["within_top_2"] >= fit["agreement"]
    assert 0 < fit["log_loss"] < 0.3

    probabilities = model.probabilities(test[0], NAMES)
    assert list(probabilities.columns) == NAMES
    assert (probabilities["natural"] == 0).all()  # never stated: never named
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    # Scoring passes categories as plain strings; they map onto the trained categories.
    as_text = test[0].astype({"region": "string"})
    np.testing.assert_allclose(model.probabilities(as_text, NAMES), probabilities)
    restored = CauseModel.from_json(model.to_json())
    np.testing.assert_allclose(restored.probabilities(test[0], NAMES), probabilities)


def test_without_enough_stated_reasons_there_is_no_cause_model():
    rows, stated = stated_reasons(100, 1)
    features = list(rows.columns)
    assert (
        fit_cause_model(
            (rows, stated.where(stated.index < 40)), (rows, stated), features, CONFIG, 7
        )
        is None
    )
    one_cause = pd.Series(NAMES[0], index=rows.index)
    assert fit_cause_model((rows, one_cause), (rows, stated), features, CONFIG, 7) is None


def test_risk_points_split_the_churn_probability_into_causes():
    probability = np.array([0.5, 0.1])
    by_cause = pd.DataFrame({"a": [0.6, 0.0], "b": [0.4, 1.0]})
    points = risk_points(probability, by_cause)
    np.testing.assert_allclose(points.to_numpy(), [[30.0, 20.0], [0.0, 10.0]])
    np.testing.assert_allclose(points.sum(axis=1), probability * 100)


def test_named_causes_rank_by_points_and_leave_causes_without_points_unnamed():
    points = pd.DataFrame({"a": [1.0, 0.0], "b": [5.0, 0.0], "c": [0.0, 2.0]}, index=[4, 5])
    named = named_causes(points, 4)
    assert named.index.tolist() == [4, 5]
    assert named.iloc[0, ::2].tolist() == ["b", "a", None, None]
    assert named.iloc[0, 1::2].tolist()[:2] == [5.0, 1.0]
    assert named.loc[5, "risk_cause_1"] == "c" and named.loc[5, "risk_points_1"] == 2.0
    assert named.loc[5, ["risk_cause_2", "risk_cause_3", "risk_cause_4"]].isna().all()


@pytest.fixture(scope="module")
def calibrated() -> CalibratedClassifierCV:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = (x["a"] + rng.normal(size=400) > 0.5).astype(int).to_numpy()
    booster = lgb.LGBMClassifier(n_estimators=20, num_leaves=4, verbose=-1, n_jobs=1)
    pipeline = Pipeline([("model", booster.fit(x, y))])
    return CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid").fit(x, y), x


def test_calibrated_probability_of_raw_scores_is_the_models_probability(calibrated):
    model, x = calibrated
    raw = model.calibrated_classifiers_[0].estimator.predict(x, raw_score=True)
    np.testing.assert_allclose(calibrated_probability(model, raw), model.predict_proba(x)[:, 1])
    grid = calibrated_probability(model, raw.reshape(20, 20))
    assert grid.shape == (20, 20)


def test_shap_points_are_how_far_the_probability_falls_without_a_causes_push(calibrated):
    model, _ = calibrated
    raw = np.array([1.0, -1.0])
    by_cause = pd.DataFrame(
        {"complaint": [0.8, -0.3], "service": [0.2, 0.5], "segment": [2.0, 1.0]}
    )
    points = shap_points(model, raw, by_cause, ["segment"])
    assert list(points.columns) == ["complaint", "service"]  # context is never named
    p = calibrated_probability(model, raw)
    expected = 100 * (p[0] - calibrated_probability(model, np.array([0.2])))
    assert points.loc[0, "complaint"] == pytest.approx(expected[0])
    assert points.loc[0, "complaint"] > points.loc[0, "service"] > 0
    assert points.loc[1, "complaint"] == 0  # protective: no points


def test_a_context_cause_that_is_not_documented_is_a_config_error():
    with pytest.raises(ConfigError, match=r"explain.context_causes: \['boredom'\]"):
        check_context_causes(["boredom", "natural"], NAMES)
    check_context_causes(["natural"], NAMES)
