"""Service failures the business logged: incidents by kind and window, severity, recency."""

from __future__ import annotations

import pandas as pd

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


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    cfg = history.features
    incidents = history.events["service_incidents"]
    n = history.n_customers
    columns = {}
    for kind in INCIDENT_KINDS:
        is_kind = (incidents["kind"] == kind).to_numpy()
        for w in cfg.windows_days:
            mask = ev.in_window(incidents["timestamp"], cutoff, w) & is_kind
            columns[f"incidents_{kind}_{w}d"] = ev.count(incidents, mask, n)
    long = cfg.long_window_days
    columns[f"incident_severity_{long}d"] = ev.total(
        incidents, incidents["severity"], ev.in_window(incidents["timestamp"], cutoff, long), n
    )
    columns["days_since_last_incident"] = ev.days_since_last(incidents, "timestamp", cutoff, n)
    return pd.DataFrame(columns)
