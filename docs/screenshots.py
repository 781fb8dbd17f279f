"""The README's screenshots of the MLflow UI and of a DVC plots diff page, taken in
headless Chromium (the Debian `chromium` package: `apt-get install chromium`).

    make screenshots    # python -m docs.screenshots, after `make repro`, `make promote`
                        # and one `dvc exp run`

Serves the pipeline's MLflow store with `python -m pipeline.ui` on a free port and takes:
the churn experiment's runs in the model-training view, the last train run's page
(``paths.models_dir``'s run record) and its plots, the registered model with its versions
and the champion alias; then `dvc plots diff` of the commit against the newest experiment,
rendered from the offline template. Writes ``docs/images/*.png``; nothing else changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.artifacts import RUN_RECORD
from pipeline.config import load_config
from pipeline.stage import configure_logging
from pipeline.tracking import MODEL_TRAINING_VIEW
from tests.support import free_port

log = logging.getLogger("screenshots")

IMAGES = Path("docs/images")
UI_WINDOW = "1500,950"
PLOTS_WINDOW = "850,390"  # the two charts of the diff
# Chromium renders for this long in virtual time, so the UI's requests have answered.
RENDER_MILLISECONDS = 20_000


def main() -> None:
    configure_logging()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("no chromium on the PATH: apt-get install chromium")
    cfg = load_config()
    record = json.loads((Path(cfg.paths.models_dir) / RUN_RECORD).read_text(encoding="utf-8"))
    IMAGES.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "pipeline.ui", f"tracking.ui_url={url}"]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as ui:
        try:
            link = _wait_for_link(ui)
            experiment = link.removeprefix(f"{url}/#/experiments/").split("?")[0]
            run = f"{url}/#/experiments/{experiment}/runs/{record['run_id']}"
            model = cfg.tracking.registry.model_name
            pages = {
                "mlflow_experiment": link,
                "mlflow_run": f"{run}?{MODEL_TRAINING_VIEW}",
                "mlflow_run_plots": f"{run}/artifacts/plots/gain.png?{MODEL_TRAINING_VIEW}",
                "mlflow_registry": f"{url}/#/models/{model}?{MODEL_TRAINING_VIEW}",
            }
            for name, page in pages.items():
                _screenshot(browser, page, IMAGES / f"{name}.png", UI_WINDOW)
        finally:
            ui.terminate()
    _plots_diff(browser)


def _wait_for_link(ui: subprocess.Popen) -> str:
    for line in ui.stderr:
        ready = re.search(r"MLflow UI ready in [\d.]+ s: (\S+)", line)
        if ready:
            return ready[1]
    raise RuntimeError(f"pipeline.ui exited with {ui.wait()} before serving")


def _plots_diff(browser: str) -> None:
    """`dvc plots diff` of HEAD against the newest experiment, as a page."""
    shown = json.loads(_dvc("exp", "show", "--json"))
    experiments = [
        exp["name"]
        for commit in shown
        if commit["rev"] != "workspace"
        for exp in commit.get("experiments") or []
        if exp.get("name")
    ]
    if not experiments:
        sys.exit("no DVC experiment to compare: run `dvc exp run -S ...` first")
    with tempfile.TemporaryDirectory() as out:
        targets = ("reports/train/roc.csv", "reports/train/precision_recall.csv")
        _dvc("plots", "diff", "HEAD", experiments[0], "-o", out, "--targets", *targets)
        page = Path(out, "index.html").as_uri()
        _screenshot(browser, page, IMAGES / "dvc_plots_diff.png", PLOTS_WINDOW)


def _dvc(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def _screenshot(browser: str, page: str, image: Path, window: str) -> None:
    subprocess.run(
        [
            browser,
            *("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"),
            f"--virtual-time-budget={RENDER_MILLISECONDS}",
            f"--window-size={window}",
            f"--screenshot={image.resolve()}",
            page,
        ],
        check=True,
        capture_output=True,
    )
    log.info("%s: %s", image, page)


if __name__ == "__main__":
    main()
