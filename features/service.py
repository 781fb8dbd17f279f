"""Service failures the business logged: incidents by kind and window, severity, recency."""

from __future__ import annotations

import ibis.expr.types as ir

from contract.tables import INCIDENT_KINDS
from features import events as ev
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


def compute(history: CustomerHistory, cutoffs: ir.Table) -> ir.Table:
    cfg = history.features
    long = cfg.long_window_days
    incidents = ev.before_cutoffs(history.events["service_incidents"], "timestamp", cutoffs)
    sums = {
        f"incidents_{kind}_{w}d": ev.count(
            incidents,
            ev.within(incidents, w) & (incidents.kind == kind),
        )
        for kind in INCIDENT_KINDS
        for w in cfg.windows_days
    }
    sums[f"incident_severity_{long}d"] = ev.total(incidents.severity, ev.within(incidents, long))
    a = ev.per_customer(
        history.at(cutoffs), incidents, sums, {"days_since_last_incident": incidents.age.min()}
    )
    return a.select(
        *ev.KEYS,
        *sums,
        a.days_since_last_incident,
    )
