"""Bad input gets a clear error and loses nothing.

Each case writes the small valid tables of tests/contractdata.py as files, breaks one
thing, and runs the `validate` stage's entry point on them. It must exit with code 1, say
what is wrong (the expected words, naming the file or table and column), write nothing
and leave the previous validated tables as they were.
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from contract.errors import ConfigError
from models.config import ModelConfig
from models.fit import train_model
from pipeline import validate
from pipeline.config import load_config
from pipeline.engine import frames_history
from pipeline.stage import run_stage
from scoring.population import score_population
from tests.contractdata import valid_tables
from tests.featuredata import hand_tables
from tests.support import compose_config

pytestmark = pytest.mark.bad_input

Tables = dict[str, pd.DataFrame]


def _set(table: str, column: str, row: int, value: object) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        frame = tables[table].astype({column: object})
        frame.loc[row, column] = value
        tables[table] = frame

    return mutate


def _drop(table: str, column: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=column)

    return mutate


def _empty(table: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = tables[table].iloc[0:0]

    return mutate


def _duplicate(table: str, row: int) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        frame = tables[table]
        tables[table] = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)

    return mutate


# (case id, mutation of the valid tables, words the error must contain)
VALUE_CASES = [
    ("amount-inf", _set("transactions", "amount", 1, np.inf), ["transactions.amount", "finite"]),
    ("amount-minus-inf", _set("transactions", "amount", 1, -np.inf), ["transactions.amount"]),
    ("amount-negative", _set("transactions", "amount", 1, -25.5), ["greater_than_or_equal_to(0)"]),
    ("amount-text", _set("transactions", "amount", 0, "ten"), ["transactions.amount", "'ten'"]),
    ("amount-too-large", _set("transactions", "amount", 0, 2e10), ["less_than(10000000000.0)"]),
    ("discount-above-amount", _set("transactions", "discount", 0, 999.0), ["discount not above"]),
    ("credit-inf", _set("customers", "credit_score", 0, np.inf), ["customers.credit_score"]),
    ("credit-out-of-range", _set("customers", "credit_score", 0, 900.0), ["in_range(300, 850)"]),
    ("severity-fraction", _set("complaints", "severity", 0, 2.7), ["whole numbers", "2.7"]),
    ("severity-unknown", _set("complaints", "severity", 0, 4), ["complaints.severity", "isin"]),
    ("survey-fraction", _set("surveys", "score", 0, 9.9), ["surveys.score", "whole numbers"]),
    ("survey-out-of-range", _set("surveys", "score", 0, 11), ["surveys.score", "in_range"]),
    (
        "satisfaction-out-of-range",
        _set("complaints", "resolution_satisfaction", 0, 6.0),
        ["complaints.resolution_satisfaction"],
    ),
    ("autopay-five", _set("customers", "autopay", 0, 5), ["customers.autopay", "true/false"]),
    ("autopay-yes", _set("customers", "autopay", 0, "yes"), ["customers.autopay", "'yes'"]),
    ("autopay-Y", _set("customers", "autopay", 0, "Y"), ["customers.autopay", "data.codes"]),
    ("autopay-empty", _set("customers", "autopay", 0, None), ["customers.autopay", "empty"]),
    ("contract-unknown", _set("customers", "contract_type", 0, "lifetime"), ["'lifetime'"]),
    ("tier-unknown", _set("customers", "loyalty_tier", 0, "platinum"), ["'platinum'"]),
    ("category-unknown", _set("complaints", "category", 0, "weather"), ["complaints.category"]),
    ("status-unknown", _set("payments", "status", 0, "pending"), ["payments.status"]),
    ("kind-unknown", _set("service_incidents", "kind", 0, "flood"), ["service_incidents.kind"]),
    (
        "offer-discount-above-one",
        _set("competitor_offers", "discount", 0, 1.5),
        ["competitor_offers.discount"],
    ),
    (
        "offset-timestamp",
        _set("transactions", "timestamp", 0, "2024-01-05 10:00:00+05:00"),
        ["transactions.timestamp", "no time zone"],
    ),
    (
        "utc-z-timestamp",
        _set("surveys", "timestamp", 0, "2024-03-01T10:00:00Z"),
        ["surveys.timestamp", "UTC offset"],
    ),
    ("bad-date", _set("transactions", "timestamp", 0, "2024-13-45"), ["transactions.timestamp"]),
    (
        "year-2999",
        _set("transactions", "timestamp", 0, "2999-01-01"),
        ["transactions.timestamp", "between 1677 and 2262", "1 row(s)", "'2999-01-01'"],
    ),
    ("date-text", _set("customers", "signup_date", 0, "yesterday"), ["customers.signup_date"]),
    ("future-event", _set("surveys", "timestamp", 1, "2025-07-01"), ["not in the future"]),
    ("before-signup", _set("transactions", "timestamp", 2, "2024-01-15"), ["signup_date"]),
    (
        "resolved-before-opened",
        _set("complaints", "resolved_at", 0, "2024-02-01"),
        ["resolved_at not before opened_at"],
    ),
    ("paid-but-failed", _set("payments", "paid_date", 2, "2024-05-03"), ["paid_date empty"]),
    ("unknown-customer", _set("transactions", "customer_id", 3, 99), ["customer_id exists"]),
    ("blank-id", _set("customers", "customer_id", 0, "   "), ["customers.customer_id", "blank"]),
    ("empty-id", _set("customers", "customer_id", 0, None), ["customers.customer_id", "empty"]),
    ("duplicate-id", _set("customers", "customer_id", 2, 1), ["unique values"]),
    (
        "text-id-among-integers",
        _set("transactions", "customer_id", 0, "C1"),
        ["transactions.customer_id", "customer_id exists in customers", "'C1'"],
    ),
    ("duplicated-rows", _duplicate("transactions", 1), ["no duplicated rows"]),
    ("missing-timestamp", _drop("transactions", "timestamp"), ["mandatory column is missing"]),
    ("missing-opened-at", _drop("complaints", "opened_at"), ["complaints.opened_at"]),
    ("no-transactions-rows", _empty("transactions"), ["transactions", "no rows"]),
    (
        "churn-before-signup",
        _set("customers", "churn_date", 2, "2023-01-01"),
        ["churn_date not before signup_date"],
    ),
    (
        "signup-in-1900",
        _set("customers", "signup_date", 0, "1900-01-01"),
        ["customers.signup_date", "not before 1971-01-01", "placeholders", "1900-01-01"],
    ),
    (
        "unix-epoch-survey",
        _set("surveys", "timestamp", 0, "1970-01-01"),
        ["surveys.timestamp", "validation.earliest_date"],
    ),
    (
        "contract-end-1899",
        _set("customers", "contract_end", 1, "1899-12-30"),
        ["customers.contract_end", "not before signup_date", "1899-12-30"],
    ),
    (
        "contract-end-before-signup",
        _set("customers", "contract_end", 1, "2023-01-01"),
        ["contract_end not before signup_date"],
    ),
    ("amount-empty", _set("transactions", "amount", 0, None), ["transactions.amount", "empty"]),
    ("timestamp-empty", _set("transactions", "timestamp", 0, None), ["no empty values", "NaT"]),
    ("discount-negative", _set("transactions", "discount", 0, -1.0), ["transactions.discount"]),
    ("is-return-maybe", _set("transactions", "is_return", 0, "maybe"), ["'maybe'", "data.codes"]),
    ("id-fraction", _set("transactions", "customer_id", 0, 1.5), ["customer_id exists", "1.5"]),
    ("credit-text", _set("customers", "credit_score", 0, "good"), ["credit_score", "'good'"]),
    ("tier-empty", _set("customers", "loyalty_tier", 0, None), ["customers.loyalty_tier", "empty"]),
    ("manager-two", _set("customers", "account_manager", 0, 2), ["account_manager", "'2'"]),
    (
        "signup-offset",
        _set("customers", "signup_date", 0, "2024-01-01T00:00:00+01:00"),
        ["customers.signup_date", "no time zone"],
    ),
    ("severity-zero", _set("complaints", "severity", 0, 0), ["complaints.severity", "isin"]),
    ("severity-text", _set("complaints", "severity", 0, "high"), ["complaints.severity", "'high'"]),
    (
        "satisfaction-zero",
        _set("complaints", "resolution_satisfaction", 0, 0.0),
        ["complaints.resolution_satisfaction", "in_range(1, 5)"],
    ),
    (
        "complaint-of-unknown-customer",
        _set("complaints", "customer_id", 0, 77),
        ["complaints.customer_id", "customer_id exists in customers", "77"],
    ),
    ("survey-zero", _set("surveys", "score", 0, 0), ["surveys.score", "in_range(1, 10)"]),
    ("survey-text", _set("surveys", "score", 0, "ten"), ["surveys.score", "'ten'"]),
    (
        "survey-before-signup",
        _set("surveys", "timestamp", 0, "2023-06-01"),
        ["surveys.timestamp", "signup_date"],
    ),
    (
        "incident-severity-fraction",
        _set("service_incidents", "severity", 0, 1.5),
        ["service_incidents.severity", "whole numbers"],
    ),
    (
        "incident-in-the-future",
        _set("service_incidents", "timestamp", 0, "2030-01-01"),
        ["service_incidents.timestamp", "not in the future"],
    ),
    ("payment-negative", _set("payments", "amount", 0, -30.0), ["payments.amount"]),
    ("due-date-text", _set("payments", "due_date", 0, "soon"), ["payments.due_date", "'soon'"]),
    (
        "payment-of-unknown-customer",
        _set("payments", "customer_id", 0, 77),
        ["payments.customer_id", "customer_id exists in customers"],
    ),
    (
        "offer-discount-negative",
        _set("competitor_offers", "discount", 0, -0.1),
        ["competitor_offers.discount", "in_range(0, 1)"],
    ),
    (
        "offer-ends-before-start",
        _set("competitor_offers", "end_date", 0, "2024-04-01"),
        ["end_date not before start_date"],
    ),
    (
        "offer-region-empty",
        _set("competitor_offers", "region", 0, None),
        ["competitor_offers.region", "empty"],
    ),
    ("missing-id-column", _drop("transactions", "customer_id"), ["transactions.customer_id"]),
    ("missing-customers-id", _drop("customers", "customer_id"), ["customers.customer_id"]),
    ("missing-due-date", _drop("payments", "due_date"), ["payments.due_date", "missing"]),
    ("missing-offer-region", _drop("competitor_offers", "region"), ["competitor_offers.region"]),
]


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """params.yaml for CSV tables (each test points it at its own folders)."""
    workdir = tmp_path_factory.mktemp("bad-input")
    compose_config(
        workdir,
        "data.name=mine",
        "data.simulated=false",
        "data.format=csv",
        "validation.reference_date=2025-06-30",
    )
    return workdir / "params.yaml"


@pytest.fixture
def run_validate(params: Path, tmp_path: Path, monkeypatch, caplog) -> Callable[[], str]:
    """Run the stage's entry point on ``tmp_path/input`` with a validated folder from a
    previous run; return the error it logged (it must exit with code 1)."""
    previous = tmp_path / "validated"
    previous.mkdir()
    (previous / "customers.parquet").write_bytes(b"previous run")
    overrides = [
        f"data.dir={tmp_path / 'input'}",
        f"paths.validated_dir={previous}",
        f"paths.validation_report={tmp_path / 'reports' / 'validation.json'}",
    ]

    def run(params_file: Path = params, extra: list[str] | tuple = ()) -> str:
        argv = ["validate", "--params", str(params_file), *overrides, *extra]
        monkeypatch.setattr(sys, "argv", argv)
        caplog.set_level(logging.ERROR)
        with pytest.raises(SystemExit) as exited:
            validate.main()
        assert exited.value.code == 1
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        (error,) = errors
        return error

    return run


def _write(tables: Tables, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(directory / f"{name}.csv", index=False)


def _nothing_written(tmp_path: Path) -> None:
    previous = tmp_path / "validated"
    assert [p.name for p in previous.iterdir()] == ["customers.parquet"]
    assert (previous / "customers.parquet").read_bytes() == b"previous run"
    assert not (tmp_path / "reports").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input", "validated"]


@pytest.mark.parametrize(
    ("mutate", "words"),
    [pytest.param(mutate, words, id=case) for case, mutate, words in VALUE_CASES],
)
def test_bad_values_stop_validation_with_a_clear_error(run_validate, tmp_path, mutate, words):
    tables = valid_tables()
    mutate(tables)
    _write(tables, tmp_path / "input")
    error = run_validate()
    assert error.startswith("input data violates the contract")
    for word in words:
        assert word in error, error
    _nothing_written(tmp_path)


def _file(name: str, content: bytes) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        (directory / name).write_bytes(content)

    return write


def _folder(name: str) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        (directory / name).unlink()
        (directory / name).mkdir()

    return write


LATIN_1 = b"customer_id,timestamp\n1,2024-01-05\n" + "2,Café\n".encode("latin-1")
FILE_CASES = [
    ("empty-file", _file("transactions.csv", b""), ["transactions.csv", "empty"]),
    ("newline-only", _file("transactions.csv", b"\n"), ["transactions.csv", "empty"]),
    ("latin-1", _file("transactions.csv", LATIN_1), ["transactions.csv", "not UTF-8", "0xe9"]),
    (
        "binary-bytes",
        _file("transactions.csv", bytes(range(256)) * 4),
        ["transactions.csv", "not a well-formed CSV"],
    ),
    (
        "semicolons",
        _file("transactions.csv", b"customer_id;timestamp\n1;2024-01-05\n"),
        ["transactions.csv", "';'", "comma-separated"],
    ),
    (
        "tabs",
        _file("transactions.csv", b"customer_id\ttimestamp\n1\t2024-01-05\n"),
        ["transactions.csv", "tab", "comma-separated"],
    ),
    (
        "pipes",
        _file("transactions.csv", b"customer_id|timestamp\n1|2024-01-05\n"),
        ["transactions.csv", "'|'", "comma-separated"],
    ),
    (
        "ragged-rows",
        _file("transactions.csv", b'customer_id,timestamp\n1,"2024-01-05\n'),
        ["transactions.csv", "not a well-formed CSV"],
    ),
    (
        "repeated-header",
        _file("transactions.csv", b"customer_id,customer_id,timestamp\n1,1,2024-01-05\n"),
        ["transactions.csv", "['customer_id'] more than once"],
    ),
    (
        "header-only-customers",
        _file("customers.csv", b"customer_id,signup_date\n"),
        ["customers.(all columns)", "has no rows"],
    ),
    ("folder-not-file", _folder("transactions.csv"), ["transactions.csv", "a folder, not a file"]),
    ("missing-file", lambda directory: (directory / "transactions.csv").unlink(), ["no file at"]),
]


@pytest.mark.parametrize(
    ("write", "words"), [pytest.param(write, words, id=case) for case, write, words in FILE_CASES]
)
def test_unreadable_files_are_named_with_what_to_do(run_validate, tmp_path, write, words):
    _write(valid_tables(), tmp_path / "input")
    write(tmp_path / "input")
    error = run_validate()
    for word in words:
        assert word in error, error
    _nothing_written(tmp_path)


# (case id, overrides of the stage's command line, words the error must contain)
CONFIG_CASES = [
    ("format-xlsx", ["data.format=xlsx"], ["data.format", "'xlsx'"]),
    ("unknown-table", ["data.tables.orders=orders"], ["data.tables", "orders"]),
    ("required-table-null", ["data.tables.transactions=null"], ["required tables"]),
    ("data-dir-missing", ["data.dir=/no/such/folder"], ["no file at /no/such/folder"]),
    ("reference-date-text", ["validation.reference_date=someday"], ["'someday' is not a date"]),
    ("earliest-date-text", ["validation.earliest_date=long-ago"], ["validation.earliest_date"]),
    ("max-examples-text", ["validation.max_examples=many"], ["validation.max_examples", "many"]),
    (
        "override-not-hydra",
        ["data.date_format=%d=%m"],
        ["data.date_format=%d=%m", "not a Hydra override", "quote"],
    ),
    ("override-sweep", ["seed=1,2"], ["seed=1,2", "one value per key"]),
    (
        "output-outside-the-repository",
        ["paths.allow_outside_repository=false"],
        ["paths.validated_dir=", "outside the repository", "allow_outside_repository=true"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [pytest.param(overrides, words, id=case) for case, overrides, words in CONFIG_CASES],
)
def test_bad_settings_stop_the_stage_before_it_reads(run_validate, tmp_path, overrides, words):
    _write(valid_tables(), tmp_path / "input")
    error = run_validate(extra=overrides)
    for word in words:
        assert word in error, error
    _nothing_written(tmp_path)


@pytest.mark.parametrize(
    "content", [b"PAR1 not really parquet", b""], ids=["corrupt-parquet", "empty-parquet"]
)
def test_unreadable_parquet_is_named(run_validate, params, tmp_path, content):
    directory = tmp_path / "input"
    directory.mkdir()
    for name, frame in valid_tables().items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    (directory / "transactions.parquet").write_bytes(content)
    parquet = tmp_path / "parquet.yaml"
    parquet.write_text(
        params.read_text(encoding="utf-8").replace("format: csv", "format: parquet"),
        encoding="utf-8",
    )
    error = run_validate(parquet)
    assert "transactions.parquet: not a readable Parquet file" in error
    assert "export the table again" in error
    assert [p.name for p in (tmp_path / "validated").iterdir()] == ["customers.parquet"]


def test_invalid_params_yaml_is_a_config_error(run_validate, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: {dir: [unclosed\n", encoding="utf-8")
    error = run_validate(broken)
    assert "not valid YAML" in error and "make params" in error


def test_training_data_of_one_class_is_a_clear_error():
    rows = pd.DataFrame(
        {
            "customer_id": range(40),
            "cutoff": pd.Timestamp("2025-01-01"),
            "recency_days": np.arange(40.0),
            "churned": pd.array([0] * 40, dtype="Int8"),
        }
    )
    parts = {"train": rows, "early_stopping": rows, "calibration": rows, "test": rows}
    catalogue = [{"name": "recency_days", "family": "rfm", "dtype": "float32"}]
    model = ModelConfig("logreg", None, None, None, None, {"C": 1.0, "max_iter": 100})
    with pytest.raises(ConfigError, match="the train part has all 40 rows are churned=0"):
        train_model(model, parts, catalogue, "sigmoid", seed=0)


def test_a_read_only_output_folder_is_a_clear_error(tmp_path, monkeypatch, caplog):
    def run(cfg) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out"))

    monkeypatch.setattr(sys, "argv", ["stage"])
    monkeypatch.setattr("pipeline.stage.config_from_cli", lambda *args: SimpleNamespace(n_jobs=1))
    caplog.set_level(logging.ERROR)
    with pytest.raises(SystemExit) as exited:
        run_stage(run, "a stage")
    assert exited.value.code == 1
    assert f"cannot write {tmp_path / 'out'}: Permission denied" in caplog.text
    assert "previous outputs are unchanged" in caplog.text


def test_scoring_before_any_customer_is_a_clear_error(params):
    cfg = load_config(params)
    history = frames_history(hand_tables(), cfg.features, cfg.data)
    with pytest.raises(ConfigError, match="no customer is active as of 2000-01-01"):
        score_population(
            history,
            list(cfg.causes),
            pd.Timestamp("2000-01-01"),
            pd.Timestamp("2025-06-01"),
            model=None,
            input_types={},
            drift_reference={"features": {}},
            risk_threshold=0.05,
            fraud_flag=None,
            ranges=[(None, None)],
        )
