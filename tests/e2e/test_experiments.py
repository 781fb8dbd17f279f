"""Experiment review through DVC and MLflow on a tiny copy of the repository, as a user
works: `dvc repro`, commit, `make promote`, then experiments with other parameters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.repository import DVC, run, tiny_copy

pytestmark = pytest.mark.e2e

# Two experiments with other LightGBM settings, run up to the train stage (the stages
# after it are exercised by test_dvc_pipeline.py).
EXPERIMENTS = {
    "slow-learner": "model.params.learning_rate=0.02",
    "small-trees": "model.params.num_leaves=4",
}


@pytest.fixture(scope="module")
def experimented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tiny_copy(tmp_path_factory.mktemp("experiments") / "repo")
    run(*DVC, "repro", cwd=repo)
    run("git", "add", "-A", cwd=repo)  # the lock and the reports, as a user commits them
    run("git", "commit", "-qm", "baseline", cwd=repo)
    run(sys.executable, "-m", "pipeline.promote", cwd=repo)
    for name, override in EXPERIMENTS.items():
        run(*DVC, "exp", "run", "train", "-n", name, "-S", override, cwd=repo)
    return repo


def _train_metrics(revision: dict) -> dict:
    metrics = revision["data"]["metrics"]
    return metrics["reports/train.json"]["data"]["metrics"]["lightgbm"]


def test_experiments_keep_their_metrics_and_compare(experimented: Path):
    shown = json.loads(run(*DVC, "exp", "show", "--json", cwd=experimented))
    (baseline,) = [commit for commit in shown if commit["rev"] != "workspace"]
    experiments = {
        exp["name"]: exp["revs"][0] for exp in baseline["experiments"] if exp.get("name")
    }
    assert set(experiments) == set(EXPERIMENTS)
    scores = {name: _train_metrics(rev)["pr_auc"] for name, rev in experiments.items()}
    assert scores["slow-learner"] != scores["small-trees"]
    committed = _train_metrics(baseline)["pr_auc"]  # the baseline commit's reports, from git
    assert committed not in scores.values()
    diff = run(*DVC, "metrics", "diff", "slow-learner", "small-trees", "--json", cwd=experimented)
    changed = json.loads(diff)["reports/train.json"]
    assert changed["metrics.lightgbm.pr_auc"]["diff"] == pytest.approx(
        scores["small-trees"] - scores["slow-learner"]
    )
    plots = run(*DVC, "plots", "diff", "slow-learner", "small-trees", "--json", cwd=experimented)
    assert "reports/train/roc.csv" in plots


def test_experiments_register_versions_but_never_move_the_champion(experimented: Path):
    store = MlflowClient(f"sqlite:///{experimented / 'mlruns' / 'mlflow.db'}")
    versions = store.search_model_versions("name = 'churn-simulated'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    champion = store.get_model_version_by_alias("churn-simulated", "champion")
    assert str(champion.version) == "1"  # promoted on purpose; the experiments did not move it
    (promotion,) = store.search_runs(
        [store.get_experiment_by_name("churn-simulated-promotions").experiment_id]
    )
    assert promotion.data.tags["reason"] == "no champion yet"
