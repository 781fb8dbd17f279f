"""The oracle: each row's label probability given the simulator's true state at the cutoff.

No model can do better than knowing the truth the data were drawn from, so the oracle's
scores on the test cutoff show how much of the gap to perfect ranking is left to the
model and how much is noise. At the cutoff the oracle knows each customer's true weekly
churn hazard (all causes), true lifecycle stage and true purchase rate, and whether the
customer has already left. It assumes that hazard and rate stay as they are over the
label horizon (purchases follow the season), so it is the best prediction *at* the
cutoff, not a view of the future:

- contractual label (cancels within the horizon T): ``1 - exp(-h T)``;
- non-contractual label (no purchase in the confirmation window of length F after the
  horizon), with purchase rate ``l``: the customer is gone by the end of the horizon, or
  is alive then and in the window leaves before buying or neither leaves nor buys,
  ``1 - exp(-h T) (1 - q)`` with ``q = h / (h + l) (1 - exp(-(h + l) F)) + exp(-(h + l) F)``;
  a customer who has already left buys nothing: 1.

``true_churn_probability`` is the oracle of true churn itself (simulator/truth.py): gone
by the end of the horizon, ``1 - exp(-h T)``, or 1 when already gone.

Whether a customer without a contract has already left is not in any data: they simply
stop buying. ``observable_churn_probability`` is the oracle of true churn that does not
know it: it knows the customer's true hazard ``h`` and purchase rate ``l`` (from the last
state the simulator recorded for them) and sees, as a model does, the silence ``s`` since
their last purchase. Gone already with probability ``g = a / (a + exp(-(h + l) s))``,
``a = h / (h + l) (1 - exp(-(h + l) s))`` (left during the silence, against neither
leaving nor buying), then ``g + (1 - g) (1 - exp(-h T))``. Contractual customers' state is
in the data (a cancelled contract ends), so for them it is ``1 - exp(-h T)``. It is the
ceiling for a model of the data the customers leave; the gap between the two oracles is
what nobody can see in a purchase log.

Only simulated data have an oracle: the train stage scores it when the pipeline reads
the simulator's own output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.config import SimulatorConfig
from simulator.truth import GroundTruth, hazard_records

WEEK_DAYS = 7
OBSERVABLE_ORACLE = "observable_oracle"
# The observable oracle's purchase rate follows the season of the last SEASON_DAYS.
SEASON_DAYS = 90


def oracle_probability(
    truth: GroundTruth,
    rows: pd.DataFrame,
    sim: SimulatorConfig,
    horizon_days: int,
    confirmation_days: int,
) -> np.ndarray:
    """The oracle's label probability for each row (customer_id, cutoff, churn_definition)."""
    state = _true_state(truth, rows)
    multiplier = state["stage"].astype(object).map(sim.lifecycle.purchase_multiplier)
    confirmation_start = state["cutoff"] + pd.Timedelta(days=horizon_days)
    season = _mean_seasons(confirmation_start, confirmation_days, sim)
    weekly_hazard = state["hazard_total"].to_numpy(dtype=float)
    weekly_rate = (state["purchase_rate"] * multiplier.astype(float) * season).to_numpy(dtype=float)
    survives = np.exp(-weekly_hazard * horizon_days / WEEK_DAYS)
    either = weekly_hazard + weekly_rate
    weeks = confirmation_days / WEEK_DAYS
    stays_away = weekly_hazard / either * -np.expm1(-either * weeks) + np.exp(-either * weeks)
    contractual = (state["churn_definition"] == "contractual").to_numpy()
    probability = np.where(contractual, 1 - survives, 1 - survives * (1 - stays_away))
    already_gone = np.isnan(weekly_hazard)  # no hazard record: left before the cutoff
    return np.where(already_gone, 1.0, probability)


