"""Time and peak memory of the `featurize` stage, with DuckDB as a reference point.

For each size, simulated data is generated and validated, then the real `featurize`
entry point runs in a fresh process twice: at one cutoff (a scoring run) and at twelve
monthly cutoffs (a training set). As a reference for a columnar engine, the RFM family
at one cutoff is computed both by this package (pandas/NumPy) and by an equivalent
DuckDB query; the two must agree. Results go to benchmarks/results/featurize.md.

    python benchmarks/bench_featurize.py                # 100k and 1M customers
    python benchmarks/bench_featurize.py --sizes 20000  # a quick check
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd
from bench_generate import run_sizes, run_stage

from features import rfm
from features.history import prepare_history
from pipeline.config import load_config
from pipeline.params import compose_params, write_params

RESULTS = Path(__file__).parent / "results" / "featurize.md"
LAST_CUTOFF = "2026-06-01"
TWELVE_FROM = "2025-07-01"


def write_config(workdir: Path, n_customers: int, first_cutoff: str, name: str) -> Path:
    overrides = [
        f"simulator.n_customers={n_customers}",
        f"paths.simulated_dir={workdir}/simulated",
        f"paths.ground_truth_dir={workdir}/ground_truth",
        f"paths.validated_dir={workdir}/validated",
        f"paths.features_dir={workdir}/features-{name}",
        f"paths.reports_dir={workdir}/reports",
        "paths.allow_outside_repository=true",  # a temporary folder, on purpose
        f"data.cutoffs.start={first_cutoff}",
        f"data.cutoffs.end={LAST_CUTOFF}",
    ]
    params = workdir / f"params-{name}.yaml"
    write_params(params, compose_params(overrides=overrides))
    return params


def rfm_pandas(params: Path) -> tuple[pd.DataFrame, float]:
    """The package's RFM family at the last cutoff, timed from reading the file."""
    cfg = load_config(params)
    started = time.perf_counter()
    customers = pd.read_parquet(Path(cfg.paths.validated_dir) / "customers.parquet")
    transactions = pd.read_parquet(Path(cfg.paths.validated_dir) / "transactions.parquet")
    history = prepare_history(
        {"customers": customers, "transactions": transactions}, cfg.features, cfg.data
    )
    frame = rfm.compute(history, pd.Timestamp(LAST_CUTOFF))
    seconds = time.perf_counter() - started
    return frame.set_index(customers["customer_id"]), seconds


def rfm_duckdb(params: Path) -> tuple[pd.DataFrame, float]:
    """The same RFM features as one DuckDB query over the validated Parquet file."""
    cfg = load_config(params)
    path = Path(cfg.paths.validated_dir) / "transactions.parquet"
    long = cfg.features.long_window_days
    cutoff = f"TIMESTAMP '{LAST_CUTOFF}'"

    def window(days: int, shift: int = 0) -> str:
        end = f"{cutoff} - INTERVAL {shift} DAY"
        return f"ts >= {end} - INTERVAL {days} DAY AND ts < {end}"

    def purchases(where: str) -> str:
        return f"count(*) FILTER (WHERE {where})"

    def spend(where: str) -> str:
        return f"coalesce(sum(spend) FILTER (WHERE {where}), 0)"

    def trend(aggregate, days: int) -> str:
        recent, previous = aggregate(window(days)), aggregate(window(days, days))
        return f"({recent} - {previous}) / NULLIF({recent} + {previous}, 0)"

    in_gap = f"{window(long)} AND prev_ts >= {cutoff} - INTERVAL {long} DAY"

    def gaps(aggregate: str) -> str:
        return f"{aggregate}(epoch(ts - prev_ts) / 86400.0) FILTER (WHERE {in_gap})"

    columns = [f"epoch({cutoff} - max(ts)) / 86400.0 AS recency_days"]
    for w in cfg.features.windows_days:
        columns.append(f"{purchases(window(w))} AS purchases_{w}d")
        columns.append(f"{spend(window(w))} AS spend_{w}d")
    columns.append(
        f"{spend(window(long))} / NULLIF({purchases(window(long))}, 0) AS avg_basket_{long}d"
    )
    for w in cfg.features.trend_windows_days:
        columns.append(f"{trend(purchases, w)} AS trend_purchases_{w}d")
        columns.append(f"{trend(spend, w)} AS trend_spend_{w}d")
    columns.append(f"{gaps('avg')} AS interpurchase_days_mean_{long}d")
    columns.append(
        f"CASE WHEN {gaps('count')} >= 2 THEN {gaps('stddev_pop')} / NULLIF({gaps('avg')}, 0)"
        f" END AS interpurchase_days_cv_{long}d"
    )
    query = f"""
        WITH tx AS (
            SELECT customer_id, timestamp AS ts,
                   CASE WHEN is_return THEN 0 ELSE amount END AS spend,
                   lag(timestamp) OVER (PARTITION BY customer_id ORDER BY timestamp) AS prev_ts
            FROM read_parquet('{path}') WHERE timestamp < {cutoff})
        SELECT customer_id, {", ".join(columns)} FROM tx GROUP BY customer_id
    """
    started = time.perf_counter()
    frame = duckdb.sql(query).df()
    seconds = time.perf_counter() - started
    return frame.set_index("customer_id"), seconds


def largest_difference(ours: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Largest absolute difference over the customers and columns both computed."""
    ours = ours.loc[reference.index, reference.columns].astype(float)
    diff = (ours - reference.astype(float)).abs()
    both_missing = ours.isna() & reference.isna()
    if (ours.isna() != reference.isna()).any().any():
        return float("inf")
    return float(diff.where(~both_missing, 0.0).to_numpy().max())


def bench(n_customers: int, workdir: Path) -> dict:
    one = write_config(workdir, n_customers, LAST_CUTOFF, "one")
    twelve = write_config(workdir, n_customers, TWELVE_FROM, "twelve")
    run_stage("pipeline.generate", one)
    run_stage("pipeline.validate", one)
    one_s, one_gib = run_stage("pipeline.featurize", one)
    twelve_s, twelve_gib = run_stage("pipeline.featurize", twelve)
    ours, ours_s = rfm_pandas(one)
    reference, duckdb_s = rfm_duckdb(one)
    transactions = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{workdir}/validated/transactions.parquet')"
    ).fetchall()[0][0]
    rows = pd.read_parquet(workdir / "features-twelve" / "features.parquet", columns=["cutoff"])
    return {
        "customers": f"{n_customers:,}",
        "transactions": f"{transactions:,}",
        "1 cutoff (s)": f"{one_s:.1f}",
        "1 cutoff peak (GiB)": f"{one_gib:.2f}",
        "12 cutoffs (s)": f"{twelve_s:.1f}",
        "12 cutoffs peak (GiB)": f"{twelve_gib:.2f}",
        "rows at 12 cutoffs": f"{len(rows):,}",
        "RFM family, pandas (s)": f"{ours_s:.1f}",
        "RFM family, DuckDB (s)": f"{duckdb_s:.1f}",
        "largest RFM difference": f"{largest_difference(ours, reference):.1e}",
    }


def main() -> None:
    run_sizes(bench, RESULTS, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
