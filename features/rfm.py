"""RFM: recency, frequency and monetary value, their trends and purchase regularity.

Monetary features need transactions.amount; without it (a log of purchase times) the
family is recency, frequency and regularity. Returned purchases (transactions.is_return)
count as purchases but not as spend; without the column every purchase is spend.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    long = cfg.long_window_days
    monetary = history.has("transactions.amount")
    return {
        "recency_days": "days since the last purchase (NaN: never bought)",
        **{f"purchases_{w}d": f"purchases in the last {w} days" for w in cfg.windows_days},
        **{
            f"spend_{w}d": f"amount paid in the last {w} days, returned purchases excluded"
            for w in cfg.windows_days
            if monetary
        },
        **(
            {f"avg_basket_{long}d": f"mean amount per purchase over the last {long} days"}
            if monetary
            else {}
        ),
        **{
            f"trend_{what}_{w}d": f"{what} in the last {w} days against the {w} days before: "
            "(recent - previous) / (recent + previous), -1 = stopped"
            for w in cfg.trend_windows_days
            for what in ("purchases", "spend")
            if monetary or what == "purchases"
        },
        f"interpurchase_days_mean_{long}d": f"mean days between purchases over {long} days",
        f"interpurchase_days_cv_{long}d": "regularity: coefficient of variation of the days "
        "between purchases (needs two gaps)",
        "overdue_ratio": "days since the last purchase divided by the mean inter-purchase time",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    cfg = history.features
    tx = history.events["transactions"]
    n = history.n_customers
    long = cfg.long_window_days
    monetary = history.has("transactions.amount")
    if monetary:
        spend = tx["amount"].where(~tx["is_return"], 0.0) if "is_return" in tx else tx["amount"]

    # Cached: windows, averages and trends ask for the same window more than once.
    @cache
    def purchases(days: int, shift: int = 0) -> np.ndarray:
        return ev.count(tx, ev.in_window(tx["timestamp"], cutoff - shift * ev.DAY, days), n)

    @cache
    def amount(days: int, shift: int = 0) -> np.ndarray:
        mask = ev.in_window(tx["timestamp"], cutoff - shift * ev.DAY, days)
        return ev.total(tx, spend, mask, n)

    recency = ev.days_since_last(tx, "timestamp", cutoff, n)

    # A gap counts when both of its purchases fall inside the long window.
    gap_mask = (
        ev.in_window(tx["timestamp"], cutoff, long)
        & (tx["previous_timestamp"] >= cutoff - long * ev.DAY).to_numpy()
    )
    gaps = ((tx["timestamp"] - tx["previous_timestamp"]) / ev.DAY).to_numpy(
        dtype=float, na_value=0.0
    )
    n_gaps = ev.count(tx, gap_mask, n)
    gap_mean = ev.ratio(ev.total(tx, gaps, gap_mask, n), n_gaps)
    gap_square_mean = ev.ratio(ev.total(tx, gaps**2, gap_mask, n), n_gaps)
    gap_sd = np.sqrt(np.maximum(gap_square_mean - gap_mean**2, 0.0))

    columns = {"recency_days": recency}
    columns |= {f"purchases_{w}d": purchases(w) for w in cfg.windows_days}
    if monetary:
        columns |= {f"spend_{w}d": amount(w) for w in cfg.windows_days}
        columns[f"avg_basket_{long}d"] = ev.ratio(amount(long), purchases(long))
    for w in cfg.trend_windows_days:
        columns[f"trend_purchases_{w}d"] = ev.trend(purchases(w), purchases(w, shift=w))
        if monetary:
            columns[f"trend_spend_{w}d"] = ev.trend(amount(w), amount(w, shift=w))
    columns[f"interpurchase_days_mean_{long}d"] = gap_mean
    columns[f"interpurchase_days_cv_{long}d"] = np.where(
        n_gaps >= 2, ev.ratio(gap_sd, gap_mean), np.nan
    )
    columns["overdue_ratio"] = ev.ratio(recency, gap_mean)
    return pd.DataFrame(columns)
