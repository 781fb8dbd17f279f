"""Lapsed customers: without a contract, and most likely gone already.

A prevention list of people who have already left wastes the retention budget and hides
the customers who can still be kept. A customer without a contract leaves silently, so
"gone" is a probability: a BTYD model's P(alive) (scoring/outlook.py) weighs the silence
since the last purchase against the customer's own purchase rhythm. Below
``scoring.lapsed.p_alive_below`` the customer is lapsed: excluded from prevention, and a
win-back candidate (scoring/selection.py, scoring/export.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.columns import DEFINITION


def p_alive(outlook: pd.DataFrame | None, rows: pd.DataFrame) -> np.ndarray:
    """P(alive) of each row's customer from ``outlook`` (scoring/outlook.py); NaN for
    contractual rows (their contract says whether they are there) and for every row
    without an outlook (no transactions table)."""
    if outlook is None:
        return np.full(len(rows), np.nan)
    by_row = outlook["p_alive"].reindex(rows["customer_id"].to_numpy()).to_numpy()
    return np.where((rows[DEFINITION] == "non_contractual").to_numpy(), by_row, np.nan)


def lapsed(probability_alive: pd.Series, p_alive_below: float) -> pd.Series:
    """Whether each customer is lapsed: P(alive) known and below the threshold."""
    return probability_alive.lt(p_alive_below).fillna(False).astype(bool)
