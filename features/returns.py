"""Product quality seen in purchases: returned or refunded purchases."""

from __future__ import annotations

import ibis.expr.types as ir

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


def compute(history: CustomerHistory, cutoffs: ir.Table) -> ir.Table:
    cfg = history.features
    long = cfg.long_window_days
    tx = history.events["transactions"]
    tx = ev.before_cutoffs(tx, "timestamp", cutoffs, max(cfg.windows_days))
    sums = {
        f"returns_{w}d": ev.count(tx, ev.within(tx, w) & tx.is_return) for w in cfg.windows_days
    }
    sums["purchases"] = ev.count(tx, ev.within(tx, long))
    a = ev.per_customer(history.at(cutoffs), tx, sums)
    return a.select(
        *ev.KEYS,
        *(f"returns_{w}d" for w in cfg.windows_days),
        **{f"return_rate_{long}d": ev.ratio(a[f"returns_{long}d"], a.purchases)},
    )
