"""Check input tables against the data contract, reporting every problem at once.

Each table goes through two passes of its pandera schema: types first (coercing CSV
text to the contract's dtypes), then content (allowed values, ranges, nullability,
row rules, duplicates). Checks that need two tables (unknown customers, events before
signup) and the reference-date check run once the types are right. Every problem becomes
one ``Violation`` naming the table, column, check, number of failing rows and a few rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from contract.config import DataConfig, ValidationConfig, config_date
from contract.errors import UserError
from contract.tables import TableContract, required_tables, table_contracts

log = logging.getLogger(__name__)

ALL_COLUMNS = "(all columns)"
_PANDERA_CHECK_NAMES = {
    "multiple_fields_uniqueness": "no duplicated rows",
    "field_uniqueness": "unique values",
    "not_nullable": "no empty values",
}


@dataclass(frozen=True)
class Violation:
    """One failed check: where, what, how many rows, and a few examples."""

    table: str
    column: str
    check: str
    n_rows: int | None
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.n_rows is None:
            return f"{self.table}.{self.column}: {self.check}"
        text = f"{self.table}.{self.column}: check '{self.check}' failed for {self.n_rows:,} row(s)"
        return f"{text}; e.g. {'; '.join(self.examples)}" if self.examples else text


class ContractViolation(UserError):
    """Input tables break the data contract; ``violations`` lists every problem."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {violation}" for violation in violations)
        super().__init__(
            f"input data violates the contract ({len(violations)} problem(s)):\n{lines}"
        )


def validate_tables(
    tables: dict[str, pd.DataFrame], data: DataConfig, validation: ValidationConfig
) -> dict[str, pd.DataFrame]:
    """Return the tables typed and restricted to contract columns, or raise ContractViolation."""
    contracts = table_contracts(data)
    unknown = sorted(set(tables) - set(contracts))
    if unknown:
        raise ValueError(f"tables not in the contract: {unknown}; known: {sorted(contracts)}")
    violations = [
        Violation(name, ALL_COLUMNS, "required table is missing", None)
        for name in required_tables(data)
        if name not in tables
    ]
    # A customers table, when given, is the list of customers the events must refer to.
    empty = [
        name
        for name in dict.fromkeys([*required_tables(data), "customers"])
        if name in tables and tables[name].empty
    ]
    violations += [
        Violation(name, ALL_COLUMNS, "has no rows (a header alone is no data)", None)
        for name in empty
    ]
    typed: dict[str, pd.DataFrame] = {}
    customers_valid = "customers" not in empty
    for name, frame in tables.items():
        checked, found = _check_table(contracts[name], frame, validation.max_examples)
        violations += found
        customers_valid &= name != "customers" or not found
        if checked is not None:
            typed[name] = checked
    if customers_valid:
        violations += _cross_table_violations(typed, contracts, validation)
    if violations:
        raise ContractViolation(violations)
    return typed


def reference_timestamp(validation: ValidationConfig) -> pd.Timestamp:
    """Start of the day after the reference date: anything at or after it is in the future."""
    if validation.reference_date is None:
        day = pd.Timestamp.now().normalize()
    else:
        day = config_date("validation.reference_date", validation.reference_date).normalize()
    return day + pd.Timedelta(days=1)


