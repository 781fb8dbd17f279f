"""A kill at any instruction keeps the previous outputs (or the new ones, complete), and
leaves no MLflow run RUNNING after the next start.

A child process replaces a folder through ``atomic_path`` and SIGKILLs itself at its n-th
rename. Whatever n, the folder then holds the old or the new content, never nothing and
never a mix; the next replacement recovers what the killed one left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from pipeline.io import atomic_path
from pipeline.tracking import PROCESS_HOST, PROCESS_PID, use_tracking_store
from tests.support import REPO, compose_config

pytestmark = pytest.mark.fault

CHILD = """
import os, signal, sys
from pathlib import Path
from pipeline.io import atomic_path

target, kill_at = Path(sys.argv[1]), int(sys.argv[2])
renames = 0
original = Path.rename

def rename(self, destination):
    global renames
    renames += 1
    if renames == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, destination)

Path.rename = rename
with atomic_path(target) as tmp:
    tmp.mkdir()
    (tmp / "lists.csv").write_text("new")
"""


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


@pytest.mark.parametrize("kill_at", [1, 2, 3])
def test_a_kill_at_any_rename_keeps_the_old_or_the_new_folder(tmp_path, kill_at):
    target = tmp_path / "retention" / "2026-06-01"
    target.mkdir(parents=True)
    (target / "lists.csv").write_text("old")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(target), str(kill_at)], cwd=REPO, capture_output=True
    )
    killed = child.returncode == -signal.SIGKILL
    assert killed or kill_at == 3, child.stderr  # a swap is two renames
    # Before recovery the folder may be gone (killed between the renames) ...
    with atomic_path(tmp_path / "retention" / "2026-06-01") as tmp:
        # ... but the next replacement of it starts by putting it back.
        assert _contents(target) in ({"lists.csv": "old"}, {"lists.csv": "new"})
        tmp.mkdir()
        (tmp / "lists.csv").write_text("next")
    assert _contents(target) == {"lists.csv": "next"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["2026-06-01"]


def test_between_the_two_renames_the_previous_output_comes_back(tmp_path):
    target = tmp_path / "2026-06-01"
    target.mkdir()
    (target / "lists.csv").write_text("old")
    subprocess.run([sys.executable, "-c", CHILD, str(target), "2"], cwd=REPO, check=False)
    assert not target.exists()  # the kill fell between moving the old one aside and the new in
    with atomic_path(target) as tmp:
        assert _contents(target) == {"lists.csv": "old"}
        tmp.mkdir()
        (tmp / "lists.csv").write_text("next")
    assert _contents(target) == {"lists.csv": "next"}


def test_runs_left_running_by_a_killed_process_are_marked_failed(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking = compose_config(tmp_path).tracking
    use_tracking_store(tracking, "killed")
    client = MlflowClient()
    experiment = client.get_experiment_by_name("killed").experiment_id
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: its pid names no process now
    dead_pid = str(child.pid)
    host = socket.gethostname()
    runs = {
        name: client.create_run(experiment, tags={PROCESS_HOST: h, PROCESS_PID: pid}).info.run_id
        for name, h, pid in [
            ("killed", host, dead_pid),
            ("alive", host, str(os.getpid())),
            ("elsewhere", "another-host", dead_pid),
        ]
    }
    use_tracking_store(tracking, "killed")  # what the next stage start does
    status = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {"killed": "FAILED", "alive": "RUNNING", "elsewhere": "RUNNING"}
