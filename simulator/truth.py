"""The simulator's ground truth as the oracle and the fidelity check read it, and the
churn label it implies."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# The columns of the ground-truth tables (simulator/tables.py) that the checks read.
HAZARD_COLUMNS = ["customer_id", "cutoff", "stage", "hazard_total", "dominant_cause"]
CUSTOMER_COLUMNS = ["customer_id", "purchase_rate", "churn_time", "churn_cause"]


@dataclass(frozen=True)
class GroundTruth:
    """Per customer and cutoff, the true weekly hazard, stage and dominant cause
    (``hazards``); per customer, the true purchase rate, churn time and cause
    (``customers``)."""

    hazards: pd.DataFrame
    customers: pd.DataFrame


def true_churn(rows: pd.DataFrame, truth: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Whether each (customer_id, cutoff, churn_definition) row truly churned.

    Contractual: the true churn day falls in [cutoff, cutoff + horizon), as churn_date
    does (the cutoff is the instant that starts its day). Non-contractual: the customer is
    gone by the end of the horizon; that includes those who left silently before the
    cutoff but were still active by their purchases.
    """
    churn_time = (
        rows[["customer_id"]]
        .merge(truth[["customer_id", "churn_time"]], on="customer_id", how="left")["churn_time"]
        .to_numpy()
    )
    churn_time = pd.Series(churn_time, index=rows.index)
    horizon_end = rows["cutoff"] + pd.Timedelta(days=horizon_days)
    churn_day = churn_time.dt.normalize()
    contractual = (churn_day >= rows["cutoff"]) & (churn_day < horizon_end)
    gone = churn_time < horizon_end
    return contractual.where(rows["churn_definition"] == "contractual", gone)
