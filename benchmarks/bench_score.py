"""Time and peak memory of a whole scoring run (`python -m pipeline.score`) at 1M customers.

For each size, simulated data is generated and validated (not timed), then the real
`score` entry point runs in a fresh process as of the end of the data with the model of
the last `make repro` (data/models): features at one date, prediction, drift check,
explanations of the customers who pass the screen, tiers, actions and the export. The
run's own step timings come from its manifest. Results go to benchmarks/results/score.md.

    python benchmarks/bench_score.py                # 100k and 1M customers
    python benchmarks/bench_score.py --sizes 20000  # a quick check
"""

from __future__ import annotations

import json
from pathlib import Path

from bench_generate import run_sizes, run_stage

from pipeline.artifacts import MANIFEST
from pipeline.config import load_config
from pipeline.params import compose_params, write_params

RESULTS = Path(__file__).parent / "results" / "score.md"
MODELS_DIR = Path("data/models")


def bench(n_customers: int, workdir: Path) -> dict:
    if not (MODELS_DIR / "model").exists():
        raise SystemExit(f"no model in {MODELS_DIR}: run `make repro` first")
    overrides = [
        f"simulator.n_customers={n_customers}",
        f"paths.simulated_dir={workdir}/simulated",
        f"paths.ground_truth_dir={workdir}/ground_truth",
        f"paths.validated_dir={workdir}/validated",
        f"paths.reports_dir={workdir}/reports",
        "paths.allow_outside_repository=true",  # a temporary folder, on purpose
        f"paths.retention_dir={workdir}/retention",
        f"paths.models_dir={MODELS_DIR.resolve()}",
        f"tracking.tracking_uri=sqlite:///{workdir}/mlruns/mlflow.db",
        "scoring.model_source=pipeline",
    ]
    params = workdir / "params.yaml"
    write_params(params, compose_params(overrides=overrides))
    run_stage("pipeline.generate", params)
    run_stage("pipeline.validate", params)
    seconds, gib = run_stage("pipeline.score", params)
    (day,) = Path(load_config(params).paths.retention_dir).iterdir()
    manifest = json.loads((day / MANIFEST).read_text())
    counts, steps = manifest["counts"], manifest["timings"]
    return {
        "customers": f"{n_customers:,}",
        "scored (active)": f"{counts['scored']:,}",
        "explained": f"{counts['explained']:,}",
        "listed": f"{counts['listed']:,}",
        "whole run (s)": f"{seconds:.1f}",
        "peak (GiB)": f"{gib:.2f}",
        **{f"{step} (s)": f"{steps[step]:.1f}" for step in steps},
    }


def main() -> None:
    run_sizes(bench, RESULTS, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
