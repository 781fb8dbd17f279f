"""A password in the tracking URI appears in no output file and no log line.

A real MLflow server is started; train, explain and score run through their command-line
entry points with MLFLOW_TRACKING_URI carrying a password, and every file they write and
every line they print or log (MLflow's included) is searched for it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pipeline import explain, promote, promotions, score, train
from tests.support import Simulated, free_port, outputs_in

SECRET = "s3cret-Pa55word"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """An MLflow tracking server on localhost; yields its URL."""
    port = free_port()
    store = tmp_path / "server"
    store.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination",
            str(store / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the MLflow server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_password_in_the_tracking_uri_leaks_nowhere(
    trainable: Simulated, server, tmp_path, monkeypatch, capfd, caplog
):
    cfg = trainable.cfg
    paths = outputs_in(outputs_in(cfg.paths, tmp_path, "train"), tmp_path, "explain")
    paths = replace(paths, retention_dir=str(tmp_path / "lists"))
    params = tmp_path / "params.yaml"
    OmegaConf.save(OmegaConf.structured(replace(cfg, paths=paths)), params)
    host = server.removeprefix("http://")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://ann:{SECRET}@{host}")
    caplog.set_level(logging.DEBUG)
    stages = [
        (train, []),
        (explain, []),
        (promote, []),
        (promotions, []),
        (score, ["scoring.model_source=registry"]),
    ]
    for stage, extra in stages:
        monkeypatch.setattr(sys, "argv", ["stage", "--params", str(params), *extra])
        stage.main()  # as `python -m pipeline.<stage>` runs it
    printed = capfd.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "run.json" for p in written)
    assert any(p.suffix == ".csv" for p in (tmp_path / "lists").rglob("*"))
    leaks = [str(p) for p in written if SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert SECRET not in printed.out + printed.err + caplog.text
    assert "ann:***@" in (tmp_path / "models" / "run.json").read_text()
