"""A copy of the repository on tiny settings, for tests that run DVC and the stages as
commands, as users do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.params import compose_params
from tests.support import REPO, TINY, TRAINABLE

DVC = (sys.executable, "-m", "dvc")


def env() -> dict[str, str]:
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: a store set up by an earlier
    # in-process test must not capture the copy's runs.
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return inherited | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # dvc exp run commits to git: do not depend on a global git identity.
        **dict.fromkeys(("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"), "pipeline tests"),
        **dict.fromkeys(("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"), "tests@localhost"),
    }


def run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=env(), capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def tiny_copy(copy: Path) -> Path:
    """The tracked files of the repository at ``copy`` on tiny settings, without the lock
    and the reports of the repository's own run, committed in a fresh git repository."""
    files = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    _use_tiny_settings(copy / "conf")
    (copy / "params.yaml").write_text(compose_params(copy / "conf"))
    (copy / "dvc.lock").unlink(missing_ok=True)
    shutil.rmtree(copy / "reports", ignore_errors=True)
    run("git", "init", "-q", cwd=copy)
    run("git", "add", "-A", cwd=copy)
    run("git", "commit", "-qm", "copy", cwd=copy)
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
