"""How generate, validate and featurize (one cutoff, DuckDB) scale with the population.

For each size, in a fresh temporary folder, the real stage entry points run one after the
other in fresh processes; the table gives time and peak memory (largest resident set) of
each, and the ratio to the first size. Results go to benchmarks/results/scale.md.

    make bench-scale                                                  # 1M and 10M customers
    PYTHONPATH=. python benchmarks/bench_scale.py --sizes 20000 200000   # a quick check
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from bench_featurize import LAST_CUTOFF, overrides, write_config
from bench_generate import run_sizes, run_stage

RESULTS = Path(__file__).parent / "results" / "scale.md"
STAGES = ("generate", "validate", "featurize")
first_size: dict[str, tuple[int, dict[str, tuple[float, float]]]] = {}


def bench(n_customers: int, workdir: Path) -> dict:
    params = write_config(workdir, "one", overrides(workdir, n_customers, LAST_CUTOFF, "one"))
    measured = {stage: run_stage(f"pipeline.{stage}", params) for stage in STAGES}
    transactions = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{workdir}/validated/transactions.parquet')"
    ).fetchall()[0][0]
    base_size, base = first_size.setdefault("first", (n_customers, measured))
    result = {"customers": f"{n_customers:,}", "transactions": f"{transactions:,}"}
    for stage, (seconds, gib) in measured.items():
        result[f"{stage} (s)"] = f"{seconds:.1f} ({seconds / base[stage][0]:.1f}x)"
        result[f"{stage} peak (GiB)"] = f"{gib:.2f} ({gib / base[stage][1]:.1f}x)"
    result["size"] = f"{n_customers / base_size:.0f}x"
    return result


def main() -> None:
    run_sizes(bench, RESULTS, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
