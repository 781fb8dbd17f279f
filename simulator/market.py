"""Competitor offers per region: the market pressure behind competitive churn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.config import SimulatorConfig
from simulator.population import WEEK


@dataclass
class Market:
    """``offer_discount[week, region]``: the deepest competitor discount running (0 if none)."""

    offer_discount: np.ndarray
    offers: pd.DataFrame  # the competitor_offers table of the contract


def draw_market(rng: np.random.Generator, sim: SimulatorConfig, start_s: int) -> Market:
    comp = sim.competition
    regions = sim.population.regions
    offer_discount = np.zeros((sim.n_weeks, len(regions)))
    starts = np.argwhere(
        rng.random((sim.n_weeks, len(regions))) < comp.offers_per_region_per_year / 52
    )
    weeks = rng.integers(comp.offer_weeks_min, comp.offer_weeks_max + 1, len(starts))
    discounts = np.round(
        rng.uniform(comp.offer_discount_min, comp.offer_discount_max, len(starts)), 2
    )
    for (week, region), length, discount in zip(starts, weeks, discounts, strict=True):
        span = offer_discount[week : week + length, region]
        np.maximum(span, discount, out=span)
    start = pd.to_datetime(start_s + starts[:, 0] * WEEK, unit="s")
    offers = pd.DataFrame(
        {
            "region": pd.Series(np.asarray(regions)[starts[:, 1]], dtype=str),
            "start_date": start,
            "end_date": start + pd.to_timedelta(weeks * 7 - 1, unit="D"),
            "discount": discounts,
        }
    )
    return Market(offer_discount=offer_discount, offers=offers)
