"""Shared fixtures (simulated data sets, a trained model) and the test tiers.

Tests sit in one folder per tier, and each folder is also a pytest marker:

- ``logic``: functions on tiny frames and static checks of the code (``make test-fast``);
- ``stages``: a stage's ``run`` on small simulated data, notebooks;
- ``e2e``: DVC runs the whole pipeline on a copy of the repository.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline import btyd, promote, train
from pipeline.config import Config
from tests.support import TINY, TRAINABLE, Simulated, featurize_simulated, simulate

TIERS = ("logic", "stages", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, the name of its folder."""
    for item in items:
        tier = Path(item.path).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """Default simulator settings at 10,000 customers: large enough for the statistics."""
    return simulate(tmp_path_factory.mktemp("simulated"), "simulator.n_customers=10000")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    return simulate(tmp_path_factory.mktemp("tiny"), *TINY)


@pytest.fixture(scope="session")
def trainable(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """Tiny data with features, ready for the train stage."""
    sim = simulate(tmp_path_factory.mktemp("trainable"), *TINY, *TRAINABLE)
    featurize_simulated(sim)
    return sim


@pytest.fixture(scope="session")
def trained(trainable: Simulated) -> Config:
    """The configuration of `trainable` after one run of the btyd and train stages and
    `make promote` (the first model in its MLflow store, so the champion)."""
    btyd.run(trainable.cfg)
    train.run(trainable.cfg)
    promote.run(trainable.cfg)
    return trainable.cfg


@pytest.fixture(scope="session")
def tiny_features(tiny: Simulated) -> tuple[pd.DataFrame, list[dict], dict]:
    return featurize_simulated(tiny)
