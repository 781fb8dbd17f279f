"""Product quality seen in purchases: returned or refunded purchases."""

from __future__ import annotations

import pandas as pd

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    long = cfg.long_window_days
    return {
        **{
            f"returns_{w}d": f"purchases in the last {w} days that were returned or refunded"
            for w in cfg.windows_days
        },
        f"return_rate_{long}d": f"share of the last {long} days' purchases returned or refunded",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    cfg = history.features
    tx = history.events["transactions"]
    n = history.n_customers
    returned = tx["is_return"].to_numpy()
    columns = {
        f"returns_{w}d": ev.count(tx, ev.in_window(tx["timestamp"], cutoff, w) & returned, n)
        for w in cfg.windows_days
    }
    long = cfg.long_window_days
    in_long = ev.in_window(tx["timestamp"], cutoff, long)
    columns[f"return_rate_{long}d"] = ev.ratio(
        ev.count(tx, in_long & returned, n), ev.count(tx, in_long, n)
    )
    return pd.DataFrame(columns)
