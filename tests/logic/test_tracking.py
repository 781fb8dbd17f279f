"""What identifies a run: its name, its commit and the links to it."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.tracking import config_hash, git_commit, run_name, ui_link
from tests.support import compose_config


def _git(repo: Path, *args: str) -> str:
    identity = ("-c", "user.name=t", "-c", "user.email=t@localhost")
    return subprocess.run(
        ["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_commit_is_dirty_for_code_and_config_not_for_what_the_stages_write(tmp_path):
    for name in ("dvc.lock", "reports/train.json", "conf/config.yaml", "pipeline/train.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "c")
    head = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "dvc.lock").write_text("2\n")
    (tmp_path / "reports" / "train.json").write_text("2\n")
    assert git_commit(tmp_path) == head  # `dvc repro` rewrote its lock and reports
    (tmp_path / "conf" / "config.yaml").write_text("2\n")
    assert git_commit(tmp_path) == f"{head}-dirty"
    assert git_commit(tmp_path / "conf" / "no-repo") == "unknown"


def test_run_name_says_dataset_model_and_settings(tmp_path):
    cfg = compose_config(tmp_path)
    assert run_name(cfg) == f"simulated lightgbm {config_hash(cfg)}"
    assert len(config_hash(cfg)) == 8
    other = replace(cfg, model=replace(cfg.model, params={**cfg.model.params, "num_leaves": 7}))
    assert config_hash(other) != config_hash(cfg)
    # Where outputs and runs go is not a setting of the model.
    moved = replace(
        cfg,
        paths=replace(cfg.paths, models_dir="elsewhere"),
        tracking=replace(cfg.tracking, tracking_uri="sqlite:///elsewhere.db"),
    )
    assert config_hash(moved) == config_hash(cfg)


@pytest.mark.parametrize(
    ("uri", "base"),
    [
        ("sqlite:///mlruns/mlflow.db", "http://127.0.0.1:5000"),  # served by `make ui`
        ("https://ann:s3cret@mlflow.internal/", "https://ann:***@mlflow.internal"),
    ],
)
def test_links_open_the_model_training_view(tmp_path, monkeypatch, uri, base):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = compose_config(tmp_path).tracking
    cfg = replace(cfg, tracking_uri=uri, ui_url="http://127.0.0.1:5000")
    assert ui_link(cfg, "3", "abc") == (
        f"{base}/#/experiments/3/runs/abc?workflowType=machine_learning"
    )
    assert ui_link(cfg, "3") == f"{base}/#/experiments/3?workflowType=machine_learning"
