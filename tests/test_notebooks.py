"""The notebooks run headless, top to bottom, on small data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from traitlets.config import Config as TraitletsConfig

from pipeline import explain
from pipeline.config import Config

from .conftest import REPO, Simulated


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


@pytest.mark.usefixtures("tiny_features")
def test_features_eda_notebook_runs_on_tiny_data(tmp_path, tiny: Simulated):
    params = Path(tiny.cfg.paths.features_dir).parent / "params.yaml"
    executed = run_notebook("01_features_eda.ipynb", tmp_path, params_file=str(params))
    outputs = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs)
    assert "cutoffs;" in text and "labelled rows" in text
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 2


def test_model_review_notebook_runs_on_the_latest_training_run(tmp_path, trained: Config):
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    executed = run_notebook("02_model_review.ipynb", tmp_path, params_file=str(params))
    outputs = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs)
    assert "test cutoff 2024-10-01" in text and "test rows, churn rate" in text
    tables = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("logreg_rfm" in table and "oracle" in table for table in tables)
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 5


def test_explanations_notebook_runs_on_the_explain_stages_outputs(tmp_path, trained: Config):
    explain.run(trained)
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    executed = run_notebook("03_explanations.ipynb", tmp_path, params_file=str(params))
    outputs = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs)
    assert "rows of cutoff 2024-10-01 explained" in text and "raw log-odds" in text
    tables = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("top_risk" in table and "most_frequent_guess" in table for table in tables)
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 5
