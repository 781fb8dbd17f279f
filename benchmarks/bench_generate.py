"""Time and peak memory of the `generate` and `validate` stages at several sizes.

Each size runs the real stage entry points in a subprocess on a config composed from
conf/ with only `simulator.n_customers` and the output paths changed, so the figures are
those a user gets. Results are printed as a Markdown table and written to
benchmarks/results/generate.md for the README.

    python benchmarks/bench_generate.py               # 100k and 1M customers
    python benchmarks/bench_generate.py --sizes 20000 # a quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.params import compose_params, write_params

RESULTS = Path(__file__).parent / "results" / "generate.md"


def run_stage(module: str, params: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one stage run in a fresh process."""
    started = time.perf_counter()
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far, so each stage runs in a
    # process of its own behind a one-off wrapper, and the wrapper reports its child.
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run([sys.executable, '-m', '{module}', '--params', '{params}'], check=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return time.perf_counter() - started, int(out.stdout.strip()) / 2**20


def data_overrides(n_customers: int, workdir: Path) -> list[str]:
    """Settings of simulated data of ``n_customers`` in ``workdir``."""
    return [
        f"simulator.n_customers={n_customers}",
        f"paths.simulated_dir={workdir}/simulated",
        f"paths.ground_truth_dir={workdir}/ground_truth",
        f"paths.validated_dir={workdir}/validated",
        f"paths.reports_dir={workdir}/reports",
        "paths.allow_outside_repository=true",  # a temporary folder, on purpose
    ]


def bench(n_customers: int, workdir: Path) -> dict:
    params = workdir / "params.yaml"
    write_params(params, compose_params(overrides=data_overrides(n_customers, workdir)))
    generate_s, generate_gib = run_stage("pipeline.generate", params)
    rows = {
        name: pq.ParquetFile(workdir / "raw" / f"{name}.parquet").metadata.num_rows
        for name in ("transactions", "complaints")
    }
    validate_s, validate_gib = run_stage("pipeline.validate", params)
    return {
        "customers": f"{n_customers:,}",
        "transactions": f"{rows['transactions']:,}",
        "complaints": f"{rows['complaints']:,}",
        "generate (s)": f"{generate_s:.1f}",
        "generate peak (GiB)": f"{generate_gib:.2f}",
        "validate (s)": f"{validate_s:.1f}",
        "validate peak (GiB)": f"{validate_gib:.2f}",
    }


def run_sizes(bench: Callable[[int, Path], dict], results: Path, description: str) -> None:
    """Run ``bench`` for each ``--sizes`` in a fresh temporary folder; write the table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--keep", type=Path, help="keep each size's files in KEEP/<size> (default: deleted)"
    )
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"{results.stem}-") as temporary:
            workdir = Path(temporary) if args.keep is None else args.keep / str(size)
            workdir.mkdir(parents=True, exist_ok=True)
            rows.append(bench(size, workdir))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).to_markdown(index=False)
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    command = " ".join(sys.argv)
    text = f"Measured {time.strftime('%Y-%m-%d')} on {machine} with `{command}`.\n\n{table}\n"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    print(text)


def main() -> None:
    run_sizes(bench, RESULTS, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
