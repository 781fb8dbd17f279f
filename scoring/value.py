"""Customer value at a cutoff: the margin a customer has brought and is expected to bring.

Point in time like every feature: only purchases and payments before the cutoff count.
Customer value is not a model input; scoring uses it to set value tiers and the expected
value of a retention action (conf/scoring, ``value``).

- A purchase earns ``gross_margin`` of its list price (amount + discount) minus the
  discount: heavy discounts can make it loss-making.
- A returned purchase costs ``return_cost`` of its amount.
- A subscription payment, once paid, earns ``subscription_margin`` of its amount.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import events as ev
from features.history import CustomerHistory
from scoring.config import ValueConfig

COLUMNS = ("historical_margin", "future_value", "customer_value")


def customer_value(
    history: CustomerHistory, cutoff: pd.Timestamp, cfg: ValueConfig
) -> pd.DataFrame:
    """Per customer (customers order): ``historical_margin`` over ``history_days``,
    ``future_value`` (the margin of the last ``run_rate_days`` projected over
    ``horizon_days``) and their weighted sum ``customer_value``."""
    historical = _margin(history, cutoff, cfg.history_days, cfg)
    future = _margin(history, cutoff, cfg.run_rate_days, cfg) * (
        cfg.horizon_days / cfg.run_rate_days
    )
    value = cfg.weights.historical * historical + cfg.weights.future * future
    return pd.DataFrame(dict(zip(COLUMNS, (historical, future, value), strict=True)))


def _margin(
    history: CustomerHistory, cutoff: pd.Timestamp, days: int, cfg: ValueConfig
) -> np.ndarray:
    """Margin per customer from the events of the ``days`` before the cutoff."""
    n = history.n_customers
    tx = history.events["transactions"]
    amount, discount = tx["amount"].to_numpy(float), tx["discount"].to_numpy(float)
    per_purchase = np.where(
        tx["is_return"].to_numpy(bool),
        -cfg.return_cost * amount,
        cfg.gross_margin * (amount + discount) - discount,
    )
    margin = ev.total(tx, per_purchase, ev.in_window(tx["timestamp"], cutoff, days), n)
    if history.has("payments"):
        payments = history.events["payments"]
        paid = ev.in_window(payments["paid_date"], cutoff, days)
        margin += cfg.subscription_margin * ev.total(payments, payments["amount"], paid, n)
    return margin
