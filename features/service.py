"""Service failures the business logged: incidents by kind and window, severity, recency."""

from __future__ import annotations

import ibis.expr.types as ir

from contract.tables import INCIDENT_KINDS
from features import events as ev
from features.config import FeaturesConfig
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    long = cfg.long_window_days
    return {
        **{
            f"incidents_{kind}_{w}d": f"{kind.replace('_', ' ')} incidents in the last {w} days"
            for kind in INCIDENT_KINDS
            for w in cfg.windows_days
        },
        f"incident_severity_{long}d": f"sum of incident severities (1-3) over {long} days",
        "days_since_last_incident": "days since the last service incident (NaN: none)",
    }


def lookback_days(cfg: FeaturesConfig) -> int:
    """The longest window read (the last incident is found however old: ``ev.event_rows``)."""
    return max(*cfg.windows_days, cfg.long_window_days)


def aggregate(history: CustomerHistory, incidents: ir.Table) -> ev.Aggregates:
    cfg = history.features
    long = cfg.long_window_days
    sums = {
        f"incidents_{kind}_{w}d": ev.count(
            incidents, ev.within(incidents, w) & (incidents.kind == kind)
        )
        for kind in INCIDENT_KINDS
        for w in cfg.windows_days
    }
    sums[f"incident_severity_{long}d"] = ev.total(incidents.severity, ev.within(incidents, long))
    return ev.Aggregates(sums, {"days_since_last_incident": incidents.age.min()})


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    return {name: a[name] for name in describe(history)}
