"""The notebooks run headless, top to bottom, on small data."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from traitlets.config import Config as TraitletsConfig

from pipeline import explain, score
from pipeline.config import Config
from tests.support import REPO, Simulated


def run_notebook(name: str, workdir: Path, **parameters: str) -> NotebookNode:
    notebook = parameterize_notebook(load_notebook_node(str(REPO / "notebooks" / name)), parameters)
    # IPC transport: the kernel needs no loopback TCP port. The socket path is absolute
    # (the kernel runs in ``workdir``) and short (Unix sockets allow ~100 characters).
    with tempfile.TemporaryDirectory(prefix="nb-") as sockets:
        ipc = TraitletsConfig(
            {"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "k")}}
        )
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=300,
            resources={"metadata": {"path": str(workdir)}},
            config=ipc,
        )
        return client.execute()


@dataclass
class Outputs:
    text: str
    tables: list[str]
    images: int


def _outputs(executed: NotebookNode) -> Outputs:
    """The printed text, HTML tables and number of images of an executed notebook, which
    must have raised no error."""
    outputs = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    return Outputs(
        "".join(out.get("text", "") for out in outputs),
        [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})],
        sum("image/png" in out.get("data", {}) for out in outputs),
    )


@pytest.mark.usefixtures("tiny_features")
def test_features_eda_notebook_runs_on_tiny_data(tmp_path, tiny: Simulated):
    params = Path(tiny.cfg.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("01_features_eda.ipynb", tmp_path, params_file=str(params)))
    assert "cutoffs;" in outputs.text and "labelled rows" in outputs.text
    assert outputs.images == 2


def test_model_review_notebook_runs_on_the_latest_training_run(tmp_path, trained: Config):
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("02_model_review.ipynb", tmp_path, params_file=str(params)))
    assert "test cutoff 2024-10-01" in outputs.text and "test rows, churn rate" in outputs.text
    assert any("logreg_rfm" in table and "oracle" in table for table in outputs.tables)
    assert outputs.images == 5


def test_explanations_notebook_runs_on_the_explain_stages_outputs(tmp_path, trained: Config):
    explain.run(trained)
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("03_explanations.ipynb", tmp_path, params_file=str(params)))
    assert "rows of cutoff 2024-10-01 explained" in outputs.text
    assert "raw log-odds" in outputs.text
    assert any("top_risk" in table and "most_frequent_guess" in table for table in outputs.tables)
    assert outputs.images == 5


def test_retention_lists_notebook_reviews_the_latest_lists(tmp_path, trained: Config):
    cfg = replace(trained, scoring=replace(trained.scoring, model_source="pipeline"))
    score.run(cfg)
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("04_retention_lists.ipynb", tmp_path, params_file=str(params)))
    assert "as of 2024-11-25:" in outputs.text and "(pipeline)" in outputs.text
    assert any("below_threshold" in table for table in outputs.tables)
    assert any("value_at_risk_listed" in table for table in outputs.tables)
    assert outputs.images == 1
