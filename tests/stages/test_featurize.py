"""The featurize stage on simulated data: outputs, catalogue, determinism, and labels
against the simulator's ground truth."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from contract.errors import ConfigError
from features.columns import KEYS
from pipeline import featurize
from pipeline.artifacts import CATALOGUE, FEATURES
from pipeline.feature_rows import read_split
from pipeline.io import TableWriter
from simulator.truth import true_churn
from tests.engines import TemporaryPostgres
from tests.support import TINY, Simulated, compose_config, featurize_simulated, simulate


def test_table_is_keyed_by_customer_and_cutoff_and_matches_the_catalogue(tiny_features):
    features, catalogue, report = tiny_features
    assert not features.duplicated(["customer_id", "cutoff"]).any()
    names = [entry["name"] for entry in catalogue]
    assert list(features.columns) == [
        "customer_id",
        "cutoff",
        *names,
        "churn_definition",
        "churned",
    ]
    assert {entry["dtype"] for entry in catalogue} == {"float32", "category"}
    for entry in catalogue:
        assert str(features[entry["name"]].dtype) == entry["dtype"], entry["name"]
    assert report["n_features"] == len(names)
    assert report["absent_families"] == {}
    assert sum(c["rows"] for c in report["cutoffs"].values()) == len(features)


def test_cutoffs_whose_window_passes_the_data_end_are_unlabelled(tiny_features):
    features, _, report = tiny_features
    assert report["observed_until"] == "2024-11-25"
    labelled = features.groupby("cutoff")["churned"].apply(lambda s: s.notna().all())
    unlabelled = features.groupby("cutoff")["churned"].apply(lambda s: s.isna().all())
    # cutoff + 90 + 30 days (horizon and confirmation) must not pass 2024-11-25: labels up
    # to the 2024-07-01 cutoff.
    assert list(labelled[labelled].index.strftime("%Y-%m")) == [
        "2024-03", "2024-04", "2024-05", "2024-06", "2024-07"
    ]  # fmt: skip
    assert list(unlabelled[unlabelled].index.strftime("%Y-%m")) == ["2024-08", "2024-09", "2024-10"]
    assert report["cutoffs"]["2024-10-01"]["churn_rate"] is None


def test_by_default_only_the_cutoffs_the_split_reads_get_rows(trainable: Simulated, tmp_path):
    """The trainable data's split reads six of the eight cutoffs (07-01 lies between the
    training and validation cutoffs, 09-01 between validation and test): featurize computes
    those six, each with the rows a run over every cutoff gives it."""
    cfg = trainable.cfg
    features = pd.read_parquet(Path(cfg.paths.features_dir) / FEATURES)
    split, _ = read_split(cfg.paths.features_dir, 45, cfg.training.split, cfg.seed, list(KEYS))
    assert sorted(features["cutoff"].unique()) == split.cutoffs
    assert [c.strftime("%m-%d") for c in split.cutoffs] == [
        "03-01", "04-01", "05-01", "06-01", "08-01", "10-01"
    ]  # fmt: skip
    every = replace(
        cfg,
        features=replace(cfg.features, cutoffs="all"),
        paths=replace(
            cfg.paths,
            features_dir=str(tmp_path / "features"),
            features_report=str(tmp_path / "features.json"),
        ),
    )
    featurize.run(every)
    all_rows = pd.read_parquet(tmp_path / "features" / FEATURES)
    assert all_rows["cutoff"].nunique() == 8
    kept = all_rows[all_rows["cutoff"].isin(split.cutoffs)].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, features)


def test_without_a_split_the_error_says_how_to_featurize_every_cutoff(
    tiny: Simulated, tiny_features
):
    """The tiny data's 120-day look-ahead leaves no training cutoff before a validation
    one: a split needs more cutoffs, and featurize says so before computing any."""
    cfg = replace(tiny.cfg, features=replace(tiny.cfg.features, cutoffs="split"))
    with pytest.raises(ConfigError, match=r"no cutoff.s 120-day label window .*cutoffs=all"):
        featurize.run(cfg)


def test_same_inputs_give_identical_files(tmp_path, tiny: Simulated, tiny_features):
    again = simulate(tmp_path, *TINY)
    featurize_simulated(again)
    for name in (FEATURES, CATALOGUE):
        first = Path(tiny.cfg.paths.features_dir) / name
        second = Path(again.cfg.paths.features_dir) / name
        assert first.read_bytes() == second.read_bytes(), name


def test_a_failing_run_keeps_the_previous_output(tmp_path, tiny: Simulated, tiny_features):
    out = Path(tiny.cfg.paths.features_dir)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    cfg = compose_config(
        tmp_path,
        *TINY,
        f"paths.validated_dir={tiny.cfg.paths.validated_dir}",
        f"paths.features_dir={out}",
        "data.cutoffs.end=2025-06-01",
    )
    with pytest.raises(ConfigError, match="lie after the end of the data"):
        featurize.run(cfg)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


def test_customers_in_ranges_give_the_same_table_and_report(
    tmp_path, tiny: Simulated, tiny_features
):
    """A query budget below the rows of one query cuts the customers into ranges of ids:
    the rows (now ordered by range first) and the report are those of one query."""
    features, _, report = tiny_features
    cfg = compose_config(
        tmp_path,
        *TINY,
        f"paths.validated_dir={tiny.cfg.paths.validated_dir}",
        "engine.customer_cutoffs_per_query=1500",  # 600 customers x 8 cutoffs: 4 ranges
    )
    featurize.run(cfg)
    in_ranges = pd.read_parquet(Path(cfg.paths.features_dir) / FEATURES)
    keys = ["cutoff", "customer_id"]
    assert not in_ranges[keys].equals(features[keys])  # not one query
    in_order = in_ranges.sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(in_order, features)
    assert json.loads(Path(cfg.paths.features_report).read_text()) == report


def test_a_range_that_fails_to_write_ends_the_run_and_keeps_the_previous_output(
    tmp_path, tiny: Simulated, tiny_features, monkeypatch
):
    """A range is written while the next is computed: a failed write still stops the run
    with its error, and the previous table stays."""
    out = Path(tiny.cfg.paths.features_dir)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    written = []

    def write_once(writer, rows):
        if written:
            raise OSError("disk full")
        written.append(len(rows))
        original_write(writer, rows)

    original_write = TableWriter.write
    monkeypatch.setattr(TableWriter, "write", write_once)
    cfg = compose_config(
        tmp_path,
        *TINY,
        f"paths.validated_dir={tiny.cfg.paths.validated_dir}",
        f"paths.features_dir={out}",
        "engine.customer_cutoffs_per_query=1500",  # 4 ranges
    )
    with pytest.raises(OSError, match="disk full"):
        featurize.run(cfg)
    assert len(written) == 1
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


@pytest.fixture(scope="module")
def labels_and_truth(simulated: Simulated) -> pd.DataFrame:
    features, _, _ = featurize_simulated(simulated)
    rows = features[features["churned"].notna()].reset_index(drop=True)
    horizon = simulated.cfg.features.label.horizon_days
    return rows.assign(truth=true_churn(rows, simulated.truth, horizon))


def test_contractual_labels_equal_the_true_churn(labels_and_truth):
    rows = labels_and_truth[labels_and_truth["churn_definition"] == "contractual"]
    assert (rows["churned"] == rows["truth"]).all()


def test_non_contractual_label_separates_leaving_from_a_quiet_spell(labels_and_truth):
    """The targets of issue 15 on default settings: accuracy >= 0.95, recall >= 0.85."""
    rows = labels_and_truth[labels_and_truth["churn_definition"] == "non_contractual"]
    truth = rows["truth"].astype(bool)
    churned = rows["churned"].astype(bool)
    assert (churned == truth).mean() >= 0.95
    assert churned[truth].mean() >= 0.85
    # Live customers silent for the whole confirmation are labelled churned: the label
    # rate runs a little above the true rate.
    rates = rows.groupby("cutoff")[["churned", "truth"]].mean()
    gap = rates["churned"] - rates["truth"]
    assert 0.0 < gap.mean() < 0.05, gap
    assert gap.abs().max() < 0.07, gap


def test_label_rate_per_cutoff_matches_the_truth(labels_and_truth):
    rates = labels_and_truth.groupby("cutoff")[["churned", "truth"]].mean()
    assert (rates["churned"] - rates["truth"]).abs().max() < 0.04, rates


@pytest.mark.postgres
def test_postgres_engine_computes_the_same_table_inside_the_database(
    tmp_path, tiny: Simulated, tiny_features, monkeypatch, caplog
):
    """The validated tables copied into a real PostgreSQL server; the stage reads them by
    name (one by a query), computes there and writes the same table as DuckDB. The URL,
    password included, comes from the environment and appears in no log line."""
    server = TemporaryPostgres().start()
    try:
        con = server.connect()
        validated = Path(tiny.cfg.paths.validated_dir)
        for path in validated.glob("*.parquet"):
            con.create_table(path.stem, pq.read_table(path))
        con.disconnect()
        url = server.url.replace("postgres@", "postgres:s3cret-pw@")
        monkeypatch.setenv("TEST_CHURN_DATABASE_URL", url)
        cfg = compose_config(
            tmp_path,
            *TINY,
            "engine=postgres",
            "engine.url_env=TEST_CHURN_DATABASE_URL",
            "engine.tables.surveys='select customer_id, \"timestamp\", score from surveys'",
        )
        caplog.set_level(logging.DEBUG)
        featurize.run(cfg)
    finally:
        server.stop()
    features, _, _ = tiny_features
    in_database = pd.read_parquet(Path(cfg.paths.features_dir) / FEATURES)
    pd.testing.assert_frame_equal(in_database, features)
    assert "s3cret-pw" not in caplog.text


def test_postgres_engine_without_its_url_is_a_clear_error(tmp_path, tiny: Simulated, monkeypatch):
    monkeypatch.delenv("CHURN_DATABASE_URL", raising=False)
    cfg = compose_config(tmp_path, *TINY, "engine=postgres")
    with pytest.raises(ConfigError, match="set the environment variable 'CHURN_DATABASE_URL'"):
        featurize.run(cfg)
