"""Map a user's tables onto the contract: column names and value codes from ``data``.

Runs before validation, so an export needs no pre-processing: ``data.columns`` renames
the user's columns to contract names, ``data.codes`` recodes the listed columns. Nothing
is guessed: a renamed column that is not in the table, two contract columns taken from one
user column, and a value of a recoded column that the map does not list are all reported
(every problem at once, as contract violations naming table, column and values).
"""

from __future__ import annotations

import pandas as pd

from contract.config import DataConfig
from contract.errors import ConfigError
from contract.validation import ContractViolation, Violation


def map_to_contract(tables: dict[str, pd.DataFrame], data: DataConfig) -> dict[str, pd.DataFrame]:
    """The tables with contract column names and contract value codes."""
    check_mapping_config(data)
    violations: list[Violation] = []
    mapped = {}
    for name, frame in tables.items():
        table, found = map_table(name, frame, data)
        violations += found
        if table is not None:
            mapped[name] = table
    if violations:
        raise ContractViolation(violations)
    return mapped


def map_table(
    name: str, frame: pd.DataFrame, data: DataConfig
) -> tuple[pd.DataFrame | None, list[Violation]]:
    """One table (or a chunk of it) with contract names and codes, and what does not map
    (the table is None when its columns do not)."""
    renamed, violations = _renamed(name, frame, data.columns.get(name, {}))
    if renamed is None:
        return None, violations
    return _recoded(name, renamed, data.codes.get(name, {}))


def check_mapping_config(data: DataConfig) -> None:
    """ConfigError for a mapping of unknown tables or an unquoted YAML code."""
    for section in (data.columns, data.codes):
        unknown = sorted(set(section) - set(data.tables))
        if unknown:
            raise ConfigError(f"data.columns / data.codes: {unknown} are not tables")
    for table, columns in data.codes.items():
        for column, codes in columns.items():
            unquoted = [key for key in codes if isinstance(key, bool)]
            if unquoted:
                raise ConfigError(
                    f"data.codes.{table}.{column}: YAML read a code as {unquoted[0]}; quote "
                    'the codes ("yes", "no", "on", "off") so they stay text'
                )


def _renamed(
    table: str, frame: pd.DataFrame, columns: dict[str, str]
) -> tuple[pd.DataFrame | None, list[Violation]]:
    """Rename user columns to contract names; None when the mapping does not fit."""
    violations = []
    missing = [(ours, theirs) for ours, theirs in columns.items() if theirs not in frame]
    for ours, theirs in missing:
        check = f"column {theirs!r} (data.columns.{table}.{ours}) is not in the table"
        violations.append(Violation(table, ours, check, None))
    sources = pd.Series(list(columns.values()), index=list(columns))
    for theirs, group in sources.groupby(sources.to_numpy()):
        if len(group) > 1:
            check = f"ambiguous: {sorted(group.index)} all map to column {theirs!r}"
            violations.append(Violation(table, str(theirs), check, None))
    clashes = sorted(set(columns) & set(frame.columns) - set(columns.values()))
    for ours in clashes:
        check = f"ambiguous: the table has {ours!r} and data.columns maps {columns[ours]!r} onto it"
        violations.append(Violation(table, ours, check, None))
    if violations:
        return None, violations
    return frame.rename(columns={theirs: ours for ours, theirs in columns.items()}), []


def _recoded(
    table: str, frame: pd.DataFrame, values: dict[str, dict[object, object]]
) -> tuple[pd.DataFrame, list[Violation]]:
    """Recode the listed columns; every non-empty value must be a key of its map."""
    violations = []
    recoded = frame.copy(deep=False)
    for column, codes in values.items():
        if column not in frame:
            check = "data.codes lists the column, but the table does not have it"
            violations.append(Violation(table, column, check, None))
            continue
        by_text = {str(key): value for key, value in codes.items()}
        present = frame[column].notna()
        as_text = frame.loc[present, column].astype(str)
        unmapped = as_text[~as_text.isin(list(by_text))]
        if len(unmapped):
            counts = unmapped.value_counts()
            examples = tuple(f"{value!r} ({n:,} rows)" for value, n in counts.head(5).items())
            check = f"value not in data.codes.{table}.{column}; add it to the map"
            violations.append(Violation(table, column, check, len(unmapped), examples))
            continue
        mapped = pd.Series(pd.NA, index=frame.index, dtype=object)
        mapped[present] = as_text.map(by_text)
        recoded[column] = mapped
    return recoded, violations
