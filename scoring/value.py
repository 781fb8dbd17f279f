"""Customer value at a cutoff: the margin a customer has brought and is expected to bring.

Point in time like every feature: only purchases and payments before the cutoff count.
Customer value is not a model input; scoring uses it to set value tiers and the expected
value of a retention action (conf/scoring, ``value``).

- A purchase earns ``gross_margin`` of its list price (amount + discount) minus the
  discount: heavy discounts can make it loss-making.
- A returned purchase costs ``return_cost`` of its amount.
- A subscription payment, once paid, earns ``subscription_margin`` of its amount.
- Without amounts, a purchase earns ``margin_per_purchase``; with ``attribute``, the value
  is a customer column the business provides (snapshot data without transactions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features import events as ev
from features.history import CustomerHistory
from scoring.config import ValueConfig

COLUMNS = ("historical_margin", "future_value", "customer_value")


def customer_value(
    history: CustomerHistory, cutoff: pd.Timestamp, cfg: ValueConfig
) -> pd.DataFrame:
    """Per customer (customers order): ``historical_margin`` over ``history_days``,
    ``future_value`` (the margin of the last ``run_rate_days`` projected over
    ``horizon_days``) and their weighted sum ``customer_value``; or, with
    ``cfg.attribute``, that customer attribute as the value (the other two empty)."""
    if cfg.attribute is not None:
        return _declared_value(history, cfg.attribute)
    historical = _margin(history, cutoff, cfg.history_days, cfg)
    future = _margin(history, cutoff, cfg.run_rate_days, cfg) * (
        cfg.horizon_days / cfg.run_rate_days
    )
    value = cfg.weights.historical * historical + cfg.weights.future * future
    return pd.DataFrame(dict(zip(COLUMNS, (historical, future, value), strict=True)))


def _declared_value(history: CustomerHistory, attribute: str) -> pd.DataFrame:
    kind = history.data.extra_customer_columns.get(attribute)
    if kind != "numeric":
        raise ConfigError(
            f"scoring.value.attribute: {attribute!r} must be a numeric column of "
            f"data.extra_customer_columns (it is {kind or 'not declared'})"
        )
    value = history.customers[attribute].to_numpy(dtype=float, na_value=np.nan)
    empty = np.full(len(value), np.nan)
    return pd.DataFrame(dict(zip(COLUMNS, (empty, empty, value), strict=True)))


def _margin(
    history: CustomerHistory, cutoff: pd.Timestamp, days: int, cfg: ValueConfig
) -> np.ndarray:
    """Margin per customer from the events of the ``days`` before the cutoff."""
    n = history.n_customers
    if not history.has("transactions"):
        raise ConfigError(
            "scoring.value: no transactions to value customers from; set "
            "scoring.value.attribute to a numeric customer column holding their value"
        )
    tx = history.events["transactions"]
    margin = ev.total(tx, _purchase_margin(tx, cfg), ev.in_window(tx["timestamp"], cutoff, days), n)
    if history.has("payments.amount") and history.has("payments.paid_date"):
        payments = history.events["payments"]
        paid = ev.in_window(payments["paid_date"], cutoff, days)
        margin += cfg.subscription_margin * ev.total(payments, payments["amount"], paid, n)
    return margin


def _purchase_margin(tx: pd.DataFrame, cfg: ValueConfig) -> np.ndarray:
    """Each purchase's margin. Without amounts, ``margin_per_purchase`` (a figure the
    business gives, never a guess); without discounts or returns, none were given."""
    if "amount" not in tx:
        if cfg.margin_per_purchase is None:
            raise ConfigError(
                "scoring.value.margin_per_purchase: transactions have no amount, so customer "
                "value counts purchases; set it to the average margin of one purchase (in the "
                "currency of the playbook's costs)"
            )
        return np.full(len(tx), cfg.margin_per_purchase)
    amount = tx["amount"].to_numpy(float)
    discount = tx["discount"].to_numpy(float) if "discount" in tx else np.zeros(len(tx))
    margin = cfg.gross_margin * (amount + discount) - discount
    if "is_return" in tx:
        margin = np.where(tx["is_return"].to_numpy(bool), -cfg.return_cost * amount, margin)
    return margin
