"""Stated churn reasons (the contract's ``churn_reasons`` table) as the label of a cause
model: which documented cause each labelled row's customer said they left for.

A reason is stated at or after the churn it explains, so it is read only after the
cutoff, like the churn label, and never as a feature.
"""

from __future__ import annotations

import pandas as pd

from features.columns import KEYS


def stated_causes(rows: pd.DataFrame, reasons: pd.DataFrame, window_days: int) -> pd.Series:
    """Per row of ``rows`` (customer_id, cutoff), the ``cause`` of the first reason
    (``reasons``: customer_id, stated_at, cause) its customer stated in
    [cutoff, cutoff + ``window_days``): what they said about the churn the row's label
    looks at. NaN where they said nothing then. Indexed like ``rows``."""
    keys = rows[list(KEYS)].reset_index(drop=True).rename_axis("row").reset_index()
    said = keys.merge(reasons[["customer_id", "stated_at", "cause"]], on="customer_id")
    in_window = (said["stated_at"] >= said["cutoff"]) & (
        said["stated_at"] < said["cutoff"] + pd.Timedelta(days=window_days)
    )
    first = (
        said[in_window]
        .sort_values(["row", "stated_at", "cause"], kind="stable")
        .drop_duplicates("row")
        .set_index("row")["cause"]
    )
    return pd.Series(first.reindex(range(len(rows))).to_numpy(), index=rows.index, name="cause")
