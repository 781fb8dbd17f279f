"""`make ui`: the MLflow UI served on the pipeline's store, opened on the churn experiment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from pipeline.config import Config
from tests.support import REPO, free_port


def test_ui_serves_the_store_and_links_the_experiment_in_the_model_training_view(trained: Config):
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "pipeline.ui", "--params", str(params)]
    command.append(f"tracking.ui_url={url}")
    with subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True) as ui:
        try:
            for line in ui.stderr:
                ready = re.search(r"MLflow UI ready in [\d.]+ s: (\S+)", line)
                if ready:
                    break
            else:
                raise AssertionError(f"pipeline.ui exited with {ui.wait()} before it was ready")
            link = ready[1]
            assert link.startswith(f"{url}/#/experiments/")
            assert link.endswith("?workflowType=machine_learning")
            experiment = link.removeprefix(f"{url}/#/experiments/").split("?")[0]
            api = f"{url}/ajax-api/2.0/mlflow/experiments/get?experiment_id={experiment}"
            with urllib.request.urlopen(api, timeout=30) as response:
                shown = json.load(response)["experiment"]
            assert shown["name"] == trained.tracking.training_experiment
            tags = {tag["key"]: tag["value"] for tag in shown["tags"]}
            assert tags["mlflow.experimentKind"] == "custom_model_development"
            with urllib.request.urlopen(url, timeout=30) as page:
                assert b"<html" in page.read().lower()  # the UI itself, served
        finally:
            ui.terminate()
