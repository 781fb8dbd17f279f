"""Nothing phones home, whatever the entry point: telemetry is off in code."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import REPO


def test_importing_the_pipeline_switches_mlflow_telemetry_off():
    """As a cron job would run it: no Makefile, no telemetry or CI variable (MLflow stays
    quiet under pytest or CI on its own) in the environment."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    code = (
        "import pipeline.tracking, mlflow\n"
        "from mlflow.telemetry import get_telemetry_client\n"
        "import os\n"
        "print(get_telemetry_client() is None, os.environ['DVC_NO_ANALYTICS'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1"]
