"""End to end through DVC on a temporary copy of the repository.

`dvc repro` must run every stage from params.yaml on the simulated data. `dvc exp run -S`
(DVC's Hydra integration) is tested on data we did not make, in test_own_data.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.params import compose_params
from tests.support import REPO, TINY, TRAINABLE

pytestmark = pytest.mark.e2e


def _env() -> dict[str, str]:
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: a store set up by an earlier
    # in-process test must not capture the copy's runs.
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return inherited | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # dvc exp run commits to git: do not depend on a global git identity.
        **dict.fromkeys(("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"), "pipeline tests"),
        **dict.fromkeys(("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"), "tests@localhost"),
    }


def _run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files of the repository, committed in a fresh git repo, on tiny
    settings, after `dvc repro`."""
    files = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    copy = tmp_path_factory.mktemp("dvc") / "repo"
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    _use_tiny_settings(copy / "conf")
    (copy / "params.yaml").write_text(compose_params(copy / "conf"))
    (copy / "dvc.lock").unlink(missing_ok=True)
    _run("git", "init", "-q", cwd=copy)
    _run("git", "add", "-A", cwd=copy)
    _run("git", "commit", "-qm", "copy", cwd=copy)
    _run(sys.executable, "-m", "dvc", "repro", cwd=copy)
    return copy


def _use_tiny_settings(conf: Path) -> None:
    """Add a `tiny` config to each group TINY and TRAINABLE override (the group's default
    plus the overrides) and select it."""
    root = conf / "config.yaml"
    overrides = (*TINY, *TRAINABLE)
    defaults = OmegaConf.to_container(OmegaConf.load(root).defaults)
    chosen = {
        group: name for item in defaults if isinstance(item, dict) for group, name in item.items()
    }
    for group in sorted({item.split(".", 1)[0] for item in overrides}):
        tiny = OmegaConf.from_dotlist(
            [item.removeprefix(f"{group}.") for item in overrides if item.startswith(f"{group}.")]
        )
        tiny.defaults = [chosen[group], "_self_"]
        OmegaConf.save(tiny, conf / group / "tiny.yaml")
        root.write_text(root.read_text().replace(f"- {group}: {chosen[group]}", f"- {group}: tiny"))


def _customers(repo: Path) -> pd.DataFrame:
    return pd.read_parquet(repo / "data" / "validated" / "customers.parquet")


def test_dvc_repro_runs_every_stage_to_the_lists(reproduced: Path):
    assert len(_customers(reproduced)) == 3000
    report = json.loads((reproduced / "data" / "reports" / "validation.json").read_text())
    assert report["tables"]["customers"]["rows"] == 3000
    features = pd.read_parquet(reproduced / "data" / "features" / "features.parquet")
    assert features["cutoff"].nunique() == 8
    assert _clean(reproduced)

    assert (reproduced / "data" / "models" / "model" / "MLmodel").exists()
    assert (reproduced / "mlruns" / "mlflow.db").exists()
    causes = pd.read_parquet(reproduced / "data" / "explanations" / "causes.parquet")
    assert set(causes["direction"]) == {"risk", "protective"}
    (lists_day,) = (reproduced / "data" / "retention").iterdir()
    assert lists_day.name == "2024-11-25"  # the end of the tiny data
    assert (lists_day / "manifest.json").exists() and any((lists_day / "lists").glob("*.csv"))


def _clean(repo: Path) -> bool:
    return "up to date" in _run(sys.executable, "-m", "dvc", "status", cwd=repo)


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
STAGES = ["generate", "validate", "featurize", "train", "explain", "score"]


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
                env=_env(),
                capture_output=True,
                text=True,
            )
            assert killed.returncode == -9, f"{stage} ended without a rename"
            if point == "aside":
                assert not _clean(reproduced), stage  # an output is missing
                _run(sys.executable, "-m", "dvc", "repro", cwd=reproduced)
            assert _clean(reproduced), (stage, point)
    # The last kill, score's before its first rename, left its temporary folder inside an
    # output folder (DVC ignores it: clean above) and its MLflow run RUNNING.
    assert list((reproduced / "data" / "retention").glob(".*.tmp-*"))
    assert _running(store)
    # The next start: a scheduled scoring run, its lists outside the DVC outputs.
    _run(sys.executable, "-m", "pipeline.score", "paths.retention_dir=exports", cwd=reproduced)
    assert _running(store) == []


def _running(store: mlflow.MlflowClient) -> list[str]:
    experiments = [experiment.experiment_id for experiment in store.search_experiments()]
    runs = store.search_runs(experiments, "attributes.status = 'RUNNING'")
    return [run.info.run_id for run in runs]
