"""Nothing phones home and no secret leaks: telemetry is off in code, whatever the entry
point, and a password in the tracking URI never reaches a log, a tag or a file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from pipeline.tracking import flat_config, public_config, redacted
from tests.support import REPO, compose_config


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


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://ann:s3cret@mlflow.internal:5000/", "https://ann:***@mlflow.internal:5000/"),
        ("http://ann:p%40ss@host/path?x=1", "http://ann:***@host/path?x=1"),
        ("https://ann@host", "https://ann@host"),  # no password: nothing to hide
        ("sqlite:///mlruns/mlflow.db", "sqlite:///mlruns/mlflow.db"),
    ],
)
def test_tracking_uri_passwords_are_redacted(uri, shown):
    assert redacted(uri) == shown


def test_the_logged_config_carries_no_password(tmp_path):
    cfg = compose_config(tmp_path)
    secret = replace(cfg, tracking=replace(cfg.tracking, tracking_uri="https://a:s3cret@h/"))
    assert "s3cret" not in str(public_config(secret))
    assert "s3cret" not in str(flat_config(secret))
    assert public_config(secret)["tracking"]["tracking_uri"] == "https://a:***@h/"
