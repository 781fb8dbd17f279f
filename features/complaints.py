"""Complaint history: volume, open complaints, resolution speed and quality, repeats.

A complaint counts as resolved only if it was resolved before the cutoff; its resolution
time and satisfaction rating are unknown until then.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from contract.tables import COMPLAINT_CATEGORIES
from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    long = cfg.long_window_days
    return {
        **{f"complaints_{w}d": f"complaints opened in the last {w} days" for w in cfg.windows_days},
        **{
            f"complaints_{category}_{long}d": f"{category} complaints opened in {long} days"
            for category in COMPLAINT_CATEGORIES
        },
        f"complaints_repeat_{long}d": f"complaints in the last {long} days about a category "
        "the customer had complained about before",
        f"complaint_severity_max_{long}d": f"highest complaint severity (1-3) in {long} days",
        "complaints_unresolved": "complaints open at the cutoff (not resolved before it)",
        "complaint_oldest_open_days": "age in days of the oldest complaint open at the cutoff",
        "days_since_last_complaint": "days since the last complaint was opened (NaN: none)",
        "complaint_resolution_days_mean": "mean days to resolve, over complaints resolved "
        "before the cutoff",
        "complaint_resolution_days_max": "longest days to resolve a complaint resolved before "
        "the cutoff",
        "complaint_resolution_satisfaction_mean": "mean rating (1-5) of resolutions before the "
        "cutoff",
        "complaint_resolution_satisfaction_min": "worst rating (1-5) of a resolution before the "
        "cutoff",
    }


def repeats(complaints: ir.Table) -> dict[str, ir.Value]:
    """Whether each complaint is a ``repeat``: not the customer's first in its category
    (ties in time count one of them as the first). The same at every cutoff after it."""
    earlier_same = ibis.row_number().over(
        group_by=[complaints.customer_id, complaints.category], order_by=complaints.opened_at
    )
    return {"repeat": earlier_same > 0}


def aggregate(history: CustomerHistory, c: ir.Table) -> ev.Aggregates:
    cfg = history.features
    long = cfg.long_window_days
    resolved = (c.resolved_at < c.cutoff).fill_null(False)
    resolution_days = ev.days_between(c.opened_at, c.resolved_at)
    in_long = ev.within(c, long)
    still_open = ~resolved
    rated = resolved & c.resolution_satisfaction.notnull()
    sums = {f"complaints_{w}d": ev.count(c, ev.within(c, w)) for w in cfg.windows_days}
    sums |= {
        f"complaints_{category}_{long}d": ev.count(c, in_long & (c.category == category))
        for category in COMPLAINT_CATEGORIES
    }
    sums[f"complaints_repeat_{long}d"] = ev.count(c, in_long & c.repeat)
    sums["complaints_unresolved"] = ev.count(c, still_open)
    sums |= {
        "resolved": ev.count(c, resolved),
        "resolution_days_sum": ev.total(resolution_days, resolved),
        "rated": ev.count(c, rated),
        "rating_sum": ev.total(c.resolution_satisfaction, rated),
    }
    others = {
        f"complaint_severity_max_{long}d": c.severity.cast("float64").max(where=in_long),
        "complaint_oldest_open_days": c.age.max(where=still_open),
        "days_since_last_complaint": c.age.min(),
        "complaint_resolution_days_max": resolution_days.max(where=resolved),
        "complaint_resolution_satisfaction_min": (
            c.resolution_satisfaction.cast("float64").min(where=rated)
        ),
    }
    return ev.Aggregates(sums, others)


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    long = history.features.long_window_days
    counts = [name for name in describe(history) if name.startswith("complaints_")]
    kept = [
        *counts,
        f"complaint_severity_max_{long}d",
        "complaint_oldest_open_days",
        "days_since_last_complaint",
        "complaint_resolution_days_max",
        "complaint_resolution_satisfaction_min",
    ]
    return {
        **{name: a[name] for name in kept},
        "complaint_resolution_days_mean": ev.ratio(a.resolution_days_sum, a.resolved),
        "complaint_resolution_satisfaction_mean": ev.ratio(a.rating_sum, a.rated),
    }
