"""The data contract: every kind of bad input gets a precise message naming where it is."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contract.config import DataConfig
from contract.errors import ConfigError
from contract.tables import table_contracts
from contract.validation import ContractViolation, Violation, validate_tables
from pipeline.io import read_input_tables, read_table_chunks
from tests.contractdata import TABLE_STEMS, VALIDATION, data_config, valid_tables, write_raw
from tests.support import REPO


def violations_of(
    tables: dict[str, pd.DataFrame], data: DataConfig | None = None
) -> list[Violation]:
    with pytest.raises(ContractViolation) as caught:
        validate_tables(tables, data or data_config(), VALIDATION)
    return caught.value.violations


def test_valid_tables_pass_typed_and_complete():
    validated = validate_tables(valid_tables(), data_config(), VALIDATION)
    assert {name: len(frame) for name, frame in validated.items()} == {
        name: len(frame) for name, frame in valid_tables().items()
    }
    assert validated["transactions"]["amount"].dtype == "float64"
    assert validated["customers"]["signup_date"].dtype == "datetime64[ns]"


def _set(table: str, column: str, row: int, value: object) -> Callable[[dict], None]:
    def mutate(tables: dict[str, pd.DataFrame]) -> None:
        frame = tables[table].astype({column: object}) if isinstance(value, str) else tables[table]
        frame.loc[row, column] = value
        tables[table] = frame

    return mutate


def _duplicate_row(table: str, row: int) -> Callable[[dict], None]:
    def mutate(tables: dict[str, pd.DataFrame]) -> None:
        tables[table] = pd.concat([tables[table], tables[table].iloc[[row]]], ignore_index=True)

    return mutate


def _drop_column(table: str, column: str) -> Callable[[dict], None]:
    def mutate(tables: dict[str, pd.DataFrame]) -> None:
        tables[table] = tables[table].drop(columns=column)

    return mutate


@pytest.mark.parametrize(
    ("mutate", "table", "column", "check", "n_rows", "example"),
    [
        (
            _set("customers", "customer_id", 2, 1),
            "customers",
            "customer_id",
            "unique values",
            2,
            "row 0",
        ),
        (
            _set("transactions", "customer_id", 3, 99),
            "transactions",
            "customer_id",
            "customer_id exists in customers",
            1,
            "row 3 (customer_id=99): 99",
        ),
        (
            _set("surveys", "timestamp", 1, pd.Timestamp("2025-07-01")),
            "surveys",
            "timestamp",
            "before 2025-07-01 (not in the future)",
            1,
            "row 1 (customer_id=3)",
        ),
        (
            _set("transactions", "timestamp", 2, pd.Timestamp("2024-01-15")),
            "transactions",
            "timestamp",
            "not before the customer's signup_date",
            1,
            "row 2 (customer_id=2)",
        ),
        (
            _set("transactions", "amount", 1, -25.5),
            "transactions",
            "amount",
            "greater_than_or_equal_to(0)",
            1,
            "row 1 (customer_id=1): -25.5",
        ),
        (
            _set("complaints", "resolved_at", 0, pd.Timestamp("2024-02-01")),
            "complaints",
            "resolved_at",
            "resolved_at not before opened_at",
            1,
            "row 0: customer_id=2",
        ),
        (
            _set("transactions", "amount", 0, "ten"),
            "transactions",
            "amount",
            "coerce_dtype('float64')",
            1,
            "row 0 (customer_id=1): 'ten'",
        ),
        (
            _drop_column("transactions", "timestamp"),
            "transactions",
            "timestamp",
            "mandatory column is missing",
            None,
            None,
        ),
        (
            _duplicate_row("transactions", 1),
            "transactions",
            "(all columns)",
            "no duplicated rows",
            1,
            "row 4: customer_id=1",
        ),
        (
            _set("customers", "contract_type", 0, "lifetime"),
            "customers",
            "contract_type",
            "isin(['none', 'month_to_month', 'annual'])",
            1,
            "'lifetime'",
        ),
        (
            _set("transactions", "discount", 0, 50.0),
            "transactions",
            "discount",
            "discount not above amount",
            1,
            "row 0",
        ),
        (
            _set("payments", "paid_date", 2, pd.Timestamp("2024-05-02")),
            "payments",
            "paid_date",
            "paid_date empty exactly when status is failed",
            1,
            "row 2",
        ),
        (
            _set("customers", "signup_date", 0, None),
            "customers",
            "signup_date",
            "no empty values",
            1,
            "row 0",
        ),
        (_set("complaints", "severity", 0, 7), "complaints", "severity", "isin([1, 2, 3])", 1, "7"),
    ],
)
def test_each_violation_names_table_column_check_rows_and_examples(
    mutate, table, column, check, n_rows, example
):
    tables = valid_tables()
    mutate(tables)
    found = [v for v in violations_of(tables) if (v.table, v.column) == (table, column)]
    assert [v.check for v in found] == [check]
    assert found[0].n_rows == n_rows
    if example:
        assert any(example in text for text in found[0].examples), found[0].examples


def test_message_lists_every_problem_with_counts():
    tables = valid_tables()
    _set("complaints", "severity", 0, 7)(tables)
    _set("complaints", "severity", 1, 9)(tables)
    _set("surveys", "score", 0, 11)(tables)
    with pytest.raises(ContractViolation) as caught:
        validate_tables(tables, data_config(), VALIDATION)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "complaints.severity: check 'isin([1, 2, 3])' failed for 2 row(s)" in message
    assert "row 0 (customer_id=2): 7; row 1 (customer_id=3): 9" in message
    assert (
        "surveys.score: check 'in_range(1, 10)' failed for 1 row(s); e.g. row 0 (customer_id=1): 11"
        in message
    )


def test_examples_are_capped_at_max_examples():
    tables = valid_tables()
    tables["transactions"]["amount"] = -1.0
    (violation,) = [v for v in violations_of(tables) if v.column == "amount"]
    assert violation.n_rows == 4 and len(violation.examples) == VALIDATION.max_examples


def test_missing_required_table_is_reported():
    tables = valid_tables()
    del tables["transactions"]
    assert Violation(
        "transactions", "(all columns)", "required table is missing", None
    ) in violations_of(tables)


def test_optional_tables_may_be_absent():
    tables = {
        name: frame
        for name, frame in valid_tables().items()
        if name in ("customers", "transactions")
    }
    assert set(validate_tables(tables, data_config(), VALIDATION)) == {"customers", "transactions"}


def test_optional_customer_columns_may_be_absent():
    tables = valid_tables()
    tables["customers"] = tables["customers"].drop(columns=["credit_score", "churn_date"])
    validated = validate_tables(tables, data_config(), VALIDATION)
    assert "churn_date" not in validated["customers"]


def test_declared_extra_columns_are_validated_and_kept_undeclared_dropped():
    tables = valid_tables()
    tables["customers"]["employees"] = ["12", "250", None]
    tables["customers"]["internal_note"] = "x"
    data = data_config(extra_customer_columns={"employees": "numeric"})
    validated = validate_tables(tables, data, VALIDATION)
    assert validated["customers"]["employees"].tolist()[:2] == [12.0, 250.0]
    assert "internal_note" not in validated["customers"]
    del tables["customers"]["employees"]
    assert [v.column for v in violations_of(tables, data)] == ["employees"]


def test_integer_and_string_ids_must_not_be_mixed():
    tables = valid_tables()
    tables["transactions"]["customer_id"] = tables["transactions"]["customer_id"].astype(str)
    (violation,) = violations_of(tables)
    assert (violation.table, violation.column, violation.n_rows) == (
        "transactions",
        "customer_id",
        None,
    )
    assert violation.check == (
        "the type of customers.customer_id (BIGINT); here VARCHAR: export the ids alike"
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_tables_read_from_files_validate_in_both_formats(tmp_path, fmt):
    write_raw(valid_tables(), tmp_path, fmt)
    data = data_config(dir=str(tmp_path), format=fmt)
    validated = validate_tables(read_input_tables(data), data, VALIDATION)
    expected = validate_tables(valid_tables(), data_config(), VALIDATION)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(validated[name], frame, check_dtype=False, obj=name)


def test_missing_file_and_unnamed_mandatory_table_are_clear(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"table 'customers': no file at .*customers\.parquet"
    ):
        read_input_tables(data_config(dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"required tables \['transactions'\]"):
        read_input_tables(data_config(tables=TABLE_STEMS | {"transactions": None}))
    with pytest.raises(ConfigError, match=r"unknown tables \['complaint'\]"):
        read_input_tables(data_config(tables=TABLE_STEMS | {"complaint": "complaints"}))


def test_contract_document_lists_every_table_and_column():
    """docs/data-contract.md and pipeline/contract.py describe the same tables."""
    text = (REPO / "docs" / "data-contract.md").read_text(encoding="utf-8")
    sections = dict(
        re.findall(r"^## (\w+) \((?:required|optional)\)\n(.*?)(?=^## )", text, re.M | re.S)
    )
    for name, contract in table_contracts(data_config()).items():
        rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (yes|no)", sections[name], re.M)
        assert [column for column, _ in rows] == list(contract.schema.columns), name
        required = {column: flag == "yes" for column, flag in rows}
        assert required == {c: col.required for c, col in contract.schema.columns.items()}, name


def test_reading_a_parquet_file_in_chunks_holds_a_chunk_at_a_time(tmp_path):
    """Arrow holds a few chunks while the chunks go by, not the file: pyarrow's
    pre-buffering read ahead and kept what it read (6 GiB over 417M transactions; here
    43.6 MB of the 32 MB of data, against 4.5 MB without it)."""
    path = tmp_path / "transactions.parquet"
    rows, chunks = 100_000, 40
    values = np.random.default_rng(0).random(chunks * rows)  # incompressible
    pq.write_table(pa.table({"amount": values}), path, row_group_size=rows)
    before = pa.total_allocated_bytes()
    held = [pa.total_allocated_bytes() - before for _ in read_table_chunks(path, rows)]
    assert len(held) == chunks
    data_bytes = chunks * rows * 8
    assert max(held) < data_bytes / 4, held
