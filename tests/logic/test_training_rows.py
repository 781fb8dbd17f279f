"""Training at scale on hand-made feature tables: only the cutoffs and columns a split
needs are read, in their stored types; LightGBM gets one float32 array equal to what its
encoder makes; a row budget keeps every churner and the natural churn rate; MLflow's
schema of a part is right without visiting every value."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from contract.errors import ConfigError
from models.config import SplitConfig
from models.estimators import category_encoder, encoded_matrix, fit_model, model_inputs
from models.split import plan_split, sample_stayers, split_rows
from pipeline.artifacts import FEATURES
from pipeline.config import load_config
from pipeline.feature_rows import read_labels, read_split
from pipeline.tracking import SCHEMA_ROWS, frame_schema
from tests.support import REPO

AUTO = SplitConfig(
    test_cutoff=None, validation_cutoff=None, train_cutoffs=None, calibration_share=0.5
)
CUTOFFS = list(pd.date_range("2024-01-01", "2025-06-01", freq="MS"))
CUSTOMERS = 200
DEFAULTS = load_config(REPO / "params.yaml")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """A feature table as featurize writes it: every cutoff's customers, float32 numbers,
    a category, and the last three cutoffs unlabelled (their windows are still open)."""
    rng = np.random.default_rng(3)
    n = CUSTOMERS * len(CUTOFFS)
    cutoff = np.repeat(CUTOFFS, CUSTOMERS)
    churned = pd.array(rng.integers(0, 2, n), dtype="Int8")
    churned[cutoff > CUTOFFS[-4]] = pd.NA
    return pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(CUSTOMERS), len(CUTOFFS)),
            "cutoff": cutoff,
            "churn_definition": pd.Categorical(["non_contractual"] * n),
            "churned": churned,
            "recency_days": rng.exponential(30, n).astype("float32"),
            "spend_365d": np.where(rng.random(n) < 0.2, np.nan, rng.gamma(2, 50, n)).astype(
                "float32"
            ),
            "contract_type": pd.Categorical(rng.choice(["annual", "none", None], n)),
        }
    )


@pytest.fixture(scope="module")
def features_dir(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("features")
    table.to_parquet(folder / FEATURES, index=False)
    return folder


def test_the_split_read_from_the_file_equals_the_split_of_the_whole_table(table, features_dir):
    split, parts = read_split(features_dir, 90, AUTO, seed=4)
    labelled = table["churned"].notna()
    assert split == plan_split(list(table.loc[labelled, "cutoff"].unique()), 90, AUTO)
    expected = split_rows(table, split, AUTO.calibration_share, seed=4)
    for name, rows in parts.items():
        pd.testing.assert_frame_equal(
            rows.reset_index(drop=True), expected[name].reset_index(drop=True), check_dtype=True
        )
    # The cutoffs between the validation and the test cutoff are never read.
    read = pd.concat(parts.values())["cutoff"].unique()
    assert len(read) == len(split.train_cutoffs) + 2 < labelled.groupby(table["cutoff"]).any().sum()


def test_only_the_columns_asked_for_are_read_in_their_stored_types(features_dir):
    columns = ["customer_id", "cutoff", "churned", "spend_365d", "contract_type"]
    _, parts = read_split(features_dir, 90, AUTO, seed=4, columns=columns)
    train = parts["train"]
    assert list(train.columns) == columns
    assert train["spend_365d"].dtype == np.float32
    assert isinstance(train["contract_type"].dtype, pd.CategoricalDtype)


def test_labels_are_every_labelled_row_keys_and_definition_only(table, features_dir):
    labels = read_labels(features_dir)
    assert list(labels.columns) == ["customer_id", "cutoff", "churn_definition", "churned"]
    assert len(labels) == table["churned"].notna().sum()


def test_lightgbm_gets_one_float32_array_equal_to_its_encoders_output(table):
    rows = table[["recency_days", "spend_365d", "contract_type"]]
    encode = category_encoder(rows, ["contract_type"])
    matrix = encoded_matrix(rows, encode)
    expected = encode.transform(model_inputs(rows, list(rows.columns)))
    assert list(matrix.columns) == list(expected.columns)
    np.testing.assert_array_equal(matrix.to_numpy(), expected.to_numpy(dtype=np.float32))
    assert matrix.to_numpy().dtype == np.float32
    # Columns contiguous: LightGBM reads the array as it is, without a copy.
    assert matrix.to_numpy().flags["F_CONTIGUOUS"]
    # The categories are the training rows' values, sorted; missing stays missing.
    assert list(encode.named_transformers_["categories"].categories_[0]) == ["annual", "none"]
    assert matrix["contract_type"].isna().sum() == rows["contract_type"].isna().sum()


def test_a_model_fitted_on_categories_scores_strings_the_same(table):
    """Training reads pandas categories; a scoring caller (MLflow) passes strings."""
    labelled = table[table["churned"].notna()]
    rows = labelled[["recency_days", "spend_365d", "contract_type"]]
    y = labelled["churned"].astype(int).to_numpy()
    model = fit_model(DEFAULTS.model, rows, y, (rows, y), ["contract_type"], seed=0)
    as_strings = model_inputs(rows, list(rows.columns))
    np.testing.assert_array_equal(model.predict_proba(rows), model.predict_proba(as_strings))


def test_a_row_budget_keeps_every_churner_and_the_natural_churn_rate(table, caplog):
    train = table[table["churned"].notna()]
    churned = train["churned"].to_numpy() == 1
    budget = churned.sum() + 300
    with caplog.at_level(logging.WARNING, logger="models.split"):
        kept, weight = sample_stayers(train, budget, seed=5)
    # Fewer stayers than churners: told, with the budget that draws as many.
    assert f"300 stayers drawn against {churned.sum()} churners" in caplog.text
    assert f"at least {2 * churned.sum()} rows" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="models.split"):
        sample_stayers(train, 2 * churned.sum(), seed=5)
    assert not caplog.records
    assert len(kept) == budget
    assert (kept["churned"] == 1).sum() == churned.sum()
    stayers = kept["churned"].to_numpy() == 0
    assert stayers.sum() == 300
    assert set(weight[~stayers]) == {1.0}
    assert set(weight[stayers]) == {(~churned).sum() / 300}
    # Weighted, the sample has the full rows' churn rate.
    assert np.average(~stayers, weights=weight) == pytest.approx(churned.mean())
    # Within the budget, or without one: every row, equal weights.
    assert sample_stayers(train, len(train), seed=5)[0] is train
    assert sample_stayers(train, None, seed=5)[1] is None
    with pytest.raises(ConfigError, match=r"cannot hold the 1,\d{3} churners"):
        sample_stayers(train, int(churned.sum()), seed=5)


def test_the_schema_of_a_part_marks_a_column_optional_if_any_row_misses_it():
    rows = pd.DataFrame(
        {
            "spend": np.arange(3 * SCHEMA_ROWS, dtype="float32"),
            "contract_type": ["annual"] * (3 * SCHEMA_ROWS - 1) + [None],
        }
    )
    schema = {spec.name: spec for spec in frame_schema(rows).inputs}
    assert schema["spend"].required and schema["spend"].type.name == "float"
    # Missing only after the rows the types are inferred from: still optional.
    assert not schema["contract_type"].required
    assert schema["contract_type"].type.name == "string"
