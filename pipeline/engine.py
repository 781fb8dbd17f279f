"""The engine that runs the feature queries: a connection and the contract's tables in it.

The features are Ibis expressions (features/); this module gives them a backend
(a connection of pipeline/connections.py):

- ``duckdb`` (the default), embedded: reads the validated Parquet files in place, so no
  table is ever loaded whole into Python;
- ``postgres``: the tables stay in the database, named or queried in ``engine.tables``;
  the features are computed there and only the feature rows come back;
- ``spark``: a Spark session reads the validated Parquet files; the same queries run as
  Spark jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from contract.config import DataConfig
from features.config import FeaturesConfig
from features.history import CustomerHistory, prepare_history
from pipeline.config import Config
from pipeline.connections import connect, database_tables
from pipeline.io import validated_paths


@contextmanager
def validated_history(cfg: Config) -> Iterator[CustomerHistory]:
    """The contract's tables in the configured engine: the validated files (``validate``
    stage), or for ``postgres`` the database tables ``engine.tables`` names. The
    connection closes when the block ends."""
    con = connect(cfg.engine)
    try:
        if cfg.engine.name == "postgres":
            tables = database_tables(con, cfg.engine, cfg.data)
        else:
            tables = validated_tables(con, cfg.paths.validated_dir, cfg.data)
        yield prepare_history(tables, cfg.features, cfg.data)
    finally:
        con.disconnect()


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
            name, pa.Table.from_pandas(frame, preserve_index=False), overwrite=True
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
