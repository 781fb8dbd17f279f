"""The engine that runs the feature queries: a connection and the validated tables in it.

The features are Ibis expressions (features/); this module gives them a backend.
DuckDB, the default, reads the validated Parquet files in place, so a table is never
loaded whole into Python.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from contract.config import DataConfig
from features.config import FeaturesConfig
from features.history import CustomerHistory, prepare_history
from pipeline.config import Config, EngineConfig
from pipeline.io import validated_paths


def validated_history(cfg: Config) -> CustomerHistory:
    """The validated tables (``validate`` stage) in the configured engine."""
    con = connect(cfg.engine)
    tables = validated_tables(con, cfg.paths.validated_dir, cfg.data)
    return prepare_history(tables, cfg.features, cfg.data)


def connect(engine: EngineConfig) -> BaseBackend:
    """A connection to the configured engine."""
    settings = {}
    if engine.threads is not None:
        settings["threads"] = engine.threads
    if engine.memory_limit is not None:
        settings["memory_limit"] = engine.memory_limit
    return ibis.duckdb.connect(**settings)


def validated_tables(
    con: BaseBackend, validated_dir: str | Path, data: DataConfig
) -> dict[str, ir.Table]:
    """The tables the ``validate`` stage wrote, as tables of ``con`` (read in place)."""
    tables = {}
    for name, path in validated_paths(validated_dir, data).items():
        if not path.exists():
            raise FileNotFoundError(f"table {name!r}: no validated file at {path}; run validate")
        tables[name] = con.read_parquet(path, table_name=name)
    return tables


def frames_as_tables(con: BaseBackend, frames: dict[str, pd.DataFrame]) -> dict[str, ir.Table]:
    """In-memory frames as tables of ``con`` (replacing tables of the same names)."""
    return {
        name: con.create_table(
            name, pa.Table.from_pandas(frame, preserve_index=False), temp=True, overwrite=True
        )
        for name, frame in frames.items()
    }


def frames_history(
    frames: dict[str, pd.DataFrame],
    features: FeaturesConfig,
    data: DataConfig,
    con: BaseBackend | None = None,
) -> CustomerHistory:
    """The history of validated in-memory ``frames``, in ``con`` (default: a new in-memory
    DuckDB)."""
    con = ibis.duckdb.connect() if con is None else con
    return prepare_history(frames_as_tables(con, frames), features, data)
