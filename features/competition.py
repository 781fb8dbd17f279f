"""Exposure to competitor offers running in the customer's region.

An offer is known from its start: one starting on or after the cutoff date is ignored.
Its planned end date is taken as published with the offer.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

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


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> ir.Table:
    offers = history.competitor_offers
    offers = offers.filter(offers.start_date < ev.instant(cutoff))
    # An offer runs through its end date: it covers [start_date, end_date + 1 day).
    ends = offers.end_date + ibis.interval(days=1)
    running = ends > ev.instant(cutoff)
    by_region = {
        "competitor_offers_running": ev.as_float(running).sum(),
        "competitor_offer_discount": ibis.ifelse(running, offers.discount, 0.0).max(),
    }
    for w in history.features.windows_days:
        overlap = ev.days_between(
            ibis.greatest(offers.start_date, ev.instant(cutoff, w)),
            ibis.least(ends, ev.instant(cutoff)),
        )
        by_region[f"competitor_offer_days_{w}d"] = ibis.greatest(overlap, 0.0).sum()
    per_region = offers.group_by("region").aggregate(**by_region)
    customers = history.customers.select("customer_id", "region")
    joined = customers.left_join(per_region, "region")
    return joined.select(
        "customer_id", **{name: joined[name].cast("float64").coalesce(0.0) for name in by_region}
    )
