"""Exposure to competitor offers running in the customer's region.

An offer is known from its start: one starting on or after the cutoff date is ignored.
Its planned end date is taken as published with the offer.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    return {
        "competitor_offers_running": "competitor offers running in the customer's region at "
        "the cutoff",
        "competitor_offer_discount": "largest discount among them (0: none running)",
        **{
            f"competitor_offer_days_{w}d": f"offer-days of competitor offers in the region over "
            f"the last {w} days (overlapping offers add up)"
            for w in history.features.windows_days
        },
    }


def aggregate(history: CustomerHistory, offers: ir.Table) -> ev.Aggregates:
    """Per region and cutoff: what the offers started before the cutoff add up to."""
    # An offer runs through its end date: it covers [start_date, end_date + 1 day).
    ends = offers.end_date + ibis.interval(days=1)
    running = ends > offers.cutoff
    by_region = {
        "competitor_offers_running": ev.as_float(running).sum(),
        "competitor_offer_discount": ibis.ifelse(running, offers.discount, 0.0).max(),
    }
    for w in history.features.windows_days:
        overlap = ev.days_between(
            ibis.greatest(offers.start_date, ev.days_ago(offers.cutoff, w)),
            ibis.least(ends, offers.cutoff),
        )
        by_region[f"competitor_offer_days_{w}d"] = ibis.greatest(overlap, 0.0).sum()
    return ev.Aggregates({name: value.cast("float64") for name, value in by_region.items()})


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    return {name: a[name] for name in describe(history)}
