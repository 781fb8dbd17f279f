"""Price sensitivity: how much of the customer's spending relies on discounts."""

from __future__ import annotations

import ibis.expr.types as ir

from features import events as ev
from features.config import FeaturesConfig
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    long = history.features.long_window_days
    return {
        f"discount_share_{long}d": f"discounts received per unit paid over the last {long} days",
        f"promo_purchase_share_{long}d": f"share of the last {long} days' purchases made with a "
        "discount",
    }


def lookback_days(cfg: FeaturesConfig) -> int:
    return cfg.long_window_days


def aggregate(history: CustomerHistory, tx: ir.Table) -> ev.Aggregates:
    long = history.features.long_window_days
    in_long = ev.within(tx, long)
    return ev.Aggregates(
        {
            f"n_{long}": ev.count(tx, in_long),
            f"promo_purchases_{long}": ev.count(tx, in_long & (tx.discount > 0)),
            f"discount_{long}": ev.total(tx.discount, in_long),
            f"amount_{long}": ev.total(tx.amount, in_long),
        }
    )


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    long = history.features.long_window_days
    return {
        f"discount_share_{long}d": ev.ratio(a[f"discount_{long}"], a[f"amount_{long}"]),
        f"promo_purchase_share_{long}d": ev.ratio(a[f"promo_purchases_{long}"], a[f"n_{long}"]),
    }
