"""Test helpers: the real conf/ composed into tmp_path, simulated data sets, output checks."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from contract.tables import TABLES
from pipeline import featurize, generate, validate
from pipeline.artifacts import CATALOGUE, FEATURES, TRUTH_CUSTOMERS, TRUTH_HAZARDS
from pipeline.config import Config, PathsConfig, load_config
from pipeline.params import compose_params, write_params

REPO = Path(__file__).resolve().parents[1]

# A small simulation that still exercises every mechanism: ~1 year, 3 blocks.
TINY = (
    "simulator.n_customers=600",
    "simulator.start_date=2023-10-02",
    "simulator.n_weeks=60",
    "simulator.block_size=250",
    "simulator.churn.calibration_customers=800",
    "simulator.churn.calibration_rounds=3",
    # The data end on 2024-11-25: with the 90-day horizon and a 30-day confirmation, the
    # last three cutoffs have no label (censored).
    "data.cutoffs.start=2024-03-01",
    "data.cutoffs.end=2024-10-01",
    "features.label.confirmation_days=30",
    "features.cutoffs=all",  # too few for a split; every cutoff, labelled or not
)


# On top of TINY, enough for the train stage: a 30-day label horizon and a 15-day
# confirmation leave four training cutoffs (03-01 to 06-01), a validation (08-01) and a
# test cutoff (10-01) before the data end, and 3,000 customers give each part enough
# churners. Fewer trees keep it quick. The first training cutoff has only five months of
# history, so features bounded by it (days since the last survey) drift from those at the
# data's end by construction: scoring refuses only above PSI 0.5 here. Featurize computes
# only those six cutoffs, as by default.
TRAINABLE_DATA = (
    "simulator.n_customers=3000",
    "features.cutoffs=split",
    "features.label.horizon_days=30",
    "features.label.confirmation_days=15",
    "scoring.drift.refuse_psi=0.5",
)
# The cause model (stated reasons, models/cause_model.py) needs fewer reasons than default.
TRAINABLE = (
    *TRAINABLE_DATA,
    "model.params.n_estimators=300",
    "explain.cause_model.min_reasons=50",
)


def compose_config(workdir: Path, *overrides: str) -> Config:
    """The repository's conf/ with every output path and the MLflow store inside ``workdir``."""
    paths = [
        f"paths.simulated_dir={workdir}/simulated",
        f"paths.ground_truth_dir={workdir}/ground_truth",
        f"paths.validated_dir={workdir}/validated",
        f"paths.features_dir={workdir}/features",
        f"paths.btyd_dir={workdir}/btyd",
        f"paths.reports_dir={workdir}/reports",
        f"paths.models_dir={workdir}/models",
        f"paths.explanations_dir={workdir}/explanations",
        f"paths.retention_dir={workdir}/retention",
        "paths.allow_outside_repository=true",
        f"tracking.tracking_uri=sqlite:///{workdir}/mlruns/mlflow.db",
    ]
    params = workdir / "params.yaml"
    write_params(params, compose_params(REPO / "conf", [*paths, *overrides]))
    return load_config(params)


def outputs_in(paths: PathsConfig, folder: Path, stage: str) -> PathsConfig:
    """``paths`` with the outputs and reports of ``stage`` (train, explain) in ``folder``."""
    reports = folder / "reports"
    moved = {
        "train": {
            "models_dir": folder / "models",
            "train_report": reports / "train.json",
            "train_plots": reports / "train",
        },
        "explain": {
            "explanations_dir": folder / "explanations",
            "explain_report": reports / "explain.json",
            "explain_plots": reports / "explain",
        },
    }[stage]
    return replace(paths, **{key: str(path) for key, path in moved.items()})


@dataclass
class Simulated:
    cfg: Config
    raw: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    hazards: pd.DataFrame


def simulate(workdir: Path, *overrides: str) -> Simulated:
    cfg = compose_config(workdir, *overrides)
    generate.run(cfg)
    raw = {
        name: pd.read_parquet(Path(cfg.paths.simulated_dir) / f"{name}.parquet") for name in TABLES
    }
    truth_dir = Path(cfg.paths.ground_truth_dir)
    return Simulated(
        cfg,
        raw,
        pd.read_parquet(truth_dir / TRUTH_CUSTOMERS),
        pd.read_parquet(truth_dir / TRUTH_HAZARDS),
    )


def featurize_simulated(sim: Simulated) -> tuple[pd.DataFrame, list[dict], dict]:
    """Run validate and featurize on simulated data: the table, catalogue and report."""
    validate.run(sim.cfg)
    featurize.run(sim.cfg)
    out = Path(sim.cfg.paths.features_dir)
    report = json.loads(Path(sim.cfg.paths.features_report).read_text())
    catalogue = json.loads((out / CATALOGUE).read_text())
    return pd.read_parquet(out / FEATURES), catalogue, report


def files_in(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> bytes), to compare outputs."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def tracking_server_down(*args: object) -> None:
    """Stands in for ``use_tracking_store`` when the tracking server cannot be reached."""
    raise ConnectionError("tracking server unreachable")


def free_port() -> int:
    """A TCP port of the loopback interface nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
