"""Data we did not make, through `dvc repro`: the own-data demo on a small simulation.

A two-column purchase log (no customers table, no amounts, day-first dates, invoice lines)
and a CRM snapshot with a label (plan names, Yes/No codes, string ids) each run in their
own copy of the repository and must reach retention lists, with no simulator truth.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from demo.own_data import DemoResult, _run, run_demo
from tests.support import TINY

pytestmark = pytest.mark.e2e

# TINY's simulation with enough customers to train on; both runs on a 30-day horizon with
# a 15-day confirmation, the purchase log with cutoffs from March (the default start, a
# year after the first purchase, would leave too few labelled cutoffs in 60 weeks of data).
SIMULATOR = [*TINY, "simulator.n_customers=3000"]
SMALL_MODEL = [
    "features.label.horizon_days=30",
    "features.label.confirmation_days=15",
    "model.params.n_estimators=200",
]
PIPELINE = {
    "purchase_log": ["data.cutoffs.start=2024-03-01", *SMALL_MODEL],
    "snapshot": ["data.snapshot.date=2024-10-01", *SMALL_MODEL],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DemoResult]:
    out = tmp_path_factory.mktemp("own-data")
    return {result.name: result for result in run_demo(out, SIMULATOR, PIPELINE)}


def _repo(result: DemoResult) -> Path:
    return result.lists.parents[3]


def _json(result: DemoResult, path: str) -> dict:
    return json.loads((_repo(result) / path).read_text(encoding="utf-8"))


def test_both_datasets_reach_retention_lists_without_simulator_data(demo):
    for result in demo.values():
        repo = _repo(result)
        lists = sorted(result.lists.glob("*.csv"))
        assert lists and result.listed > 0, result.name
        listed = pd.concat([pd.read_csv(path) for path in lists])
        assert len(listed) == result.listed
        assert listed["action"].notna().all() and (listed["expected_net_value"] > 0).all()
        # generate never touched the user's data and wrote no truth.
        assert not any((repo / "data" / "simulated").iterdir())
        assert not any((repo / "data" / "ground_truth").iterdir())
        assert "oracle" not in result.metrics
        assert not (repo / "reports" / "explain" / "causes_top_risk.csv").exists()


def test_purchase_log_is_two_columns_and_only_evidenced_families_run(demo):
    result = demo["purchase_log"]
    log = pd.read_csv(_repo(result) / "data" / "own" / "purchase_log" / "purchases.csv")
    assert list(log.columns) == ["CustomerID", "InvoiceDate"]
    assert log.duplicated().any()  # invoice lines: identical rows are one purchase
    validation = _json(result, "reports/validation.json")
    assert validation["tables"]["customers"]["columns"] == ["customer_id", "signup_date"]
    assert any("lines are" in note for note in validation["derived"])
    features = _json(result, "reports/features.json")
    assert {"price", "returns", "complaints", "payments", "credit"} <= set(
        features["absent_families"]
    )
    catalogue = json.loads(
        (_repo(result) / "data" / "features" / "catalogue.json").read_text(encoding="utf-8")
    )
    names = {spec["name"] for spec in catalogue}
    assert "recency_days" in names and "tenure_days" in names
    assert not names & {"spend_90d", "autopay", "loyalty_tier_rank", "contract_type"}
    explain = _json(result, "reports/explain.json")
    assert explain["families"] == ["lifecycle", "rfm", "switching_cost"]
    assert explain["fidelity"] is None
    # Nothing in the data says who has auto-pay or a loyalty card: no such offer.
    assert not any("auto-pay" in action for action in result.listed_by_action)
    assert result.split["mode"] == "out_of_time"
    assert {"lightgbm", "logreg", "logreg_rfm", "rfm_rule", "bgnbd"} == set(result.metrics)
    drift = pd.read_csv(result.lists.parent / "drift.csv").set_index("feature")
    assert drift.loc["tenure_days", "exempt_because"].startswith("grows with the calendar")


def test_snapshot_is_cross_validated_and_lists_the_snapshots_customers(demo):
    result = demo["snapshot"]
    assert result.split["mode"] == "cross_validation"
    assert "no split in time" in result.split["caveat"]
    assert set(result.metrics) == {"lightgbm", "logreg"}  # no purchases: no RFM baselines
    assert result.metrics["lightgbm"]["roc_auc"] > 0.7
    export = pd.read_csv(_repo(result) / "data" / "own" / "snapshot" / "crm_export.csv")
    predictions = pd.read_parquet(_repo(result) / "data" / "models" / "predictions.parquet")
    assert len(predictions) == len(export)  # every customer scored out of fold
    listed = pd.concat([pd.read_csv(path) for path in result.lists.glob("*.csv")])
    assert set(listed["customer_id"]) <= set(export["Customer"])
    assert (listed["as_of"] == "2024-10-01").all()
    run = _json(result, "data/models/run.json")
    assert run["registered_model"] == "churn-demo_snapshot"


def test_dvc_exp_run_selects_own_data_and_a_population_preset(demo):
    """`dvc exp run -S data=<name>`, as the README says, with the lapse-study population:
    customers silent for up to a year keep their rows. Run up to featurize, to keep the
    suite fast; the stages after it are the ones the demo ran."""
    result = demo["purchase_log"]
    repo = _repo(result)
    before = _json(result, "reports/features.json")["cutoffs"]
    overrides = ["data=demo_purchase_log", "population=lapse_study", *PIPELINE["purchase_log"]]
    flags = [part for override in overrides for part in ("-S", override)]
    dvc = (sys.executable, "-m", "dvc")
    _run(*dvc, "exp", "run", "featurize", "-n", "lapse", *flags, cwd=repo)
    params = (repo / "params.yaml").read_text(encoding="utf-8")
    assert "name: demo_purchase_log" in params and "active_window_days: 365" in params
    after = _json(result, "reports/features.json")["cutoffs"]
    assert all(after[day]["rows"] > before[day]["rows"] for day in before)
    experiments = _run(*dvc, "exp", "show", "--json", cwd=repo)
    assert '"lapse"' in experiments and '"active_window_days": 365' in experiments
    diff = _run(*dvc, "metrics", "diff", cwd=repo)
    assert "metrics.lightgbm.pr_auc" in diff and "max_additivity_error" in diff


def test_snapshot_versions_are_compared_on_their_out_of_fold_predictions(demo):
    """Cross-validated on one snapshot, two versions' logged out-of-fold predictions of
    the same customers are what `make promote` compares."""
    repo = _repo(demo["snapshot"])
    _run(sys.executable, "-m", "pipeline.promote", cwd=repo)  # the first: no champion yet
    _run(sys.executable, "-m", "pipeline.train", "model.params.num_leaves=4", cwd=repo)
    _run(sys.executable, "-m", "pipeline.promote", cwd=repo)
    store = MlflowClient(f"sqlite:///{repo / 'mlruns' / 'mlflow.db'}")
    experiment = store.get_experiment_by_name("churn-demo_snapshot-promotions")
    latest, first = store.search_runs([experiment.experiment_id], order_by=["start_time DESC"])
    assert first.data.tags["reason"] == "no champion yet"
    assert latest.data.params["held_out"] == "out-of-fold predictions of the snapshot"
    export = pd.read_csv(repo / "data" / "own" / "snapshot" / "crm_export.csv")
    assert latest.data.metrics["rows"] == len(export)  # every customer, paired
    promoted = latest.data.metrics["lower_bound"] > 0.002
    assert latest.data.tags["decision"] == ("promoted" if promoted else "kept")
    champion = store.get_model_version_by_alias("churn-demo_snapshot", "champion")
    assert str(champion.version) == ("2" if promoted else "1")
