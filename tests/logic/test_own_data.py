"""Data we did not make: a minimal contract, mapping, derived customers, snapshot mode.

Each absent input is a documented skip or a clear error; nothing is invented.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from contract.config import SnapshotConfig
from contract.customers import complete_customers
from contract.errors import ConfigError
from contract.mapping import map_to_contract
from contract.purchases import purchases_from_lines
from contract.validation import ContractViolation, validate_tables
from features.feature_table import cutoff_dates, observed_until, plan_features, snapshot
from models.config import CrossValidationConfig, ModelConfig
from models.crossval import cross_validation_folds, learning_parts, out_of_fold
from models.drift import drift_table
from models.fit import candidate_models
from pipeline.config import Config
from pipeline.engine import frames_history
from scoring.value import customer_value
from tests.contractdata import VALIDATION, data_config, valid_tables
from tests.featuredata import CUTOFF, hand_tables
from tests.support import compose_config


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return compose_config(tmp_path_factory.mktemp("own"), "data.cutoffs.end=2025-01-01")


def _violations(tables: dict[str, pd.DataFrame], **data) -> list:
    with pytest.raises(ContractViolation) as caught:
        validate_tables(
            map_to_contract(tables, data_config(**data)), data_config(**data), VALIDATION
        )
    return caught.value.violations


# --- Mapping onto the contract ---------------------------------------------------------


def _crm_export() -> dict[str, pd.DataFrame]:
    tables = valid_tables()
    customers = tables["customers"].rename(columns={"customer_id": "CustomerID"})
    customers["autopay"] = ["No", "Yes", "Yes"]
    customers["contract_type"] = ["None", "One year", "Monthly"]
    tables["customers"] = customers
    return tables


CRM_MAPPING = {
    "columns": {"customers": {"customer_id": "CustomerID"}},
    "codes": {
        "customers": {
            "autopay": {"Yes": True, "No": False},
            "contract_type": {"None": "none", "One year": "annual", "Monthly": "month_to_month"},
        }
    },
}


def test_names_and_codes_map_onto_the_contract():
    data = data_config(**CRM_MAPPING)
    validated = validate_tables(map_to_contract(_crm_export(), data), data, VALIDATION)
    customers = validated["customers"]
    assert customers["autopay"].tolist() == [False, True, True]
    assert customers["contract_type"].tolist() == ["none", "annual", "month_to_month"]
    assert customers["customer_id"].tolist() == [1, 2, 3]


def test_unmapped_codes_are_named_with_their_counts():
    tables = _crm_export()
    tables["customers"].loc[2, "contract_type"] = "Two year"
    (violation,) = _violations(tables, **CRM_MAPPING)
    assert (violation.table, violation.column, violation.n_rows) == (
        "customers",
        "contract_type",
        1,
    )
    assert "data.codes.customers.contract_type" in violation.check
    assert violation.examples == ("'Two year' (1 rows)",)


def test_a_missing_or_ambiguous_column_mapping_is_reported():
    tables = _crm_export()
    missing = {"columns": {"customers": {"customer_id": "Customer"}}}
    (violation,) = _violations(tables, **missing)
    assert "column 'Customer'" in violation.check and "not in the table" in violation.check
    twice = {"columns": {"customers": {"customer_id": "CustomerID", "region": "CustomerID"}}}
    checks = [violation.check for violation in _violations(tables, **twice)]
    assert "ambiguous: ['customer_id', 'region'] all map to column 'CustomerID'" in checks
    # The table's own region column would be overwritten by the mapped one.
    assert "ambiguous: the table has 'region' and data.columns maps 'CustomerID' onto it" in checks


def test_yaml_booleans_as_codes_must_be_quoted():
    data = data_config(codes={"customers": {"autopay": {True: True}}})
    with pytest.raises(ConfigError, match="quote the codes"):
        map_to_contract(valid_tables(), data)


@pytest.mark.parametrize("text", ["yes", "Y", "2"])
def test_booleans_are_parsed_strictly(text):
    tables = valid_tables()
    tables["customers"]["autopay"] = ["true", "FALSE", text]
    (violation,) = _violations(tables)
    assert (violation.column, violation.n_rows) == ("autopay", 1)
    assert "true/false or 1/0" in violation.check
    tables["customers"]["autopay"] = ["true", "FALSE", "1"]
    validated = validate_tables(tables, data_config(), VALIDATION)
    assert validated["customers"]["autopay"].tolist() == [True, False, True]


# --- The minimal contract ---------------------------------------------------------------


def _purchase_log() -> pd.DataFrame:
    return hand_tables()["transactions"][["customer_id", "timestamp"]]


def test_a_purchase_log_is_enough_and_customers_derive_from_it():
    data = data_config(tables={"transactions": "transactions"})
    validated = validate_tables({"transactions": _purchase_log()}, data, VALIDATION)
    completed, notes = complete_customers(validated, data)
    customers = completed["customers"].set_index("customer_id")
    assert list(customers.index) == [1, 5, 6]
    assert customers.loc[1, "signup_date"] == pd.Timestamp("2024-08-01")  # first purchase
    assert "derived from the events" in notes[0]


def test_missing_signup_dates_are_each_customers_first_event():
    tables = valid_tables()
    tables["customers"] = tables["customers"].drop(columns="signup_date")
    validated = validate_tables(tables, data_config(), VALIDATION)
    completed, notes = complete_customers(validated, data_config())
    first = completed["customers"].set_index("customer_id")["signup_date"]
    assert first[1] == pd.Timestamp("2024-01-05 10:00")
    assert "first event" in notes[0]


def test_invoice_lines_become_purchases():
    lines = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "timestamp": pd.to_datetime(["2024-01-01 10:00"] * 3 + ["2024-01-01 10:00"]),
            "amount": [5.0, 5.0, 2.0, 7.0],
        }
    )
    data = data_config(transactions_are_lines=True)
    validate_tables({"transactions": lines}, data, VALIDATION)  # identical lines are fine
    purchases, note = purchases_from_lines(lines)
    assert purchases["amount"].tolist() == [12.0, 7.0]
    assert note.startswith("transactions: 4 lines are 2 purchases")
    with pytest.raises(ContractViolation, match="no duplicated rows"):
        validate_tables({"transactions": lines}, data_config(), VALIDATION)


def test_a_purchase_log_gets_only_the_features_it_evidences(cfg):
    tables = {"transactions": _purchase_log()}
    data = replace(cfg.data, tables={"transactions": "transactions"})
    tables, _ = complete_customers(tables, data)
    history = frames_history(tables, cfg.features, data)
    plan = plan_features(history, list(cfg.causes))
    names = set(plan.feature_names)
    assert {"recency_days", "purchases_90d", "trend_purchases_30d", "tenure_days"} <= names
    assert "lifecycle_stage" in names
    assert not names & {"spend_90d", "avg_basket_365d", "trend_spend_30d", "categories_365d"}
    assert not names & {"contract_type", "autopay", "loyalty_tier_rank", "account_manager"}
    assert {"price", "returns", "complaints", "credit"} <= set(plan.absent)
    rows = snapshot(history, plan, CUTOFF, observed_until(history)).set_index("customer_id")
    assert (rows["churn_definition"] == "non_contractual").all()  # no contract_type
    assert rows.loc[1, "tenure_days"] == (CUTOFF - pd.Timestamp("2024-08-01")).days


def test_customer_value_without_amounts_needs_the_margin_per_purchase(cfg):
    tables = {"transactions": _purchase_log()}
    data = replace(cfg.data, tables={"transactions": "transactions"})
    tables, _ = complete_customers(tables, data)
    history = frames_history(tables, cfg.features, data)
    with pytest.raises(ConfigError, match="margin_per_purchase: transactions have no amount"):
        customer_value(history, CUTOFF, replace(cfg.scoring.value, future="run_rate"))
    value = replace(cfg.scoring.value, future="run_rate", margin_per_purchase=10.0)
    values = customer_value(history, CUTOFF, value).set_index("customer_id")
    # Customer 1: four purchases in the last 365 days, three in the last 90.
    assert values.loc[1, "historical_margin"] == 40.0
    assert values.loc[1, "future_value"] == pytest.approx(30.0 * 365 / 90)
    # future: btyd: the purchases expected of a customer still there, at the same margin.
    outlook = pd.DataFrame({"purchases_if_alive": 3.0}, index=values.index)
    btyd = customer_value(history, CUTOFF, replace(value, future="btyd"), outlook)
    assert btyd["future_value"].tolist() == pytest.approx([30.0] * len(btyd))


def test_contract_end_sets_the_renewal_date_where_given(cfg):
    tables = hand_tables()
    customers = tables["customers"]
    # Signed up on 2020-03-15, but the current term ends on 2025-06-30.
    customers.loc[customers["customer_id"] == 3, "contract_end"] = pd.Timestamp("2025-06-30")
    history = frames_history(tables, cfg.features, cfg.data)
    plan = plan_features(history, list(cfg.causes))
    rows = snapshot(history, plan, CUTOFF, observed_until(history)).set_index("customer_id")
    assert rows.loc[3, "days_to_contract_end"] == (pd.Timestamp("2025-06-30") - CUTOFF).days


def test_unset_cutoff_bounds_derive_from_the_data(cfg):
    history = frames_history(hand_tables(), cfg.features, cfg.data)
    data = replace(cfg.data, cutoffs=replace(cfg.data.cutoffs, start=None, end=None))
    history = replace(history, data=data)
    # First purchase 2024-08-01 + 365 days; month starts up to the end of the data.
    end = pd.Timestamp("2026-01-15")
    assert cutoff_dates(history, end) == list(pd.date_range("2025-08-01", end, freq="MS"))
    with pytest.raises(ConfigError, match="gives no dates"):
        cutoff_dates(history, pd.Timestamp("2025-03-01"))  # not a year of history yet


# --- Snapshot mode ------------------------------------------------------------------------


def test_snapshot_rows_are_every_customer_with_the_given_label(cfg):
    tables = hand_tables()
    customers = tables["customers"].drop(columns="churn_date")
    customers["Churn"] = [False, True, True, False, True, False, False]
    data = replace(
        cfg.data,
        extra_customer_columns={},
        snapshot=SnapshotConfig(date="2025-01-01", label="Churn"),
    )
    history = frames_history({**tables, "customers": customers}, cfg.features, data)
    end = observed_until(history)
    assert end == CUTOFF and cutoff_dates(history, end) == [CUTOFF]
    plan = plan_features(history, list(cfg.causes))
    rows = snapshot(history, plan, CUTOFF, end).set_index("customer_id")
    # Everyone who signed up before the snapshot date (7 signs up on it).
    assert list(rows.index) == [1, 2, 3, 4, 5, 6]
    assert rows["churned"].tolist() == [0, 1, 1, 0, 1, 0]
    assert "Churn" not in plan.feature_names


def test_the_snapshot_label_cannot_be_a_feature():
    with pytest.raises(ConfigError, match="would leak the answer"):
        data_config(
            extra_customer_columns={"Churn": "categorical"},
            snapshot=SnapshotConfig(date="2025-01-01", label="Churn"),
        )


def _snapshot_rows(n: int = 200, churn_every: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "cutoff": pd.Timestamp("2025-01-01"),
            "churned": pd.array([int(i % churn_every == 0) for i in range(n)], dtype="Int8"),
        }
    )


def test_cross_validation_folds_are_stratified_and_cover_every_row_once():
    rows = _snapshot_rows()
    cv = CrossValidationConfig(folds=5, validation_share=0.25)
    folds = cross_validation_folds(rows, cv, calibration_share=0.5, seed=1)
    tested = pd.concat([fold["test"] for fold in folds])
    assert sorted(tested.index) == list(rows.index)
    for fold in folds:
        assert fold["test"]["churned"].mean() == pytest.approx(0.25, abs=0.03)
        customers = [set(part["customer_id"]) for part in fold.values()]
        assert sum(map(len, customers)) == len(set().union(*customers))  # disjoint parts
    scores = [np.full(len(fold["test"]), k, dtype=float) for k, fold in enumerate(folds)]
    probability = out_of_fold(rows, folds, scores)
    for k, fold in enumerate(folds):
        assert (probability[fold["test"].index] == k).all()


def test_learning_parts_hold_out_customers_for_early_stopping_and_calibration():
    parts = learning_parts(_snapshot_rows(), CrossValidationConfig(5, 0.25), 0.5, seed=1)
    assert {name: len(part) for name, part in parts.items()} == {
        "train": 150,
        "early_stopping": 25,
        "calibration": 25,
    }


def test_too_few_churners_for_the_folds_is_a_clear_error():
    with pytest.raises(ConfigError, match="5 folds need at least as many churners"):
        cross_validation_folds(_snapshot_rows(12), CrossValidationConfig(5, 0.25), 0.5, 1)


# --- Training candidates, drift ------------------------------------------------------------


def test_baselines_without_their_features_are_left_out():
    main = ModelConfig("lightgbm", None, None, 50, None, {})
    rfm = ModelConfig("logreg", ["rfm"], None, None, None, {})
    catalogue = [{"name": "declared_spend", "family": "declared"}]
    assert list(candidate_models(main, {"logreg_rfm": rfm}, catalogue)) == ["lightgbm"]
    with pytest.raises(ConfigError, match=r"model.families: the data has no \['rfm'\]"):
        candidate_models(replace(main, families=["rfm"]), {}, catalogue)


def test_drift_report_says_why_a_feature_is_exempt():
    psi = pd.Series({"tenure_days": 2.0, "recency_days": 0.3, "purchases_90d": 0.01})
    table = drift_table(psi, 0.1, 0.25, {"tenure_*": "grows with the calendar"})
    table = table.set_index("feature")
    assert table["status"].to_dict() == {
        "tenure_days": "exempt",
        "recency_days": "refuse",
        "purchases_90d": "ok",
    }
    assert table.loc["tenure_days", "exempt_because"] == "grows with the calendar"
    assert table.loc["recency_days", "exempt_because"] == ""
