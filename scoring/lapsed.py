"""Lapsed customers: without a contract, and most likely gone already.

A prevention list of people who have already left wastes the retention budget and hides
the customers who can still be kept. A customer without a contract leaves silently, so
"gone" is a probability: BG/NBD's P(alive) (models/btyd.py) weighs the silence since the
last purchase against the customer's own purchase rhythm. Below
``scoring.lapsed.p_alive_below`` the customer is lapsed: excluded from prevention, and a
win-back candidate (scoring/selection.py, scoring/export.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features.columns import DEFINITION
from features.history import CustomerHistory
from models.btyd import MODELS, btyd_forecast


def p_alive(history: CustomerHistory, rows: pd.DataFrame, model: str) -> np.ndarray:
    """P(alive) of each (customer_id, cutoff) row's customer from BTYD model ``model``,
    fitted on the purchases before the cutoff; NaN for contractual rows (their contract
    says whether they are there) and for every row without a transactions table."""
    if model not in MODELS:
        raise ConfigError(f"scoring.lapsed.model: {model!r} is not one of {sorted(MODELS)}")
    non_contractual = (rows[DEFINITION] == "non_contractual").to_numpy()
    if not history.has("transactions") or not non_contractual.any():
        return np.full(len(rows), np.nan)
    purchases = history.events["transactions"][["customer_id", "timestamp"]]
    # The forecast's expected purchases (over the label horizon) are not used here.
    horizon_days = history.features.label.horizon_days
    alive = btyd_forecast(purchases, rows, horizon_days, model)["p_alive"].to_numpy()
    return np.where(non_contractual, alive, np.nan)


def lapsed(probability_alive: pd.Series, p_alive_below: float) -> pd.Series:
    """Whether each customer is lapsed: P(alive) known and below the threshold."""
    return probability_alive.lt(p_alive_below).fillna(False).astype(bool)
