"""The name of every file the stages write inside their output folders, in one place.

The folders and the report files are config (conf/paths, reached by dvc.yaml through
``${paths.*}``); the files inside the folders are named here, and stages, notebooks and
benchmarks reach them through these names.
"""

from __future__ import annotations

from pathlib import Path

from contract.config import DataConfig

# generate -> paths.ground_truth_dir (raw tables are named by data.tables)
TRUTH_CUSTOMERS = "customers.parquet"
TRUTH_HAZARDS = "hazards.parquet"
CALIBRATION = "calibration.json"

# featurize -> paths.features_dir
FEATURES = "features.parquet"
CATALOGUE = "catalogue.json"

# btyd -> paths.btyd_dir
BTYD_FORECAST = "forecast.parquet"

# train -> paths.models_dir
MODEL_DIR = "model"
PREDICTIONS = "predictions.parquet"
RUN_RECORD = "run.json"
DRIFT_REFERENCE = "drift_reference.json"
CAUSE_MODEL = "cause_model.json"  # only where the data have stated churn reasons

# explain -> paths.explanations_dir
SHAP_VALUES = "shap_values.parquet"
CAUSES = "causes.parquet"
EXPLAINED_CUSTOMERS = "customers.parquet"

# score -> paths.retention_dir/<as_of>/
LISTS_DIR = "lists"
EXCLUDED = "excluded"
WIN_BACK = "win_back"
DRIFT_REPORT = "drift.csv"
MANIFEST = "manifest.json"
COLUMNS = "columns.csv"  # what every column of the exported tables means


def refused_drift_report(retention_dir: str | Path, as_of: str) -> Path:
    """Where a scoring run refused for drift writes its report, next to the dated folders."""
    return Path(retention_dir) / f"{as_of}-refused-drift.csv"


def ground_truth_dir(ground_truth: str | Path, data: DataConfig) -> Path | None:
    """The simulator's truth folder when the data is the simulator's (``data.simulated``)
    and its truth has been written; None for other data, which have no ground truth."""
    truth_dir = Path(ground_truth)
    if not data.simulated or not (truth_dir / TRUTH_HAZARDS).exists():
        return None
    return truth_dir
