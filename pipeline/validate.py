"""Stage `validate`: check the input tables against the data contract.

Inputs: the tables named in `data.tables`, under `data.dir`, mapped onto the contract by
`data.columns` and `data.values`; with `engine=postgres`, the database tables (or queries)
`engine.tables` names, in the contract's names, read a chunk at a time. Outputs:
`paths.validated_dir` (every present table, typed and restricted to contract columns, as
Parquet, plus the customers table derived from the events when the data has none) and
`paths.validation_report` (rows and columns per table, absent tables, what was derived).
On any contract violation it lists them all, exits non-zero and writes nothing; so it
does for a stated churn reason that is neither a documented cause (`causes`) nor mapped
to one in `data.reason_causes`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.config import DataConfig
from contract.customers import customers_with_signup, first_events
from contract.mapping import check_mapping_config, map_table
from contract.purchases import purchases_from_lines
from contract.reasons import reason_causes
from contract.validation import ROW, ContractChecks
from pipeline.config import Config
from pipeline.connections import database_chunks
from pipeline.io import (
    TableWriter,
    atomic_path,
    input_paths,
    read_table,
    read_table_chunks,
    write_json,
)
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    data = cfg.data
    check_mapping_config(data)
    absent = sorted(name for name, stem in data.tables.items() if stem is None)
    if absent:
        log.warning("tables absent: %s; features built from them will be missing", absent)
    with (
        _input_chunks(cfg) as sources,
        atomic_path(Path(cfg.paths.validated_dir)) as out,
        tempfile.TemporaryDirectory(prefix="churn-validate-") as spill,
        duckdb.connect(
            config={"memory_limit": cfg.validation.memory_limit, "temp_directory": spill}
        ) as con,
    ):
        out.mkdir()
        checks = ContractChecks(data, cfg.validation, list(sources))
        for name in checks.order(sources):
            target = out / f"{name}.parquet"
            with TableWriter(target, validated_schema) as writer:
                for chunk in sources[name]():
                    typed = _checked(checks, name, chunk, data)
                    if typed is not None:
                        writer.write(typed)
            checks.finish(name, _numbered_rows(con, target) if target.exists() else None)
        checks.raise_if_any()
        if "churn_reasons" in sources:
            reasons = pd.read_parquet(out / "churn_reasons.parquet", columns=["reason"])
            reason_causes(reasons, dict(data.reason_causes), list(cfg.causes))
        derived = _derive(con, out, data)
        tables = {
            path.stem: {"rows": file.metadata.num_rows, "columns": file.schema_arrow.names}
            for path in sorted(out.glob("*.parquet"))
            for file in [pq.ParquetFile(path)]
        }
    for note in derived:
        log.info("%s", note)
    report = {"tables": tables, "absent_tables": absent, "derived": derived}
    write_json(report, Path(cfg.paths.validation_report))
    log.info("validated %s", {name: table["rows"] for name, table in tables.items()})


def _input_chunks(cfg: Config) -> AbstractContextManager[dict[str, Callable]]:
    """Each input table's chunks (a function giving them, ``validation.chunk_rows`` rows
    each): the files ``data.tables`` names, or with ``engine=postgres`` the database tables
    ``engine.tables`` names."""
    if cfg.engine.name == "postgres":
        return database_chunks(cfg)
    rows = cfg.validation.chunk_rows
    paths = input_paths(cfg.data)
    return nullcontext(
        {name: partial(read_table_chunks, path, rows) for name, path in paths.items()}
    )


def _checked(
    checks: ContractChecks, name: str, chunk: pd.DataFrame, data: DataConfig
) -> pd.DataFrame | None:
    """A chunk mapped onto the contract and typed; None where it cannot be."""
    mapped, found = map_table(name, chunk, data)
    if found:
        checks.skip(name, len(chunk), found)
        return None
    return checks.check(name, mapped)


def _numbered_rows(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    """A written table's rows with their number (``ROW``), for the whole-table checks."""
    source = str(path).replace("'", "''")
    return con.sql(
        f"SELECT file_row_number AS {ROW}, * EXCLUDE (file_row_number) "
        f"FROM read_parquet('{source}', file_row_number = true)"
    )


def _derive(con: duckdb.DuckDBPyConnection, out: Path, data: DataConfig) -> list[str]:
    """What the data leaves to derive, in ``out``: purchases from invoice lines
    (data.transactions_are_lines; the transactions are read whole) and the customers
    table or its signup dates from the events (in DuckDB). Notes saying what was derived."""
    notes = []
    transactions = out / "transactions.parquet"
    if data.transactions_are_lines and transactions.exists():
        purchases, note = purchases_from_lines(read_table(transactions))
        with TableWriter(transactions, validated_schema) as writer:
            writer.write(purchases)
        notes.append(note)
    customers = out / "customers.parquet"
    given = customers.exists() and "signup_date" in pq.read_schema(customers).names
    if given:
        return notes
    events = {
        path.stem: _numbered_rows(con, path)
        for path in out.glob("*.parquet")
        if path.stem != "customers"
    }
    numbered = _numbered_rows(con, customers) if customers.exists() else None
    derived, more = customers_with_signup(numbered, first_events(events, data))
    written = out / f".{customers.name}"
    derived.write_parquet(str(written))
    written.replace(customers)
    return notes + more


def validated_schema(table: pa.Table) -> pa.Schema:
    """The schema a validated table is written with: times in microseconds (what every
    engine reads; Spark refuses nanoseconds), and text for a column of empty values."""

    def written(field: pa.Field) -> pa.Field:
        if pa.types.is_timestamp(field.type):
            return field.with_type(pa.timestamp("us"))
        if pa.types.is_null(field.type):
            return field.with_type(pa.string())
        return field

    return pa.schema([written(field) for field in table.schema])


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
