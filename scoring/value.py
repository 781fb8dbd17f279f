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

The future value is what the customer brings over ``horizon_days`` if they stay (the churn
probability weighs in the chance that they do not). ``future: btyd``: the purchases a BTYD
model expects of a customer still there (scoring/outlook.py) times the margin of one
purchase, the Gamma-Gamma model's expected amount (models/btyd.py) times the customer's
own margin per amount so far; ``run_rate``: the margin of the last ``run_rate_days``
projected. Subscriptions are projected from their last ``run_rate_days`` either way.
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
    history: CustomerHistory,
    cutoff: pd.Timestamp,
    cfg: ValueConfig,
    outlook: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per customer (customers order): ``historical_margin`` over ``history_days``,
    ``future_value`` over ``horizon_days`` and their weighted sum ``customer_value``; or,
    with ``cfg.attribute``, that customer attribute as the value (the other two empty).
    ``outlook`` (scoring/outlook.py, over ``horizon_days``) is needed for ``future: btyd``."""
    if cfg.attribute is not None:
        return _declared_value(history, cfg.attribute)
    if not history.has("transactions"):
        raise ConfigError(
            "scoring.value: no transactions to value customers from; set "
            "scoring.value.attribute to a numeric customer column holding their value"
        )
    historical = _purchases_margin(history, cutoff, cfg.history_days, cfg) + _subscriptions_margin(
        history, cutoff, cfg.history_days, cfg
    )
    projected = cfg.horizon_days / cfg.run_rate_days
    future = _subscriptions_margin(history, cutoff, cfg.run_rate_days, cfg) * projected
    if cfg.future == "btyd":
        if outlook is None:
            raise ValueError("scoring.value.future=btyd values purchases from a purchase outlook")
        purchases = outlook["purchases_if_alive"].to_numpy()
        future += purchases * _margin_per_purchase(history, cutoff, cfg, outlook)
    else:
        future += _purchases_margin(history, cutoff, cfg.run_rate_days, cfg) * projected
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


def _purchases_margin(
    history: CustomerHistory, cutoff: pd.Timestamp, days: int, cfg: ValueConfig
) -> np.ndarray:
    """Margin of the purchases of the ``days`` before the cutoff, per customer."""
    tx = history.events["transactions"]
    window = ev.in_window(tx["timestamp"], cutoff, days)
    return ev.total(tx, _purchase_margin(tx, cfg), window, history.n_customers)


def _subscriptions_margin(
    history: CustomerHistory, cutoff: pd.Timestamp, days: int, cfg: ValueConfig
) -> np.ndarray:
    """Margin of the subscription payments paid in the ``days`` before the cutoff."""
    if not (history.has("payments.amount") and history.has("payments.paid_date")):
        return np.zeros(history.n_customers)
    payments = history.events["payments"]
    paid = ev.in_window(payments["paid_date"], cutoff, days)
    return cfg.subscription_margin * ev.total(
        payments, payments["amount"], paid, history.n_customers
    )


def _margin_per_purchase(
    history: CustomerHistory, cutoff: pd.Timestamp, cfg: ValueConfig, outlook: pd.DataFrame
) -> np.ndarray:
    """The margin to expect of each customer's next purchase: ``margin_per_purchase``
    without amounts; else the outlook's expected amount (Gamma-Gamma) times the customer's
    margin per amount over their purchases so far (everyone's, for a customer without
    any)."""
    tx = history.events["transactions"]
    if "amount" not in tx:
        return np.full(history.n_customers, _flat_margin(cfg))
    before, n = ev.in_window(tx["timestamp"], cutoff), history.n_customers
    margin = ev.total(tx, _purchase_margin(tx, cfg), before, n)
    amount = ev.total(tx, tx["amount"], before, n)
    pooled = margin.sum() / amount.sum() if amount.sum() > 0 else cfg.gross_margin
    rate = np.divide(margin, amount, out=np.full(n, pooled), where=amount > 0)
    return outlook["expected_spend"].to_numpy() * rate


def _purchase_margin(tx: pd.DataFrame, cfg: ValueConfig) -> np.ndarray:
    """Each purchase's margin. Without amounts, ``margin_per_purchase`` (a figure the
    business gives, never a guess); without discounts or returns, none were given."""
    if "amount" not in tx:
        return np.full(len(tx), _flat_margin(cfg))
    amount = tx["amount"].to_numpy(float)
    discount = tx["discount"].to_numpy(float) if "discount" in tx else np.zeros(len(tx))
    margin = cfg.gross_margin * (amount + discount) - discount
    if "is_return" in tx:
        margin = np.where(tx["is_return"].to_numpy(bool), -cfg.return_cost * amount, margin)
    return margin


def _flat_margin(cfg: ValueConfig) -> float:
    """The margin of any purchase where transactions have no amounts."""
    if cfg.margin_per_purchase is None:
        raise ConfigError(
            "scoring.value.margin_per_purchase: transactions have no amount, so customer "
            "value counts purchases; set it to the average margin of one purchase (in the "
            "currency of the playbook's costs)"
        )
    return cfg.margin_per_purchase
