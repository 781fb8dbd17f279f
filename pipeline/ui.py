"""`make ui`: the MLflow UI on the pipeline's store, with the link to the churn experiment.

Serves the local store (``tracking.tracking_uri``) at ``tracking.ui_url`` with one worker
and logs the experiment's page in the model-training view once the server answers; with
``MLFLOW_TRACKING_URI`` pointing at a server, only logs the link to that server's page.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from urllib.error import URLError
from urllib.parse import urlsplit

from pipeline.config import Config
from pipeline.stage import run_stage
from pipeline.tracking import experiment_id, ui_link, use_tracking_store

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 120


def run(cfg: Config) -> None:
    tracking = cfg.tracking
    use_tracking_store(tracking, tracking.training_experiment)
    link = ui_link(tracking, experiment_id(tracking.training_experiment))
    uri = os.environ.get("MLFLOW_TRACKING_URI") or tracking.tracking_uri
    if uri.startswith(("http://", "https://")):
        log.info("the store is a server: %s", link)
        return
    address = urlsplit(tracking.ui_url)
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", uri, "--workers", "1"),
        *("--host", address.hostname or "127.0.0.1", "--port", str(address.port or 5000)),
    ]
    # The server's job runner (a pool of Huey consumers for GenAI evaluation jobs) is of no
    # use to this pipeline and multiplies start time and memory: off.
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    started = time.perf_counter()
    # Its own process group, so that stopping the UI (Ctrl-C, SIGTERM) stops every
    # process the server started.
    with subprocess.Popen(command, env=env, start_new_session=True) as server:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            _wait_until_ready(f"{tracking.ui_url.rstrip('/')}/health", server)
            log.info("MLflow UI ready in %.1f s: %s", time.perf_counter() - started, link)
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            os.killpg(server.pid, signal.SIGTERM)


def _wait_until_ready(health: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the MLflow server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(health, timeout=1):
                return
        except (URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"the MLflow server did not answer {health} in {READY_TIMEOUT_SECONDS} s")


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
