"""Configuration of the input data (`data`), its validation (`validation`) and the
documented churn causes (`causes`): the vocabulary every layer shares.

Like every section's schema, the dataclasses carry no defaults: values come from `conf/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from omegaconf import MISSING

from contract.errors import ConfigError


def config_date(key: str, value: str) -> pd.Timestamp:
    """The date (YYYY-MM-DD) configured at ``key``; a ConfigError naming the key if it is
    not one."""
    try:
        return pd.Timestamp(value)
    except ValueError as err:
        raise ConfigError(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from err


@dataclass
class CutoffsConfig:
    """The dates at which features and labels are computed (``data.cutoffs``)."""

    start: str | None = MISSING
    end: str | None = MISSING
    freq: str = MISSING

    def dates(
        self, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.DatetimeIndex:
        """The cutoff dates every ``freq`` from ``start`` to ``end``; an unset (null) bound
        is the one given here, derived from the data by the caller."""
        first = self.start if self.start is not None else start
        last = self.end if self.end is not None else end
        if first is None or last is None:
            raise ConfigError(
                "data.cutoffs: start and end must be dates here (null derives them from the "
                "data, which only the featurize stage reads)"
            )
        return pd.date_range(first, last, freq=self.freq).as_unit("ns")


@dataclass
class SnapshotConfig:
    """Snapshot mode: the customers table is a snapshot at ``date`` whose ``label`` column
    says who churned in the label horizon after it."""

    date: str = MISSING
    label: str = MISSING


@dataclass
class DataConfig:
    name: str = MISSING
    simulated: bool = MISSING
    dir: str = MISSING
    format: str = MISSING
    tables: dict[str, str | None] = MISSING
    transactions_are_lines: bool = MISSING
    columns: dict[str, dict[str, str]] = MISSING
    codes: dict[str, dict[str, dict[str, Any]]] = MISSING
    date_format: str | None = MISSING
    cutoffs: CutoffsConfig = MISSING
    loyalty_tiers: list[str] = MISSING
    extra_customer_columns: dict[str, str] = MISSING
    attribute_causes: dict[str, str] = MISSING
    reason_causes: dict[str, str] = MISSING
    margin_per_purchase: float | None = MISSING
    value_attribute: str | None = MISSING
    snapshot: SnapshotConfig | None = MISSING

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name):
            raise ConfigError(
                f"data.name: {self.name!r} must be letters, digits, '_', '-' or '.' "
                "(it names the MLflow experiments and the registered model)"
            )
        if self.format not in ("parquet", "csv"):
            raise ConfigError(f"data.format must be 'parquet' or 'csv', got {self.format!r}")
        kinds = set(self.extra_customer_columns.values()) - {"numeric", "categorical"}
        if kinds:
            raise ConfigError(
                f"data.extra_customer_columns: kinds must be numeric or categorical, got {kinds}"
            )
        undeclared = sorted(set(self.attribute_causes) - set(self.extra_customer_columns))
        if undeclared:
            raise ConfigError(
                f"data.attribute_causes: {undeclared} are not in data.extra_customer_columns"
            )
        if self.snapshot is not None and self.tables.get("customers") is None:
            raise ConfigError("data.snapshot: snapshot mode needs the customers table")
        if self.snapshot is not None and self.snapshot.label in self.extra_customer_columns:
            raise ConfigError(
                f"data.extra_customer_columns: {self.snapshot.label!r} is the snapshot label "
                "(data.snapshot.label); as a feature it would leak the answer"
            )

    @property
    def present_tables(self) -> list[str]:
        """The tables ``tables`` names a file for."""
        return [name for name, stem in self.tables.items() if stem is not None]


@dataclass
class ValidationConfig:
    max_examples: int = MISSING
    reference_date: str | None = MISSING
    earliest_date: str = MISSING
    chunk_rows: int = MISSING
    memory_limit: str = MISSING


@dataclass
class CauseConfig:
    label: str = MISSING
    label_zh: str = MISSING
    description: str = MISSING