def true_churn_probability(truth: GroundTruth, rows: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """The oracle's probability that each row's customer truly churns (is gone) by the end
    of the horizon: 1 when already gone at the cutoff."""
    weekly_hazard = _true_state(truth, rows)["hazard_total"].to_numpy(dtype=float)
    cancels = -np.expm1(-weekly_hazard * horizon_days / WEEK_DAYS)
    return np.where(np.isnan(weekly_hazard), 1.0, cancels)


def observable_churn_probability(
    truth: GroundTruth, rows: pd.DataFrame, sim: SimulatorConfig, horizon_days: int
) -> np.ndarray:
    """The oracle of true churn from the true rates and the observed silence, blind to
    whether a customer without a contract has already left (module docstring). ``rows``
    need ``recency_days`` (days since the last purchase; NaN without one) and
    ``tenure_days`` (the silence of a customer who never bought)."""
    weekly_hazard = _last_recorded_state(truth, rows)["hazard_total"].to_numpy(dtype=float)
    leaves = -np.expm1(-weekly_hazard * horizon_days / WEEK_DAYS)
    gone = observable_gone_probability(truth, rows, sim)
    contractual = (rows["churn_definition"] == "contractual").to_numpy()
    probability = np.where(contractual, leaves, gone + (1 - gone) * leaves)
    return np.where(np.isnan(probability), 1.0, probability)  # never recorded: long gone


def observable_gone_probability(
    truth: GroundTruth, rows: pd.DataFrame, sim: SimulatorConfig
) -> np.ndarray:
    """The probability that each row's customer has already left, from their true hazard
    and purchase rate and the silence since their last purchase (module docstring): the
    best P(alive) complement a purchase log allows. Rows as observable_churn_probability."""
    state = _last_recorded_state(truth, rows)
    weekly_hazard = state["hazard_total"].to_numpy(dtype=float)
    multiplier = state["stage"].astype(object).map(sim.lifecycle.purchase_multiplier)
    season = _mean_seasons(state["cutoff"] - pd.Timedelta(days=SEASON_DAYS), SEASON_DAYS, sim)
    weekly_rate = (state["purchase_rate"] * multiplier.astype(float) * season).to_numpy(float)
    silence = rows["recency_days"].fillna(rows["tenure_days"]).to_numpy(dtype=float) / WEEK_DAYS
    either = weekly_hazard + weekly_rate
    left_unseen = weekly_hazard / either * -np.expm1(-either * silence)
    return left_unseen / (left_unseen + np.exp(-either * silence))


def _last_recorded_state(truth: GroundTruth, rows: pd.DataFrame) -> pd.DataFrame:
    """Per row, the cutoff, the customer's state at the latest cutoff at or before the
    row's that the simulator recorded (the cutoff itself unless they had left), and
    purchase rate."""
    return _with_rate(truth, rows, ["cutoff"], latest=True)


def _true_state(truth: GroundTruth, rows: pd.DataFrame) -> pd.DataFrame:
    """Per row, its cutoff and churn definition, the customer's state at the cutoff
    (missing once they had left) and purchase rate."""
    return _with_rate(truth, rows, ["cutoff", "churn_definition"], latest=False)


def _with_rate(
    truth: GroundTruth, rows: pd.DataFrame, kept: list[str], latest: bool
) -> pd.DataFrame:
    """``kept`` columns of ``rows``, the stage and hazard of their hazard record
    (``hazard_records``) and the customer's purchase rate, in row order."""
    state = hazard_records(truth.hazards, rows, ["stage", "hazard_total"], latest)
    rates = truth.customers.set_index("customer_id")["purchase_rate"]
    state["purchase_rate"] = rates.reindex(rows["customer_id"].to_numpy()).to_numpy()
    return pd.concat([rows[kept].reset_index(drop=True), state], axis=1)


def _mean_seasons(starts: pd.Series, days: int, sim: SimulatorConfig) -> pd.Series:
    """``_mean_season`` of each of ``starts``, computed once per distinct date: rows share
    a few cutoffs, and a date range per row cost the train stage 12% of its time."""
    seasons = {start: _mean_season(start, days, sim) for start in starts.unique()}
    return starts.map(seasons)


def _mean_season(start: pd.Timestamp, days: int, sim: SimulatorConfig) -> float:
    """The simulator's mean seasonal purchase factor over ``days`` days from ``start``."""
    purchases = sim.purchases
    days = pd.date_range(start, periods=days, freq="D") - pd.Timestamp(0)
    day_of_year = days.days.to_numpy() % 365.25  # the simulator's convention (dynamics.py)
    return float(
        np.mean(
            1
            + purchases.seasonal_amplitude
            * np.cos(2 * np.pi * (day_of_year - purchases.seasonal_peak_day) / 365.25)
        )
    )
