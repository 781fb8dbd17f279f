"""Configuration of the input data (`data`), its validation (`validation`) and the
documented churn causes (`causes`): the vocabulary every layer shares.

Like every section's schema, the dataclasses carry no defaults: values come from `conf/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from contract.errors import ConfigError


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
    columns: dict[str, dict[str, str]] = MISSING
    codes: dict[str, dict[str, dict[str, Any]]] = MISSING
    date_format: str | None = MISSING
    loyalty_tiers: list[str] = MISSING
    extra_customer_columns: dict[str, str] = MISSING
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


@dataclass
class CauseConfig:
    label: str = MISSING
    label_zh: str = MISSING
    description: str = MISSING
