"""End to end through DVC on a temporary copy of the repository.

`dvc repro` must run every stage from params.yaml on the simulated data. `dvc exp run -S`
(DVC's Hydra integration) is tested on data we did not make, in test_own_data.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.e2e.repository import DVC, env, run, tiny_copy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny copy of the repository after `dvc repro` and `make promote` (scheduled
    scoring runs use the champion)."""
    copy = tiny_copy(tmp_path_factory.mktemp("dvc") / "repo")
    run(*DVC, "repro", cwd=copy)
    run(sys.executable, "-m", "pipeline.promote", cwd=copy)
    return copy


def _customers(repo: Path) -> pd.DataFrame:
    return pd.read_parquet(repo / "data" / "validated" / "customers.parquet")


def test_dvc_repro_runs_every_stage_to_the_lists(reproduced: Path):
    assert len(_customers(reproduced)) == 3000
    report = json.loads((reproduced / "reports" / "validation.json").read_text())
    assert report["tables"]["customers"]["rows"] == 3000
    features = pd.read_parquet(reproduced / "data" / "features" / "features.parquet")
    split = json.loads((reproduced / "reports" / "train.json").read_text())["split"]
    read = [*split["train_cutoffs"], split["validation_cutoff"], split["test_cutoff"]]
    # Six of the eight configured cutoffs: those the split reads (features.cutoffs: split).
    assert sorted(features["cutoff"].dt.strftime("%Y-%m-%d").unique()) == read
    assert len(read) == 6
    assert _clean(reproduced)

    assert (reproduced / "data" / "models" / "model" / "MLmodel").exists()
    assert (reproduced / "mlruns" / "mlflow.db").exists()
    causes = pd.read_parquet(reproduced / "data" / "explanations" / "causes.parquet")
    assert set(causes["direction"]) == {"risk", "protective"}
    (lists_day,) = (reproduced / "data" / "retention").iterdir()
    assert lists_day.name == "2024-11-25"  # the end of the tiny data
    assert (lists_day / "manifest.json").exists() and any((lists_day / "lists").glob("*.csv"))


def _clean(repo: Path) -> bool:
    return "up to date" in run(*DVC, "status", cwd=repo)


# Runs a stage like `python -m pipeline.<stage>` and SIGKILLs it at the first rename of
# pipeline/io.py: "before" it (no output has moved), or right after one that moved an
# output "aside" (the first of a folder swap's two renames: the output is then missing).
KILL_AT_RENAME = """
import os, pathlib, runpy, signal, sys
point, module = sys.argv[1], sys.argv[2]
def killing(rename):
    def rename_or_die(self, target):
        if not sys._getframe(1).f_code.co_filename.endswith(os.path.join("pipeline", "io.py")):
            return rename(self, target)
        if point == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        moved = rename(self, target)
        if ".old-" in pathlib.Path(target).name:
            os.kill(os.getpid(), signal.SIGKILL)
        return moved
    return rename_or_die
pathlib.Path.rename = killing(pathlib.Path.rename)
pathlib.Path.replace = killing(pathlib.Path.replace)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

# Every stage, in pipeline order, is killed at both points ("before" last, so nothing
# runs after it).
STAGES = ["generate", "validate", "featurize", "btyd", "train", "explain", "score"]


@pytest.mark.fault
def test_a_stage_killed_at_a_rename_leaves_nothing_for_dvc_to_redo(reproduced: Path):
    """Killed before any output moved, a stage leaves `dvc status` clean as it is: the
    temporary folders it leaves, some inside output folders, are invisible to DVC
    (.dvcignore). Killed between the two renames of a folder swap, the next start (`dvc
    repro`) leaves `dvc status` clean. The next stage to start marks the MLflow runs the
    kills left RUNNING, in any experiment, as FAILED."""
    store = mlflow.MlflowClient(f"sqlite:///{reproduced / 'mlruns' / 'mlflow.db'}")
    for stage in STAGES:
        for point in ("aside", "before"):
            killed = subprocess.run(
                [sys.executable, "-c", KILL_AT_RENAME, point, f"pipeline.{stage}"],
                cwd=reproduced,
                env=env(),
                capture_output=True,
                text=True,
            )
            assert killed.returncode == -9, f"{stage} ended without a rename"
            if point == "aside":
                assert not _clean(reproduced), stage  # an output is missing
                run(*DVC, "repro", cwd=reproduced)
            assert _clean(reproduced), (stage, point)
    # The last kill, score's before its first rename, left its temporary folder inside an
    # output folder (DVC ignores it: clean above) and its MLflow run RUNNING.
    assert list((reproduced / "data" / "retention").glob(".*.tmp-*"))
    assert _running(store)
    # The next start: a scheduled scoring run, its lists outside the DVC outputs.
    run(sys.executable, "-m", "pipeline.score", "paths.retention_dir=exports", cwd=reproduced)
    assert _running(store) == []


def _running(store: mlflow.MlflowClient) -> list[str]:
    experiments = [experiment.experiment_id for experiment in store.search_experiments()]
    runs = store.search_runs(experiments, "attributes.status = 'RUNNING'")
    return [run.info.run_id for run in runs]
