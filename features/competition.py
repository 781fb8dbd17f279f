"""Exposure to competitor offers running in the customer's region.

An offer is known from its start: one starting on or after the cutoff date is ignored.
Its planned end date is taken as published with the offer.
"""

from __future__ import annotations

import numpy as np
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


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    offers = history.competitor_offers
    started = offers["start_date"] < cutoff
    # An offer runs through its end date: it covers [start_date, end_date + 1 day).
    ends = offers["end_date"] + ev.DAY
    running = started & (ends > cutoff)
    by_region = {
        "competitor_offers_running": running.astype(float),
        "competitor_offer_discount": offers["discount"].where(running, 0.0),
    }
    for w in history.features.windows_days:
        overlap = ends.clip(upper=cutoff) - offers["start_date"].clip(lower=cutoff - w * ev.DAY)
        by_region[f"competitor_offer_days_{w}d"] = (
            (overlap / ev.DAY).clip(lower=0).where(started, 0.0)
        )
    per_region = (
        pd.DataFrame(by_region)
        .groupby(offers["region"].to_numpy())
        .agg({name: "max" if name == "competitor_offer_discount" else "sum" for name in by_region})
    )
    region = history.customers["region"].to_numpy()
    return pd.DataFrame(
        {
            name: np.nan_to_num(per_region[name].reindex(region).to_numpy(dtype=float))
            for name in per_region
        }
    )
