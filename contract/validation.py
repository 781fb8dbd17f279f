"""Check input tables against the data contract, reporting every problem at once.

Each table goes through two passes of its pandera schema: types first (coercing CSV
text to the contract's dtypes), then content (allowed values, ranges, nullability,
row rules, duplicates). Checks that need two tables (unknown customers, events before
signup) and the reference-date check run once the types are right. Every problem becomes
one ``Violation`` naming the table, column, check, number of failing rows and a few rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
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
    """Return the tables typed and restricted to contract columns, or raise
    ContractViolation. In memory: each table is one chunk of ``ContractChecks``."""
    checks = ContractChecks(data, validation, list(tables))
    typed = {}
    with duckdb.connect() as con:
        for name in checks.order(tables):
            checked = checks.check(name, tables[name])
            if checked is not None:
                typed[name] = checked
            rows = None if checked is None else con.from_df(checked.rename_axis(ROW).reset_index())
            checks.finish(name, rows)
    checks.raise_if_any()
    return typed


# The row number column of the relation ``ContractChecks.finish`` reads.
ROW = "row"


class ContractChecks:
    """The contract's checks over tables read a chunk at a time, every violation kept.

    The customers table comes first, whole: the other tables' customer ids and dates are
    checked against it. Each table's chunks go through ``check`` in order (rows are
    numbered across chunks); ``finish`` runs the checks that need the whole table (no
    rows; exact duplicate rows, found by DuckDB over its typed rows); ``raise_if_any``
    raises ContractViolation with everything found, in the order of the tables given.
    """

    def __init__(self, data: DataConfig, validation: ValidationConfig, names: list[str]) -> None:
        self.contracts = table_contracts(data)
        unknown = sorted(set(names) - set(self.contracts))
        if unknown:
            raise ValueError(
                f"tables not in the contract: {unknown}; known: {sorted(self.contracts)}"
            )
        self.validation = validation
        self.names = names
        self.rows = dict.fromkeys(names, 0)
        self._required = required_tables(data)
        self._failed_types: set[str] = set()
        # The valid customers table's numbered rows, once finished: the reference.
        self._customers: duckdb.DuckDBPyRelation | None = None
        # Per table: its own checks, then the checks against customers and dates.
        self._found: dict[str, list[Violation]] = {name: [] for name in names}
        self._cross: dict[str, list[Violation]] = {name: [] for name in names}

    @staticmethod
    def order(names: Iterable[str]) -> list[str]:
        """The tables in the order to check them: customers first."""
        return sorted(names, key=lambda name: name != "customers")

    def check(self, name: str, frame: pd.DataFrame) -> pd.DataFrame | None:
        """The chunk typed and restricted to contract columns (None if its types fail);
        its violations kept."""
        offset = self.rows[name]
        frame = frame.set_axis(pd.RangeIndex(offset, offset + len(frame)))
        self.rows[name] += len(frame)
        contract = self.contracts[name]
        typed, found = _check_table(
            contract, _chunk_schema(contract.schema), frame, self.validation.max_examples
        )
        _merge(self._found[name], found, self.validation.max_examples)
        if typed is None:
            self._failed_types.add(name)
            return None
        _merge(self._cross[name], self._date_violations(name, typed), self.validation.max_examples)
        return typed

    def skip(self, name: str, rows: int, violations: list[Violation]) -> None:
        """A chunk of ``rows`` rows left unchecked for ``violations`` found before (in
        mapping it onto the contract)."""
        self.rows[name] += rows
        self._failed_types.add(name)
        _merge(self._found[name], violations, self.validation.max_examples)

    def finish(self, name: str, rows: duckdb.DuckDBPyRelation | None) -> None:
        """The checks over the whole table: ``rows`` are its typed rows with their number
        (column ``ROW``), None when there are none. Tables are finished in ``order``: the
        customers table, once it passed every check, is the reference of the others."""
        if self.rows[name] == 0 and name in {*self._required, "customers"}:
            self._found[name].insert(
                0, Violation(name, ALL_COLUMNS, "has no rows (a header alone is no data)", None)
            )
        if rows is None or name in self._failed_types:
            return
        k = self.validation.max_examples
        schema = self.contracts[name].schema
        if schema.unique:
            self._found[name] += _duplicate_rows(name, rows, k)
        for column in [column for column, spec in schema.columns.items() if spec.unique]:
            self._found[name] += _repeated_values(name, column, rows, k)
        if name == "customers" and not self._found[name] and self.rows[name] > 0:
            self._customers = rows
        elif self._customers is not None and self.contracts[name].has_customer_id:
            self._cross[name] += self._customer_violations(name, rows)

    def raise_if_any(self) -> None:
        violations = [
            Violation(name, ALL_COLUMNS, "required table is missing", None)
            for name in self._required
            if name not in self.names
        ]
        violations += [v for name in self.names for v in self._found[name]]
        violations += [v for name in self.names for v in self._cross[name]]
        if violations:
            raise ContractViolation(violations)

    def _customer_violations(self, name: str, rows: duckdb.DuckDBPyRelation) -> list[Violation]:
        """Unknown customers and events before their customer's signup_date (when the
        customers table has it): joins of the whole table to the customers table."""
        signup = ", signup_date" if "signup_date" in self._customers.columns else ""
        customers = self._customers.select(f"customer_id AS known_id{signup}")
        k = self.validation.max_examples
        here, known = rows.types[rows.columns.index("customer_id")], customers.types[0]
        # Ids of two types are compared as numbers if both are, else as text: the rows
        # whose id is nowhere in customers are named, as with ids of one type.
        common = "DOUBLE" if all(_numeric(t) for t in (here, known)) else "VARCHAR"
        same = (
            "customer_id = known_id"
            if here == known
            else f"CAST(customer_id AS {common}) = CAST(known_id AS {common})"
        )
        unknown = rows.join(customers, same, how="anti")
        check = "customer_id exists in customers"
        violations = _relation_violation(name, "customer_id", check, unknown, k)
        if here != known and not violations:
            check = f"the type of customers.customer_id ({known}); here {here}"
            check += ": export the ids alike"
            violations.append(Violation(name, "customer_id", check, None))
        time = self.contracts[name].event_time
        if time and signup:
            joined = rows.join(customers, same)
            before = joined.filter(f'"{time}" < signup_date')
            check = "not before the customer's signup_date"
            violations += _relation_violation(name, time, check, before, k)
        return violations

    def _date_violations(self, name: str, frame: pd.DataFrame) -> list[Violation]:
        """Timestamps in the future and placeholder dates (before the earliest date)."""
        contract = self.contracts[name]
        future = reference_timestamp(self.validation)
        earliest = config_date("validation.earliest_date", self.validation.earliest_date)
        k = self.validation.max_examples
        violations = []
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


def _numeric(duckdb_type: duckdb.typing.DuckDBPyType) -> bool:
    return str(duckdb_type).split("(")[0] in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL",
    }  # fmt: skip


def _chunk_schema(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema without its uniqueness checks: over chunks they would miss repeats
    across chunks, so ``finish`` runs them over the whole table."""
    chunk = schema.update_columns(
        {column: {"unique": False} for column, spec in schema.columns.items() if spec.unique}
    )
    chunk.unique = None
    return chunk