def _types_schema(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema's column presence and dtypes only, coercing values to the dtypes."""
    columns = {
        name: pa.Column(column.dtype, nullable=True, required=column.required, coerce=True)
        for name, column in schema.columns.items()
    }
    return pa.DataFrameSchema(columns)


def _check_table(
    contract: TableContract, frame: pd.DataFrame, max_examples: int
) -> tuple[pd.DataFrame | None, list[Violation]]:
    """Checks no coercion may hide (text booleans, fractional integers, time zones, blank
    ids), then the types pass, then the content pass. Returns the typed frame (None if
    the types failed)."""
    frame, strict = _booleans(contract, frame, max_examples)
    strict += _fractional_integers(contract, frame, max_examples)
    strict += _zoned_timestamps(contract, frame, max_examples)
    strict += _blank_ids(contract, frame, max_examples)
    try:
        typed = _types_schema(contract.schema).validate(frame, lazy=True)
    except SchemaErrors as err:
        found = _schema_violations(contract, frame, err.failure_cases, max_examples)
        return None, strict + found
    if strict:
        return None, strict
    typed = typed[[name for name in contract.schema.columns if name in typed.columns]]
    try:
        contract.schema.validate(typed, lazy=True, inplace=True)
    except SchemaErrors as err:
        return typed, _schema_violations(contract, typed, err.failure_cases, max_examples)
    return typed, []


# Text and numbers a boolean column may hold; anything else ("yes", "Y", 2) must be mapped
# in data.codes rather than read as true because it is not empty.
_BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def _booleans(
    contract: TableContract, frame: pd.DataFrame, max_examples: int
) -> tuple[pd.DataFrame, list[Violation]]:
    """Boolean columns parsed strictly: true/false (any case) or 1/0, else a violation."""
    violations, parsed = [], {}
    for column in contract.boolean_columns:
        if column not in frame or frame[column].dtype == bool:
            continue
        values = frame[column]
        present = values.notna()
        text = values[present].astype(str).str.strip().str.lower()
        bad = present.copy()
        bad[present] = ~text.isin(list(_BOOLEAN_TEXT))
        if bad.any() or not present.all():
            check = "true/false or 1/0 (map other codes in data.codes)"
            violations += _mask_violation(contract.name, column, check, frame, bad, max_examples)
            empty = "no empty values"
            violations += _mask_violation(
                contract.name, column, empty, frame, ~present, max_examples
            )
            continue
        column_values = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        column_values[present] = text.map(_BOOLEAN_TEXT).astype(bool)
        parsed[column] = column_values if not present.all() else column_values.astype(bool)
    return frame.assign(**parsed) if parsed else frame, violations


def _fractional_integers(
    contract: TableContract, frame: pd.DataFrame, max_examples: int
) -> list[Violation]:
    """Integer columns hold whole numbers: 2.7 would become 2 on coercion."""
    violations = []
    for column in contract.integer_columns:
        if column not in frame or pd.api.types.is_integer_dtype(frame[column]):
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        fractional = (numbers.notna() & (numbers != numbers.round())).fillna(False)
        check = "whole numbers (a fraction would be cut off)"
        violations += _mask_violation(contract.name, column, check, frame, fractional, max_examples)
    return violations


# An ISO 8601 UTC offset or zone designator at the end of a timestamp.
_ZONED = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"


def _zoned_timestamps(
    contract: TableContract, frame: pd.DataFrame, max_examples: int
) -> list[Violation]:
    """Timestamps are naive local times: a time zone or UTC offset would shift those rows
    (only those) on parsing, so it is an error that says to export local times."""
    violations = []
    check = "no time zone or UTC offset; export naive local times, one zone for all"
    for column in contract.timestamp_columns:
        if column not in frame:
            continue
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            zoned = values.notna()
        elif pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            text = values.where(values.map(lambda v: isinstance(v, str)), "")
            zoned = text.astype(str).str.contains(_ZONED, regex=True)
        else:
            continue
        violations += _mask_violation(contract.name, column, check, frame, zoned, max_examples)
    return violations


def _blank_ids(contract: TableContract, frame: pd.DataFrame, max_examples: int) -> list[Violation]:
    """A customer id of blanks is no id (an empty cell is caught as empty already)."""
    if "customer_id" not in frame or not (
        pd.api.types.is_object_dtype(frame["customer_id"])
        or pd.api.types.is_string_dtype(frame["customer_id"])
    ):
        return []
    ids = frame["customer_id"]
    blank = ids.map(lambda v: isinstance(v, str) and not v.strip())
    check = "not blank"
    return _mask_violation(contract.name, "customer_id", check, frame, blank, max_examples)


def _schema_violations(
    contract: TableContract, frame: pd.DataFrame, failures: pd.DataFrame, max_examples: int
) -> list[Violation]:
    """Turn pandera's failure-case table into one Violation per (column, check)."""
    violations = []
    missing = failures["check"] == "column_in_dataframe"
    for column in failures.loc[missing, "failure_case"]:
        violations.append(
            Violation(contract.name, str(column), "mandatory column is missing", None)
        )
    # A value that cannot be coerced also fails the dtype check: report it once.
    coerce_failed = failures.loc[failures["check"].str.startswith("coerce_dtype"), "column"]
    redundant = failures["check"].str.startswith("dtype(") & failures["column"].isin(coerce_failed)
    failures = failures[~missing & ~redundant]
    row_level = failures["schema_context"] == "DataFrameSchema"
    for check, group in failures[row_level].groupby("check", sort=False):
        column = _row_check_column(contract.schema, str(check))
        violations.append(
            _rows_violation(contract.name, column, str(check), group, frame, max_examples, True)
        )
    for (column, check), group in failures[~row_level].groupby(["column", "check"], sort=False):
        violations.append(
            _rows_violation(
                contract.name, str(column), str(check), group, frame, max_examples, False
            )
        )
    return violations


def _row_check_column(schema: pa.DataFrameSchema, check_name: str) -> str:
    """The column a row-level check is about: its title, set in the contract."""
    for check in schema.checks:
        if check.name == check_name and check.title:
            return check.title
    return ALL_COLUMNS


def _rows_violation(
    table: str,
    column: str,
    check: str,
    group: pd.DataFrame,
    frame: pd.DataFrame,
    max_examples: int,
    whole_row: bool,
) -> Violation:
    """One Violation from the failure cases of one check; rows quoted whole if asked."""
    rows = pd.Index(group["index"].dropna().unique())
    values = group.drop_duplicates("index").set_index("index")["failure_case"]
    if rows.empty and check.startswith("coerce_dtype('datetime") and column in frame:
        # The whole column failed at once (a date outside 1677-2262): find the rows.
        dates = "a date-time between 1677 and 2262 (ISO 8601 or data.date_format)"
        found = _mask_violation(
            table, column, dates, frame, _unparsed_dates(frame[column]), max_examples
        )
        if found:
            return found[0]
    if whole_row:
        examples = [f"row {row}: {_row_text(frame, row)}" for row in rows[:max_examples]]
    else:
        examples = [
            f"row {row}{_customer_text(frame, row)}: {_show(values.get(row))}"
            for row in rows[:max_examples]
        ]
    name = _PANDERA_CHECK_NAMES.get(check, check)
    return Violation(table, column, name, len(rows), tuple(examples))


def _unparsed_dates(values: pd.Series) -> pd.Series:
    """Values that are given but do not parse, one by one, as a nanosecond date-time."""

    def fails(value: object) -> bool:
        try:
            pd.Timestamp(value).as_unit("ns")
        except (ValueError, TypeError, OverflowError):
            return True
        return False

    return values.notna() & values.map(fails).astype(bool)


def _show(value: object) -> str:
    """A value as a person reads it: strings quoted, numbers and dates plain."""
    value = value.item() if isinstance(value, np.generic) else value
    return repr(value) if isinstance(value, str) else str(value)


def _row_text(frame: pd.DataFrame, row: object) -> str:
    return ", ".join(f"{key}={_show(value)}" for key, value in frame.loc[row].items())


def _customer_text(frame: pd.DataFrame, row: object) -> str:
    if "customer_id" not in frame:
        return ""
    return f" (customer_id={_show(frame.at[row, 'customer_id'])})"


def _mask_violation(
    table: str, column: str, check: str, frame: pd.DataFrame, failing: pd.Series, max_examples: int
) -> list[Violation]:
    """A Violation for the rows where ``failing`` is true, or nothing."""
    n_rows = int(failing.sum())
    if n_rows == 0:
        return []
    rows = frame.index[failing.to_numpy()][:max_examples]
    examples = tuple(
        f"row {row}{_customer_text(frame, row)}: {_show(frame.at[row, column])}" for row in rows
    )
    return [Violation(table, column, check, n_rows, examples)]


def _cross_table_violations(
    tables: dict[str, pd.DataFrame],
    contracts: dict[str, TableContract],
    validation: ValidationConfig,
) -> list[Violation]:
    """Unknown customers and events before signup (when customers and its signup_date are
    given), timestamps in the future and placeholder dates (before the earliest date)."""
    customers = tables.get("customers")
    signup = None if customers is None else customers.set_index("customer_id").get("signup_date")
    future = reference_timestamp(validation)
    earliest = config_date("validation.earliest_date", validation.earliest_date)
    k = validation.max_examples
    violations = []
    for name, frame in tables.items():
        contract = contracts[name]
        if customers is not None and contract.has_customer_id and name != "customers":
            unknown = ~frame["customer_id"].isin(customers["customer_id"])
            violations += _mask_violation(
                name, "customer_id", "customer_id exists in customers", frame, unknown, k
            )
            if contract.event_time and signup is not None:
                before = frame[contract.event_time] < frame["customer_id"].map(signup)
                check = "not before the customer's signup_date"
                violations += _mask_violation(name, contract.event_time, check, frame, before, k)
        for column in contract.observed_time_columns:
            if column in frame:
                check = f"before {future:%Y-%m-%d} (not in the future)"
                violations += _mask_violation(
                    name, column, check, frame, frame[column] >= future, k
                )
        for column in contract.timestamp_columns:
            if column in frame:
                check = (
                    f"not before {earliest:%Y-%m-%d} (validation.earliest_date: earlier dates "
                    "are taken for placeholders; set it earlier if they are real)"
                )
                violations += _mask_violation(
                    name, column, check, frame, frame[column] < earliest, k
                )
    return violations
