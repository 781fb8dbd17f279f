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

import ibis
import ibis.expr.types as ir
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
    """Per customer (``customer_id`` and a column each, ordered by customer_id):
    ``historical_margin`` over ``history_days``, ``future_value`` over ``horizon_days``
    and their weighted sum ``customer_value``; or, with ``cfg.attribute``, that customer
    attribute as the value (the other two empty). ``outlook`` (scoring/outlook.py, over
    ``horizon_days``, indexed by customer_id) is needed for ``future: btyd``."""
    if cfg.attribute is not None:
        return _declared_value(history, cfg.attribute)
    if not history.has("transactions"):
        raise ConfigError(
            "scoring.value: no transactions to value customers from; set "
            "scoring.value.attribute to a numeric customer column holding their value"
        )
    sums = _margin_sums(history, cutoff, cfg)
    projected = cfg.horizon_days / cfg.run_rate_days
    historical = sums["purchases_history"] + sums["subscriptions_history"]
    future = sums["subscriptions_run_rate"] * projected
    if cfg.future == "btyd":
        if outlook is None:
            raise ValueError("scoring.value.future=btyd values purchases from a purchase outlook")
        aligned = outlook.reindex(sums["customer_id"].to_numpy())
        purchases = aligned["purchases_if_alive"].to_numpy()
        with_amounts = history.has("transactions.amount")
        future += purchases * _margin_per_purchase(sums, cfg, aligned, with_amounts)
    else:
        future += sums["purchases_run_rate"] * projected
    value = cfg.weights.historical * historical + cfg.weights.future * future
    columns = dict(zip(COLUMNS, (historical, future, value), strict=True))
    return pd.DataFrame({"customer_id": sums["customer_id"], **columns})


def _declared_value(history: CustomerHistory, attribute: str) -> pd.DataFrame:
    kind = history.data.extra_customer_columns.get(attribute)
    if kind != "numeric":
        raise ConfigError(
            f"scoring.value.attribute: {attribute!r} must be a numeric column of "
            f"data.extra_customer_columns (it is {kind or 'not declared'})"
        )
    customers = history.customers
    frame = (
        customers.select("customer_id", value=customers[attribute].cast("float64"))
        .order_by("customer_id")
        .to_pandas()
    )
    empty = np.full(len(frame), np.nan)
    columns = dict(zip(COLUMNS, (empty, empty, frame["value"].to_numpy()), strict=True))
    return pd.DataFrame({"customer_id": frame["customer_id"], **columns})


def _margin_sums(history: CustomerHistory, cutoff: pd.Timestamp, cfg: ValueConfig) -> pd.DataFrame:
    """Per customer: the margin of purchases over ``history_days`` and ``run_rate_days``
    before the cutoff, of all purchases before it and their amount, and the margin of
    subscriptions paid over both windows (one query)."""
    at = ev.cutoff_table([cutoff])
    keys = history.at(at)
    tx = ev.before_cutoffs(history.events["transactions"], "timestamp", at)

    def margin(where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
        if "amount" not in tx.columns:
            return ev.count(tx, where) * _flat_margin(cfg)
        return ev.total(_purchase_margin(tx, cfg), where)

    purchases = {
        "purchases_history": margin(ev.in_window(tx.timestamp, tx.cutoff, cfg.history_days)),
        "purchases_run_rate": margin(ev.in_window(tx.timestamp, tx.cutoff, cfg.run_rate_days)),
    }
    if "amount" in tx.columns:
        purchases |= {"margin_before": margin(), "amount_before": ev.total(tx.amount)}
    table = ev.per_customer(keys, tx, purchases)
    paid = {"subscriptions_history": cfg.history_days, "subscriptions_run_rate": cfg.run_rate_days}
    if history.has("payments.amount") and history.has("payments.paid_date"):
        payments = ev.before_cutoffs(history.events["payments"], "paid_date", at)
        subscriptions = {
            name: cfg.subscription_margin
            * ev.total(payments.amount, ev.in_window(payments.paid_date, payments.cutoff, days))
            for name, days in paid.items()
        }
        table = table.inner_join(ev.per_customer(keys, payments, subscriptions), list(ev.KEYS))
    else:
        table = table.mutate(**{name: ibis.literal(0.0) for name in paid})
    return table.order_by("customer_id").to_pandas()


def _margin_per_purchase(
    sums: pd.DataFrame, cfg: ValueConfig, outlook: pd.DataFrame, with_amounts: bool
) -> np.ndarray:
    """The margin to expect of each customer's next purchase: ``margin_per_purchase``
    without amounts; else the outlook's expected amount (Gamma-Gamma) times the customer's
    margin per amount over their purchases so far (everyone's, for a customer without
    any)."""
    if not with_amounts:
        return np.full(len(sums), _flat_margin(cfg))
    amount = sums["amount_before"].to_numpy(float)
    margin = sums["margin_before"].to_numpy(float)
    pooled = margin.sum() / amount.sum() if amount.sum() > 0 else cfg.gross_margin
    rate = np.divide(margin, amount, out=np.full(len(sums), pooled), where=amount > 0)
    return outlook["expected_spend"].to_numpy() * rate


def _purchase_margin(tx: ir.Table, cfg: ValueConfig) -> ir.FloatingValue:
    """Each purchase's margin (transactions with amounts); without discounts or returns,
    none were given."""
    amount = tx.amount.cast("float64")
    discount = tx.discount.cast("float64") if "discount" in tx.columns else ibis.literal(0.0)
    margin = cfg.gross_margin * (amount + discount) - discount
    if "is_return" in tx.columns:
        margin = ibis.ifelse(tx.is_return, -cfg.return_cost * amount, margin)
    return margin


def _flat_margin(cfg: ValueConfig) -> float:
    """The margin of any purchase where transactions have no amounts:
    ``margin_per_purchase``, a figure the business gives, never a guess."""
    if cfg.margin_per_purchase is None:
        raise ConfigError(
            "scoring.value.margin_per_purchase: transactions have no amount, so customer "
            "value counts purchases; set it to the average margin of one purchase (in the "
            "currency of the playbook's costs)"
        )
    return cfg.margin_per_purchase