def _merge(found: list[Violation], more: list[Violation], max_examples: int) -> None:
    """Add a chunk's violations to a table's: the same check of the same column adds up
    its rows and keeps the first examples."""

    def key(violation: Violation) -> tuple[str, str, str]:
        return violation.table, violation.column, violation.check

    for violation in more:
        same = [i for i, known in enumerate(found) if key(known) == key(violation)]
        if not same or violation.n_rows is None or found[same[0]].n_rows is None:
            if not same:
                found.append(violation)
            continue
        known = found[same[0]]
        examples = (*known.examples, *violation.examples)[:max_examples]
        found[same[0]] = Violation(
            known.table, known.column, known.check, known.n_rows + violation.n_rows, examples
        )


def _duplicate_rows(name: str, rows: duckdb.DuckDBPyRelation, max_examples: int) -> list[Violation]:
    """Exact duplicates of an earlier row (a double load), over the whole table.

    Only rows sharing a hash of every column can repeat one another: finding those is an
    aggregation on one 64-bit key, which DuckDB spills to disk when it outgrows its
    memory (grouping by every column did not, at 420M rows in 512MB); they are then
    compared column by column.
    """
    columns = ", ".join(f'"{column}"' for column in rows.columns if column != ROW)
    repeats = rows.query(
        "t",
        f"WITH keyed AS (SELECT *, hash({columns}) AS key FROM t), "
        "suspects AS (SELECT * FROM keyed WHERE key IN "
        "(SELECT key FROM keyed GROUP BY key HAVING count(*) > 1)) "
        "SELECT * EXCLUDE (key, nth) FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY {columns} ORDER BY {ROW}) AS nth FROM suspects) WHERE nth > 1",
    )
    n_rows = repeats.aggregate("count(*)").fetchall()[0][0]
    if not n_rows:
        return []
    shown = repeats.order(ROW).limit(max_examples).to_df().set_index(ROW)
    examples = tuple(f"row {row}: {_row_text(shown, row)}" for row in shown.index)
    return [Violation(name, ALL_COLUMNS, "no duplicated rows", int(n_rows), examples)]


