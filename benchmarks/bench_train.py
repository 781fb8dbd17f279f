"""Time and peak memory of the `train` stage at 100k and 1M customers, how it scales, and
the whole pipeline end to end.

For each size, simulated data is generated, validated and featurized at the default
monthly cutoffs (with ``--keep``, a size whose features are already there is reused, with
the times recorded when it was made). Then the real `train` entry point runs in a fresh
process, and its run record (data/models/run.json) gives the time of each of its steps:
reading the features, the fits of the main model and of each baseline, the cause model,
the oracle and the tracking. The BG/NBD baseline, which the previous implementation fitted
in its train stage, is a stage of its own (`btyd`), run once per size before train: "train
+ btyd" is what compares with the previous implementation. Up to ``--baseline-max``
customers the previous implementation (git revision ``--baseline``, in a temporary
worktree) trains on the same features in the same run, and both its time and its
out-of-time metrics stand beside this revision's. The last row is the scaling from the
smallest to the largest size. The second table is `dvc repro` at each size: every stage of
dvc.yaml in its order, each in a fresh process as DVC runs them (`explain` and `score`
after this revision's `train`), with its time, its peak and their total and maximum.
Results go to benchmarks/results/train.md.

    make bench-train                                                # 100k and 1M customers
    PYTHONPATH=. python benchmarks/bench_train.py --sizes 20000     # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_featurize import baseline_stage
from bench_generate import run_stage

from pipeline.artifacts import FEATURES, RUN_RECORD
from pipeline.params import compose_params, write_params

RESULTS = Path(__file__).parent / "results" / "train.md"
BASELINE = "cf64d5c"  # the last revision that trained on every feature row in pandas
BASELINE_MAX = 100_000
BUDGETS = ["null", "200000"]  # other row budgets run at each size
DATA_STAGES = ("generate", "validate", "featurize")  # dvc.yaml's stages that make the data ...
AFTER_TRAIN = ("explain", "score")  # ... and those after train
PIPELINE = (*DATA_STAGES, "btyd", "train", *AFTER_TRAIN)
DATA_TIMES = "data_stages.json"  # the data stages' seconds and peaks, kept with the data


def overrides(workdir: Path, n_customers: int, name: str) -> list[str]:
    """Simulated data of ``n_customers`` in ``workdir``; models, reports and MLflow runs
    of the implementation ``name`` in folders of their own."""
    # The previous implementation has no btyd stage: its config has no such path.
    btyd = [] if name == "previous" else [f"paths.btyd_dir={workdir}/btyd"]
    return [
        *btyd,
        f"simulator.n_customers={n_customers}",
        f"paths.simulated_dir={workdir}/simulated",
        f"paths.ground_truth_dir={workdir}/ground_truth",
        f"paths.validated_dir={workdir}/validated",
        f"paths.features_dir={workdir}/features",
        f"paths.models_dir={workdir}/models-{name}",
        f"paths.explanations_dir={workdir}/explanations-{name}",
        f"paths.retention_dir={workdir}/retention-{name}",
        f"paths.reports_dir={workdir}/reports-{name}",
        "scoring.model_source=pipeline",  # the model this train run wrote, as in dvc.yaml
        f"tracking.tracking_uri=sqlite:///{workdir}/mlruns-{name}/mlflow.db",
        "paths.allow_outside_repository=true",  # a temporary folder, on purpose
    ]


def prepare(workdir: Path, n_customers: int) -> tuple[Path, dict[str, list[float]]]:
    """The features of ``n_customers`` simulated customers; the params file of this
    revision; the seconds and peak (GiB) of each stage that made the data, when known."""
    params = workdir / "params-this.yaml"
    write_params(params, compose_params(overrides=overrides(workdir, n_customers, "this")))
    times = workdir / DATA_TIMES
    if not (workdir / "features" / FEATURES).exists():
        stages = {}
        for stage in DATA_STAGES:
            stages[stage] = list(run_stage(f"pipeline.{stage}", params))
            print(f"{n_customers:,}: {stage} {stages[stage][0]:.0f} s", flush=True)
        times.write_text(json.dumps(stages))
    return params, json.loads(times.read_text()) if times.exists() else {}


def metrics(reports: Path) -> dict[str, float]:
    found = json.loads((reports / "train.json").read_text())["metrics"]["lightgbm"]
    return {name: found[name] for name in ("roc_auc", "pr_auc", "lift_top_10pct")}


def fitted_rows(reports: Path) -> int:
    return json.loads((reports / "train.json").read_text())["split"]["rows"]["train"]


def training_rows(workdir: Path) -> int:
    """Labelled rows of the training cutoffs of the default run: the rows a fit without
    a row budget takes."""
    split = json.loads((workdir / "reports-this" / "train.json").read_text())["split"]
    table = pq.read_table(workdir / "features" / FEATURES, columns=["cutoff", "churned"])
    cutoffs = pa.array(pd.to_datetime(split["train_cutoffs"]), type=pa.timestamp("ns"))
    labelled = pc.and_(pc.is_in(table["cutoff"], cutoffs), pc.is_valid(table["churned"]))
    return int(pc.sum(labelled).as_py())


def measure(params: Path, workdir: Path, name: str, btyd_seconds: float) -> dict:
    """One run of this revision's train stage: time (alone and with the btyd stage's
    ``btyd_seconds``), peak memory, steps and metrics."""
    seconds, gib = run_stage("pipeline.train", params)
    steps = json.loads((workdir / f"models-{name}" / RUN_RECORD).read_text())["seconds"]
    fits = sum(value for step, value in steps.items() if step.startswith("fit "))
    return {
        "rows fitted": f"{fitted_rows(workdir / f'reports-{name}'):,}",
        "train (s)": seconds,
        "train + btyd (s)": seconds + btyd_seconds,
        "peak (GiB)": gib,
        "fits' share": f"{fits / seconds:.0%}",
        "steps (s)": ", ".join(f"{step} {value:.0f}" for step, value in steps.items()),
        **{key: f"{value:.4f}" for key, value in metrics(workdir / f"reports-{name}").items()},
    }


def bench(
    n_customers: int, workdir: Path, baseline: Path, baseline_max: int, budgets: list[int | None]
) -> tuple[list[dict], dict]:
    """The default settings; each other row budget (training.max_training_rows) that
    changes the rows fitted; the previous implementation up to ``baseline_max``. And the
    pipeline end to end with the default settings."""
    params, data_stages = prepare(workdir, n_customers)
    rows = pq.ParquetFile(workdir / "features" / FEATURES).metadata.num_rows
    size = {"customers": f"{n_customers:,}", "feature rows": f"{rows:,}"}
    # The BG/NBD forecast depends on the data alone: every train run below reads this one.
    btyd = list(run_stage("pipeline.btyd", params))
    default = measure(params, workdir, "this", btyd[0])
    stages = {**data_stages, "btyd": btyd, "train": [default["train (s)"], default["peak (GiB)"]]}
    for stage in AFTER_TRAIN:
        stages[stage] = list(run_stage(f"pipeline.{stage}", params))
    results = [{**size, "run": "this revision", **default}]
    available = training_rows(workdir)
    for budget in budgets:
        fitted = available if budget == "null" else min(available, int(budget))
        if fitted == _count(default, "rows fitted"):
            continue  # the same rows as the default run
        name = f"rows-{budget}"
        settings = [*overrides(workdir, n_customers, name), f"training.max_training_rows={budget}"]
        params = workdir / f"params-{name}.yaml"
        write_params(params, compose_params(overrides=settings))
        label = "every row" if budget == "null" else f"at most {int(budget):,} rows"
        results.append(
            {**size, "run": f"this revision, {label}", **measure(params, workdir, name, btyd[0])}
        )
    if n_customers <= baseline_max:
        settings = overrides(workdir, n_customers, "previous")
        seconds, gib = baseline_stage("pipeline.train", baseline, workdir, "prev", settings)
        before = metrics(workdir / "reports-previous")
        results.append(
            {
                **size,
                "run": "previous implementation",
                "rows fitted": f"{fitted_rows(workdir / 'reports-previous'):,}",
                "train (s)": seconds,
                "train + btyd (s)": seconds,  # its train stage fitted BG/NBD
                "peak (GiB)": gib,
                **{key: f"{value:.4f}" for key, value in before.items()},
            }
        )
    return results, {**size, **stages}


def pipeline_table(pipelines: list[dict]) -> str:
    """Each stage's seconds and peak per size, the total time and the largest peak; a
    stage whose data were kept from a run that did not time them is blank, and so is the
    total."""
    rows = []
    for pipeline in pipelines:
        timed = {name: pipeline[name] for name in PIPELINE if name in pipeline}
        row = {"customers": pipeline["customers"], "feature rows": pipeline["feature rows"]}
        for name in PIPELINE:
            row[name] = f"{timed[name][0]:.0f} s, {timed[name][1]:.2f} GiB" if name in timed else ""
        total = sum(seconds for seconds, _ in timed.values())
        row["dvc repro"] = f"{total / 60:.1f} min" if len(timed) == len(PIPELINE) else ""
        row["largest peak"] = f"{max(gib for _, gib in timed.values()):.2f} GiB"
        rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False)


def table(results: list[dict]) -> str:
    """The results with times and memory formatted, each as a ratio to the default run of
    its size, and the scaling of the default runs from the smallest to the largest size."""
    frame = pd.DataFrame(results)
    defaults = frame[frame["run"] == "this revision"]
    for column, digits in (("train (s)", 1), ("train + btyd (s)", 1), ("peak (GiB)", 2)):
        base = frame["customers"].map(
            dict(zip(defaults["customers"], defaults[column], strict=True))
        )
        frame[column] = [
            f"{value:.{digits}f} ({value / reference:.1f}x)"
            for value, reference in zip(frame[column], base, strict=True)
        ]
    if len(defaults) > 1:
        first, last = defaults.iloc[0], defaults.iloc[-1]
        frame.loc[len(frame)] = {
            "customers": f"{_count(last, 'customers') / _count(first, 'customers'):.0f}x",
            "feature rows": f"{_count(last, 'feature rows') / _count(first, 'feature rows'):.1f}x",
            "run": "scaling of this revision",
            "rows fitted": f"{_count(last, 'rows fitted') / _count(first, 'rows fitted'):.1f}x",
            "train (s)": f"{last['train (s)'] / first['train (s)']:.1f}x",
            "train + btyd (s)": f"{last['train + btyd (s)'] / first['train + btyd (s)']:.1f}x",
            "peak (GiB)": f"{last['peak (GiB)'] / first['peak (GiB)']:.1f}x",
        }
    return frame.fillna("").to_markdown(index=False)


def _count(row: pd.Series, column: str) -> int:
    return int(str(row[column]).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--keep", type=Path, help="keep (and reuse) each size's data in KEEP/<size>"
    )
    parser.add_argument("--baseline", default=BASELINE, help="the previous implementation")
    parser.add_argument("--baseline-max", type=int, default=BASELINE_MAX)
    parser.add_argument(
        "--budgets",
        nargs="*",
        default=BUDGETS,
        help="other training.max_training_rows to run at each size (null: every row)",
    )
    args = parser.parse_args()
    baseline = Path(tempfile.mkdtemp(prefix="train-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], check=True)
    results, pipelines = [], []
    try:
        for size in args.sizes:
            with tempfile.TemporaryDirectory(prefix="train-") as temporary:
                workdir = Path(temporary) if args.keep is None else args.keep / str(size)
                workdir.mkdir(parents=True, exist_ok=True)
                runs, pipeline = bench(size, workdir, baseline, args.baseline_max, args.budgets)
                results += runs
                pipelines.append(pipeline)
                print(*runs, pipeline, sep="\n", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], check=True)
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    command = " ".join(sys.argv)
    text = f"Measured {time.strftime('%Y-%m-%d')} on {machine} with `{command}`.\n\n"
    end_to_end = "The pipeline end to end, stage by stage (seconds, peak):\n\n"
    RESULTS.write_text(f"{text}{table(results)}\n\n{end_to_end}{pipeline_table(pipelines)}\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
