"""The churn label the simulator's ground truth implies, for checking the features' labels."""

from __future__ import annotations

import pandas as pd


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