def _repeated_values(
    name: str, column: str, rows: duckdb.DuckDBPyRelation, max_examples: int
) -> list[Violation]:
    """Rows whose value of a unique column (the customer id) another row has too."""
    repeated = rows.query(
        "t",
        f'SELECT * FROM t WHERE "{column}" IN '
        f'(SELECT "{column}" FROM t GROUP BY "{column}" HAVING count(*) > 1)',
    )
    return _relation_violation(name, column, "unique values", repeated, max_examples)


def _relation_violation(
    table: str, column: str, check: str, failing: duckdb.DuckDBPyRelation, max_examples: int
) -> list[Violation]:
    """A Violation for the numbered rows of ``failing`` (column ``ROW``), or nothing."""
    n_rows = failing.aggregate("count(*)").fetchall()[0][0]
    if n_rows == 0:
        return []
    shown = failing.order(ROW).limit(max_examples).to_df().set_index(ROW)
    return [Violation(table, column, check, n_rows, _examples(shown, shown.index, column))]


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
    contract: TableContract, schema: pa.DataFrameSchema, frame: pd.DataFrame, max_examples: int
) -> tuple[pd.DataFrame | None, list[Violation]]:
    """Checks no coercion may hide (text booleans, fractional integers, time zones, blank
    ids), then the types pass, then the content pass. Returns the typed frame (None if
    the types failed)."""
    frame, strict = _booleans(contract, frame, max_examples)
    strict += _fractional_integers(contract, frame, max_examples)
    strict += _zoned_timestamps(contract, frame, max_examples)
    strict += _blank_ids(contract, frame, max_examples)
    try:
        typed = _types_schema(schema).validate(frame, lazy=True)
    except SchemaErrors as err:
        found = _schema_violations(contract, frame, err.failure_cases, max_examples)
        return None, strict + found
    if strict:
        return None, strict
    typed = typed[[name for name in schema.columns if name in typed.columns]]
    try:
        schema.validate(typed, lazy=True, inplace=True)
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
    return [Violation(table, column, check, n_rows, _examples(frame, rows, column))]


def _examples(frame: pd.DataFrame, rows: Iterable[object], column: str) -> tuple[str, ...]:
    """Rows of ``frame`` quoted by number, customer and value of ``column``."""
    return tuple(
        f"row {row}{_customer_text(frame, row)}: {_show(frame.at[row, column])}" for row in rows
    )
