"""The floor plan: imports go one way, and dvc.yaml names every file a stage runs.

``lint-imports`` checks the import contracts in pyproject.toml. The dvc.yaml check is the
one DVC cannot do itself: a stage re-runs when a listed dependency changes, so a module
its code imports but dvc.yaml omits would leave stale outputs reported as up to date.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import yaml

from tests.support import REPO

PACKAGES = ("contract", "simulator", "features", "models", "scoring", "pipeline")
STAGE_COMMAND = "python -m pipeline."


def module_file(module: str) -> str:
    """The repository path of a module of ours: ``models.fit`` -> ``models/fit.py``."""
    path = module.replace(".", "/")
    return f"{path}/__init__.py" if (REPO / path).is_dir() else f"{path}.py"


def imported_files(graph: grimp.ImportGraph, module: str) -> set[str]:
    """The files of ``module`` and of every module of ours it imports, directly or not."""
    return {module_file(m) for m in {module, *graph.find_upstream_modules(module)}}


def missing_deps(stages: dict[str, dict], graph: grimp.ImportGraph) -> dict[str, list[str]]:
    """Per stage, the files its command imports that no entry of its ``deps`` covers (an
    entry covers itself and, when a folder, everything under it)."""
    missing = {}
    for name, stage in stages.items():
        module = stage["cmd"].removeprefix(STAGE_COMMAND).split()[0]
        deps = [dep.rstrip("/") for dep in stage.get("deps", []) if "${" not in dep]
        uncovered = sorted(
            path
            for path in imported_files(graph, f"pipeline.{module}")
            if not any(path == dep or path.startswith(f"{dep}/") for dep in deps)
        )
        if uncovered:
            missing[name] = uncovered
    return missing


def _stages() -> dict[str, dict]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert all(stage["cmd"].startswith(STAGE_COMMAND) for stage in stages.values())
    return stages


def test_imports_keep_the_layers():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_stage_lists_the_project_code_it_imports():
    graph = grimp.build_graph(*PACKAGES)
    assert missing_deps(_stages(), graph) == {}


def test_a_missing_dep_is_caught():
    graph = grimp.build_graph(*PACKAGES)
    stages = _stages()
    stages["train"]["deps"] = [dep for dep in stages["train"]["deps"] if dep != "models"]
    stages["validate"]["deps"].remove("pipeline/io.py")
    missing = missing_deps(stages, graph)
    assert set(missing) == {"train", "validate"}
    assert {"models/fit.py", "models/split.py", "models/estimators.py"} <= set(missing["train"])
    assert missing["validate"] == ["pipeline/io.py"]


def test_only_the_simulator_and_the_stages_know_the_ground_truth():
    """The contract, feature, model and scoring code never mention the truth folder."""
    logic = ("contract", "features", "models", "scoring")
    sources = [path for package in logic for path in REPO.glob(f"{package}/*.py")]
    assert sources
    assert [p.name for p in sources if "ground_truth" in p.read_text()] == []
