"""Time and peak memory of a whole scoring run (`python -m pipeline.score`) at 1M customers.

For each size, simulated data is generated and validated (not timed), then the real
`score` entry point runs in a fresh process as of the end of the data with the model of
the last `make repro` (data/models): features at one date, prediction, drift check,
explanations of the customers who pass the screen, tiers, actions and the export. The
run's own step timings come from its manifest. The same run on Spark in local mode
(`engine=spark`: features and prediction on the executors) follows on the same data; the
benchmark asserts that it writes the same files, and gives its time as a ratio to
DuckDB's. Results go to benchmarks/results/score.md.

    python benchmarks/bench_score.py                # 100k and 1M customers
    python benchmarks/bench_score.py --sizes 20000  # a quick check
"""

from __future__ import annotations

import json
from pathlib import Path

from bench_generate import data_overrides, run_sizes, run_stage

from pipeline.artifacts import MANIFEST
from pipeline.params import compose_params, write_params

RESULTS = Path(__file__).parent / "results" / "score.md"
MODELS_DIR = Path("data/models")


def bench(n_customers: int, workdir: Path) -> dict:
    if not (MODELS_DIR / "model").exists():
        raise SystemExit(f"no model in {MODELS_DIR}: run `make repro` first")
    params = write_config(workdir, "duckdb", overrides(n_customers, workdir, "duckdb"))
    run_stage("pipeline.generate", params)
    run_stage("pipeline.validate", params)
    seconds, gib = run_stage("pipeline.score", params)
    spark = [*overrides(n_customers, workdir, "spark"), "engine=spark"]
    spark_seconds, spark_gib = run_stage("pipeline.score", write_config(workdir, "spark", spark))
    lists = retention_folder(workdir / "retention-duckdb")
    manifest = json.loads((lists / MANIFEST).read_text())
    spark_manifest = same_lists(lists, retention_folder(workdir / "retention-spark"))
    counts, steps = manifest["counts"], manifest["timings"]
    spark_features = spark_manifest["timings"]["features_and_predict"]
    return {
        "customers": f"{n_customers:,}",
        "scored (active)": f"{counts['scored']:,}",
        "explained": f"{counts['explained']:,}",
        "listed": f"{counts['listed']:,}",
        "whole run (s)": f"{seconds:.1f}",
        "peak (GiB)": f"{gib:.2f}",
        **{f"{step} (s)": f"{steps[step]:.1f}" for step in steps},
        "Spark local[2]: whole run (s)": f"{spark_seconds:.1f} ({spark_seconds / seconds:.1f}x)",
        "Spark: peak, Python side (GiB)": f"{spark_gib:.2f}",
        "Spark: features_and_predict (s)": f"{spark_features:.1f}",
    }


def overrides(n_customers: int, workdir: Path, engine: str) -> list[str]:
    return [
        *data_overrides(n_customers, workdir),
        f"paths.retention_dir={workdir}/retention-{engine}",
        f"paths.models_dir={MODELS_DIR.resolve()}",
        f"tracking.tracking_uri=sqlite:///{workdir}/mlruns/mlflow.db",
        "scoring.model_source=pipeline",
    ]


def write_config(workdir: Path, name: str, settings: list[str]) -> Path:
    params = workdir / f"params-{name}.yaml"
    write_params(params, compose_params(overrides=settings))
    return params


def retention_folder(retention_dir: Path) -> Path:
    (day,) = retention_dir.iterdir()
    return day


def same_lists(expected: Path, found: Path) -> dict:
    """Assert that two runs wrote the same lists, exclusions and drift report, byte for
    byte; the manifest of ``found``."""
    files = [
        {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        for folder in (expected, found)
    ]
    manifests = [json.loads(each.pop(MANIFEST)) for each in files]
    if files[0] != files[1]:
        different = sorted(name for name in files[0] if files[0][name] != files[1].get(name))
        raise AssertionError(f"Spark wrote other lists than DuckDB: {different}")
    return manifests[1]


def main() -> None:
    run_sizes(bench, RESULTS, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
