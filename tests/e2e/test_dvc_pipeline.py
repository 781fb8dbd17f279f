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

import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.params import compose_params
from tests.support import REPO, TINY, TRAINABLE

pytestmark = pytest.mark.e2e


def _run(*command: str, cwd: Path) -> str:
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: a store set up by an earlier
    # in-process test must not capture the copy's runs.
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env = inherited | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # dvc exp run commits to git: do not depend on a global git identity.
        **dict.fromkeys(("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"), "pipeline tests"),
        **dict.fromkeys(("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"), "tests@localhost"),
    }
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The tracked files of the repository, committed in a fresh git repo, on tiny settings."""
    files = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    copy = tmp_path / "repo"
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


def test_dvc_repro_runs_every_stage_to_the_lists(repo_copy: Path):
    _run(sys.executable, "-m", "dvc", "repro", cwd=repo_copy)
    assert len(_customers(repo_copy)) == 3000
    report = json.loads((repo_copy / "data" / "reports" / "validation.json").read_text())
    assert report["tables"]["customers"]["rows"] == 3000
    features = pd.read_parquet(repo_copy / "data" / "features" / "features.parquet")
    assert features["cutoff"].nunique() == 8
    status = _run(sys.executable, "-m", "dvc", "status", cwd=repo_copy)
    assert "up to date" in status

    assert (repo_copy / "data" / "models" / "model" / "MLmodel").exists()
    assert (repo_copy / "mlruns" / "mlflow.db").exists()
    causes = pd.read_parquet(repo_copy / "data" / "explanations" / "causes.parquet")
    assert set(causes["direction"]) == {"risk", "protective"}
    (lists_day,) = (repo_copy / "data" / "retention").iterdir()
    assert lists_day.name == "2024-11-25"  # the end of the tiny data
    assert (lists_day / "manifest.json").exists() and any((lists_day / "lists").glob("*.csv"))
