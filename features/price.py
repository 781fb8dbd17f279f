"""Price sensitivity: how much of the customer's spending relies on discounts."""

from __future__ import annotations

import pandas as pd

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    long = history.features.long_window_days
    return {
        f"discount_share_{long}d": f"discounts received per unit paid over the last {long} days",
        f"promo_purchase_share_{long}d": f"share of the last {long} days' purchases made with a "
        "discount",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    tx = history.events["transactions"]
    n = history.n_customers
    long = history.features.long_window_days
    in_long = ev.in_window(tx["timestamp"], cutoff, long)
    purchases = ev.count(tx, in_long, n)
    return pd.DataFrame(
        {
            f"discount_share_{long}d": ev.ratio(
                ev.total(tx, tx["discount"], in_long, n), ev.total(tx, tx["amount"], in_long, n)
            ),
            f"promo_purchase_share_{long}d": ev.ratio(
                ev.count(tx, in_long & (tx["discount"] > 0).to_numpy(), n), purchases
            ),
        }
    )
