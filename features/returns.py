"""Product quality seen in purchases: returned or refunded purchases."""

from __future__ import annotations

import ibis.expr.types as ir

from features import events as ev
from features.config import FeaturesConfig
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


def lookback_days(cfg: FeaturesConfig) -> int:
    return max(*cfg.windows_days, cfg.long_window_days)


def aggregate(history: CustomerHistory, tx: ir.Table) -> ev.Aggregates:
    cfg = history.features
    sums = {f"returns_{w}": ev.count(tx, ev.within(tx, w) & tx.is_return) for w in cfg.windows_days}
    sums[f"n_{cfg.long_window_days}"] = ev.count(tx, ev.within(tx, cfg.long_window_days))
    return ev.Aggregates(sums)


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    cfg = history.features
    long = cfg.long_window_days
    columns = {f"returns_{w}d": a[f"returns_{w}"] for w in cfg.windows_days}
    columns[f"return_rate_{long}d"] = ev.ratio(a[f"returns_{long}"], a[f"n_{long}"])
    return columns
