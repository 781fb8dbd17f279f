"""Access to the simulator's ground truth, and the churn label it implies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config import Config


def simulated_truth_dir(cfg: Config) -> Path | None:
    """The folder of the simulator's truth, when the pipeline reads the simulator's own
    output; None for other data, which have no ground truth."""
    truth_dir = Path(cfg.paths.ground_truth_dir)
    if cfg.data.dir != cfg.paths.raw_dir or not (truth_dir / "hazards.parquet").exists():
        return None
    return truth_dir


def true_churn(rows: pd.DataFrame, truth: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Whether each (customer_id, cutoff, churn_definition) row truly churned.

    Contractual: the true churn day falls in (cutoff, cutoff + horizon], as churn_date
    does. Non-contractual: the customer is gone by the end of the horizon; that includes
    those who left silently before the cutoff but were still active by their purchases.
    """
    churn_time = (
        rows[["customer_id"]]
        .merge(truth[["customer_id", "churn_time"]], on="customer_id", how="left")["churn_time"]
        .to_numpy()
    )
    churn_time = pd.Series(churn_time, index=rows.index)
    horizon_end = rows["cutoff"] + pd.Timedelta(days=horizon_days)
    churn_day = churn_time.dt.normalize()
    contractual = (churn_day > rows["cutoff"]) & (churn_day <= horizon_end)
    gone = churn_time < horizon_end
    return contractual.where(rows["churn_definition"] == "contractual", gone)
