"""Price sensitivity: how much of the customer's spending relies on discounts."""

from __future__ import annotations

import ibis.expr.types as ir

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    long = history.features.long_window_days
    return {
        f"discount_share_{long}d": f"discounts received per unit paid over the last {long} days",
        f"promo_purchase_share_{long}d": f"share of the last {long} days' purchases made with a "
        "discount",
    }


def compute(history: CustomerHistory, cutoffs: ir.Table) -> ir.Table:
    long = history.features.long_window_days
    tx = ev.before_cutoffs(history.events["transactions"], "timestamp", cutoffs, long)
    a = ev.per_customer(
        history.at(cutoffs),
        tx,
        {
            "purchases": ev.count(tx),
            "promo_purchases": ev.count(tx, tx.discount > 0),
            "discount": ev.total(tx.discount),
            "amount": ev.total(tx.amount),
        },
    )
    return a.select(
        *ev.KEYS,
        **{
            f"discount_share_{long}d": ev.ratio(a.discount, a.amount),
            f"promo_purchase_share_{long}d": ev.ratio(a.promo_purchases, a.purchases),
        },
    )
