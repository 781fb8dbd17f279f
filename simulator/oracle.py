"""The oracle: each row's label probability given the simulator's true state at the cutoff.

No model can do better than knowing the truth the data were drawn from, so the oracle's
scores on the test cutoff show how much of the gap to perfect ranking is left to the
model and how much is noise. At the cutoff the oracle knows each customer's true weekly
churn hazard (all causes), true lifecycle stage and true purchase rate, and whether the
customer has already left. It assumes that hazard and rate stay as they are over the
label horizon (purchases follow the season), so it is the best prediction *at* the
cutoff, not a view of the future:

- contractual label (cancels within the horizon): ``1 - exp(-h T)``;
- non-contractual label (no purchase within the horizon), with purchase rate ``l``:
  the customer leaves before buying, or neither leaves nor buys,
  ``h / (h + l) (1 - exp(-(h + l) T)) + exp(-(h + l) T)``; a customer who has already
  left buys nothing: 1.

Only simulated data have an oracle: the train stage scores it when the pipeline reads
the simulator's own output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.config import SimulatorConfig
from simulator.truth import GroundTruth

WEEK_DAYS = 7


def oracle_probability(
    truth: GroundTruth, rows: pd.DataFrame, sim: SimulatorConfig, horizon_days: int
) -> np.ndarray:
    """The oracle's probability for each row (customer_id, cutoff, churn_definition)."""
    hazards = truth.hazards[["customer_id", "cutoff", "stage", "hazard_total"]]
    customers = truth.customers[["customer_id", "purchase_rate"]]
    state = (
        rows[["customer_id", "cutoff", "churn_definition"]]
        .merge(hazards, on=["customer_id", "cutoff"], how="left")
        .merge(customers, on="customer_id", how="left")
    )
    multiplier = state["stage"].astype(object).map(sim.lifecycle.purchase_multiplier)
    season = state["cutoff"].map(lambda cutoff: _mean_season(cutoff, horizon_days, sim))
    weekly_hazard = state["hazard_total"].to_numpy(dtype=float)
    weekly_rate = (state["purchase_rate"] * multiplier.astype(float) * season).to_numpy(dtype=float)
    weeks = horizon_days / WEEK_DAYS
    cancels = -np.expm1(-weekly_hazard * weeks)
    either = weekly_hazard + weekly_rate
    stays_away = weekly_hazard / either * -np.expm1(-either * weeks) + np.exp(-either * weeks)
    contractual = (state["churn_definition"] == "contractual").to_numpy()
    probability = np.where(contractual, cancels, stays_away)
    already_gone = np.isnan(weekly_hazard)  # no hazard record: left before the cutoff
    return np.where(already_gone, 1.0, probability)


def _mean_season(cutoff: pd.Timestamp, horizon_days: int, sim: SimulatorConfig) -> float:
    """The simulator's mean seasonal purchase factor over the label window."""
    purchases = sim.purchases
    days = pd.date_range(cutoff, periods=horizon_days, freq="D") - pd.Timestamp(0)
    day_of_year = days.days.to_numpy() % 365.25  # the simulator's convention (dynamics.py)
    return float(
        np.mean(
            1
            + purchases.seasonal_amplitude
            * np.cos(2 * np.pi * (day_of_year - purchases.seasonal_peak_day) / 365.25)
        )
    )
