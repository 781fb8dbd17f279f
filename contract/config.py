"""Configuration of the input data (`data`), its validation (`validation`) and the
documented churn causes (`causes`): the vocabulary every layer shares.

Like every section's schema, the dataclasses carry no defaults: values come from `conf/`.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from contract.errors import ConfigError


@dataclass
class DataConfig:
    dir: str = MISSING
    format: str = MISSING
    tables: dict[str, str | None] = MISSING
    loyalty_tiers: list[str] = MISSING
    extra_customer_columns: dict[str, str] = MISSING

    def __post_init__(self) -> None:
        if self.format not in ("parquet", "csv"):
            raise ConfigError(f"data.format must be 'parquet' or 'csv', got {self.format!r}")
        kinds = set(self.extra_customer_columns.values()) - {"numeric", "categorical"}
        if kinds:
            raise ConfigError(
                f"data.extra_customer_columns: kinds must be numeric or categorical, got {kinds}"
            )


@dataclass
class ValidationConfig:
    max_examples: int = MISSING
    reference_date: str | None = MISSING


@dataclass
class CauseConfig:
    label: str = MISSING
    label_zh: str = MISSING
    description: str = MISSING
