"""The score stage: retention lists as of a date, atomic and tracked."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from contract.errors import ConfigError
from features.history import customer_ranges
from pipeline import score, tracking
from pipeline.artifacts import (
    COLUMNS,
    EXCLUDED,
    LISTS_DIR,
    MANIFEST,
    PREDICTIONS,
    RUN_RECORD,
    WIN_BACK,
)
from pipeline.config import Config
from scoring import population
from scoring.errors import DriftRefused, SchemaMismatch
from scoring.selection import LAPSED
from tests.support import REPO, Simulated, compose_config, files_in, tracking_server_down


def _retention(cfg: Config) -> Path:
    days = sorted(p for p in Path(cfg.paths.retention_dir).iterdir() if p.is_dir())
    assert len(days) == 1
    return days[0]


@pytest.fixture(scope="module")
def scored(trained: Config) -> Config:
    cfg = replace(trained, scoring=replace(trained.scoring, model_source="pipeline"))
    score.run(cfg)
    return cfg


def test_stage_lists_every_customer_once_with_action_and_reasons(scored):
    out = _retention(scored)
    manifest = json.loads((out / MANIFEST).read_text())
    lists = {p.stem: pd.read_parquet(p) for p in (out / LISTS_DIR).glob("*.parquet")}
    assert {stem: len(rows) for stem, rows in lists.items()} == manifest["counts"]["by_list"]
    listed = pd.concat(lists.values(), ignore_index=True)
    excluded = pd.read_parquet(out / f"{EXCLUDED}.parquet")
    everyone = pd.concat([listed["customer_id"], excluded["customer_id"]])
    assert everyone.is_unique and len(everyone) == manifest["counts"]["scored"]
    assert len(listed) > 0
    assert (listed["churn_probability"] >= scored.scoring.risk_threshold).all()
    assert (listed["expected_net_value"] > 0).all()
    assert listed["tier"].isin(["vip", "major", "ordinary", "small"]).all()
    described = ["action", "action_zh", "tier_zh", "channel", "team", "reasons", "lifecycle_stage"]
    assert listed[described].notna().all().all()
    # Named by the cause model: points of churn probability, most first, summing to no
    # more than the probability; the reasons in English and Chinese say the same.
    assert manifest["causes_named_by"] == "cause model"
    points = listed.filter(regex=r"^risk_points_").fillna(0)
    assert (points["risk_points_1"] > 0).all()
    assert (points.diff(axis=1).iloc[:, 1:] <= 1e-12).all().all()
    assert (points.sum(axis=1) <= 100 * listed["churn_probability"] + 1e-9).all()
    first = listed["risk_points_1"].map("{:.1f}".format)
    labels = {name: cause.label for name, cause in scored.causes.items()}
    assert (
        listed["reasons"].str.split("; ").str[0]
        == (listed["risk_cause_1"].map(labels) + " " + first + " pp")
    ).all()
    labels_zh = {cause.label_zh: name for name, cause in scored.causes.items()}
    first_zh = listed["reasons_zh"].str.split(";").str[0].str.rsplit(" ", n=2).str[0]
    assert first_zh.map(labels_zh).tolist() == listed["risk_cause_1"].tolist()
    # Evidence for most listed customers, each part behind the label of a cause they name
    # or of a context cause (their situation).
    said = listed["evidence"].fillna("")
    assert (said != "").mean() > 0.5
    ranks = [column for column in listed if column.startswith("risk_cause_")]
    context = {scored.causes[cause].label for cause in scored.explain.context_causes}
    for text, causes in zip(said, listed[ranks].itertuples(index=False), strict=True):
        named = {scored.causes[cause].label for cause in causes if isinstance(cause, str)}
        assert {part.split(": ")[0] for part in text.split("; ") if part} <= named | context
    # Beside the lists: every column of every exported table, once, with its meaning.
    dictionary = pd.read_csv(out / COLUMNS).set_index("column")
    win_back = pd.read_parquet(out / f"{WIN_BACK}.parquet")
    exported = [*listed.columns, *excluded.columns, *win_back.columns]
    assert set(dictionary.index) == set(exported) and dictionary.index.is_unique
    assert dictionary["meaning"].str.len().gt(10).all()
    assert dictionary.loc["p_alive", "in"] == WIN_BACK
    assert (listed["as_of"] == out.name).all()
    for stem, rows in lists.items():
        assert rows["list_rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["expected_net_value"].is_monotonic_decreasing
        tier, team = stem.split("__")
        assert (rows["tier"] == tier).all() and (rows["team"] == team).all()
        csv = pd.read_csv(out / LISTS_DIR / f"{stem}.csv")
        assert csv["customer_id"].tolist() == rows["customer_id"].tolist()
    reasons = manifest["counts"]["excluded_by_reason"]
    assert sum(reasons.values()) == len(excluded)
    assert excluded["exclusion"].notna().all()


def test_lapsed_customers_leave_prevention_for_the_win_back_list(scored, trainable: Simulated):
    out = _retention(scored)
    manifest = json.loads((out / MANIFEST).read_text())
    excluded = pd.read_parquet(out / f"{EXCLUDED}.parquet")
    lapsed = excluded[excluded["exclusion"] == LAPSED]
    assert len(lapsed) == manifest["counts"]["excluded_by_reason"][LAPSED] > 0
    win_back = pd.read_parquet(out / f"{WIN_BACK}.parquet")
    assert len(win_back) == manifest["counts"]["win_back"]
    assert set(win_back["customer_id"]) <= set(lapsed["customer_id"])
    rule = scored.scoring.lapsed
    assert win_back["tier"].isin(rule.win_back_tiers).all()
    assert (win_back["p_alive"] < rule.p_alive_below).all()
    assert win_back["customer_value"].is_monotonic_decreasing
    # Lapsed customers have no contract, and most have truly left before the date.
    customers = trainable.raw["customers"].set_index("customer_id")
    assert (customers.loc[lapsed["customer_id"], "contract_type"] == "none").all()
    churn_time = trainable.truth.set_index("customer_id")["churn_time"]
    left = churn_time.loc[lapsed["customer_id"]] < pd.Timestamp(out.name)
    assert left.mean() > 0.5


def test_scoring_at_the_test_cutoff_reproduces_the_train_stages_predictions(scored, tmp_path):
    """Same feature code, same model: no training-serving skew."""
    predictions = pd.read_parquet(Path(scored.paths.models_dir) / PREDICTIONS)
    test_cutoff = str(predictions["cutoff"].iloc[0].date())
    cfg = replace(
        scored,
        scoring=replace(scored.scoring, as_of=test_cutoff, risk_threshold=0.0),
        paths=replace(scored.paths, retention_dir=str(tmp_path)),
    )
    score.run(cfg)
    out = tmp_path / test_cutoff
    rows = pd.concat(
        [
            pd.read_parquet(p)
            for p in [*(out / LISTS_DIR).glob("*.parquet"), out / "excluded.parquet"]
        ]
    )
    merged = predictions.merge(rows, on="customer_id", validate="one_to_one")
    assert len(merged) == len(predictions) == len(rows)
    np.testing.assert_allclose(
        merged["churn_probability"], merged["probability_lightgbm"], rtol=0, atol=1e-12
    )


def test_rerunning_the_same_date_gives_identical_files(scored):
    out = _retention(scored)
    before = files_in(out)
    score.run(scored)
    _assert_same_lists(before, files_in(out))


def test_customers_scored_in_ranges_give_the_same_lists(scored, tmp_path, monkeypatch):
    ranges = []
    monkeypatch.setattr(
        score, "customer_ranges", lambda *args: ranges.extend(customer_ranges(*args)) or ranges
    )
    n_customers = len(pd.read_parquet(Path(scored.paths.validated_dir) / "customers.parquet"))
    cfg = replace(
        scored,
        engine=replace(scored.engine, customer_cutoffs_per_query=n_customers // 3 + 1),
        paths=replace(scored.paths, retention_dir=str(tmp_path)),
    )
    score.run(cfg)
    assert len(ranges) == 3
    _assert_same_lists(files_in(_retention(scored)), files_in(_retention(cfg)))


@pytest.mark.spark
def test_spark_scores_the_same_lists_as_duckdb(scored, tmp_path, monkeypatch):
    """The whole run on Spark (local mode): features, purchase outlook and values are
    Spark jobs, and the features are typed and predicted on the executors, never fetched
    whole to the driver; the lists, exclusions and drift report are DuckDB's, byte for
    byte."""

    def fetched_to_the_driver(*args, **kwargs):
        raise AssertionError("the feature rows were fetched to the driver")

    monkeypatch.setattr(population, "snapshot", fetched_to_the_driver)
    spark = compose_config(tmp_path / "conf", "engine=spark").engine
    lists = str(tmp_path / "lists")
    n_customers = len(pd.read_parquet(Path(scored.paths.validated_dir) / "customers.parquet"))
    spark = replace(spark, customer_cutoffs_per_query=n_customers // 2 + 1)  # two ranges
    cfg = replace(scored, engine=spark, paths=replace(scored.paths, retention_dir=lists))
    score.run(cfg)
    _assert_same_lists(files_in(_retention(scored)), files_in(_retention(cfg)))


def _assert_same_lists(expected: dict[str, bytes], actual: dict[str, bytes]) -> None:
    """Same files (``files_in``) byte for byte, and the same manifest but for the run's
    timings and id."""
    files = [dict(expected), dict(actual)]
    manifests = [json.loads(found.pop(MANIFEST)) for found in files]
    assert files[1] == files[0]  # lists, exclusions, drift report
    for manifest in manifests:
        for run_specific in ("timings", "scoring_run_id"):
            manifest.pop(run_specific)
    assert manifests[1] == manifests[0]


def test_a_crash_mid_write_keeps_the_previous_lists(scored, monkeypatch):
    out = _retention(scored)
    before = files_in(out)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(score, "excluded_table", crash)  # after the lists were written
    with pytest.raises(OSError, match="disk full"):
        score.run(scored)
    assert files_in(out) == before
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary folder left


def test_a_dated_folder_that_is_not_ours_is_never_replaced(scored, tmp_path):
    day = _retention(scored).name
    theirs = tmp_path / day
    theirs.mkdir()
    (theirs / "quarterly-report.xlsx").write_bytes(b"someone else's work")
    cfg = replace(scored, paths=replace(scored.paths, retention_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=f"{theirs} exists and has no manifest.json"):
        score.run(cfg)
    assert files_in(theirs) == {"quarterly-report.xlsx": b"someone else's work"}
    assert [p.name for p in tmp_path.iterdir()] == [day]


def test_a_failed_tracking_server_exports_nothing(scored, monkeypatch):
    out = _retention(scored)
    before = files_in(out)
    monkeypatch.setattr(tracking, "use_tracking_store", tracking_server_down)
    with pytest.raises(ConnectionError):
        score.run(scored)
    assert files_in(out) == before


def test_features_that_do_not_match_the_signature_stop_the_run(scored, tmp_path):
    features = copy.deepcopy(scored.features)
    features.windows_days = [30, 90, 180]  # spend_365d and friends become spend_180d
    cfg = replace(
        scored, features=features, paths=replace(scored.paths, retention_dir=str(tmp_path))
    )
    with pytest.raises(SchemaMismatch, match=r"missing \[.*'spend_365d'"):
        score.run(cfg)
    assert list(tmp_path.iterdir()) == []


def test_drift_above_the_limit_refuses_to_export_and_names_the_features(scored, tmp_path):
    reported = pd.read_csv(_retention(scored) / "drift.csv")
    measured = reported[reported["status"] != "exempt"].sort_values("psi", ascending=False)
    refuse = float(measured["psi"].iloc[2:4].mean())  # between the 3rd and 4th largest
    drift = replace(scored.scoring.drift, warn_psi=refuse / 2, refuse_psi=refuse)
    cfg = replace(
        scored,
        scoring=replace(scored.scoring, drift=drift),
        paths=replace(scored.paths, retention_dir=str(tmp_path)),
    )
    with pytest.raises(DriftRefused, match=f"feature drift above PSI {refuse}") as refused:
        score.run(cfg)
    named = measured["feature"].tolist()
    assert all(f"{name} (" in str(refused.value) for name in named[:3])
    assert not any(f"{name} (" in str(refused.value) for name in named[3:])
    (report,) = tmp_path.iterdir()  # the report, and no list
    assert report.name == f"{_retention(scored).name}-refused-drift.csv"
    statuses = pd.read_csv(report).set_index("feature")["status"]
    assert (statuses[named[:3]] == "refuse").all() and "refuse" not in set(statuses[named[3:]])


def test_scoring_run_is_tracked_and_linked_to_the_model_version(scored):
    manifest = json.loads((_retention(scored) / MANIFEST).read_text())
    run = MlflowClient().get_run(manifest["scoring_run_id"])
    record = json.loads((Path(scored.paths.models_dir) / RUN_RECORD).read_text())
    assert run.data.tags["model.version"] == record["version"]
    assert run.data.tags["model.run_id"] == record["run_id"]
    assert run.data.metrics["listed"] == manifest["counts"]["listed"]
    assert manifest["model"]["version"] == record["version"]


def test_registry_source_scores_with_the_champion_or_a_pinned_version(scored, tmp_path):
    registry = replace(
        scored,
        scoring=replace(scored.scoring, model_source="registry"),
        paths=replace(scored.paths, retention_dir=str(tmp_path)),
    )
    score.run(registry)
    day = _retention(scored).name
    lists = lambda root: files_in(root / day / LISTS_DIR)  # noqa: E731
    assert lists(tmp_path) == lists(_retention(scored).parent)  # the champion is that model
    pinned = replace(registry, scoring=replace(registry.scoring, model_version="99"))
    with pytest.raises(ConfigError, match="no version 99 of model 'churn-simulated'"):
        score.run(pinned)


def test_scheduled_command_fails_with_a_clear_message_and_exit_code(scored):
    params = Path(scored.paths.retention_dir).parent / "params.yaml"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.score", "--params", str(params), "as_of=2099-01-01"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "scoring.as_of: 2099-01-01 is after the end of the data" in result.stderr
    assert "Traceback" not in result.stderr
