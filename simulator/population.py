"""Draw a block of customers: contract attributes and latent traits, as arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.tables import CONTRACT_TYPES, CREDIT_SCORE_RANGE
from simulator.config import SimulatorConfig

WEEK = 7 * 24 * 3600  # seconds
SATISFACTION_SCALE = (0.0, 10.0)


def start_seconds(sim: SimulatorConfig) -> int:
    """The simulation's start as integer seconds since the epoch; all times count from it."""
    return int(pd.Timestamp(sim.start_date).timestamp())


ANNUAL = CONTRACT_TYPES.index("annual")
NONE = CONTRACT_TYPES.index("none")


@dataclass
class CustomerBlock:
    """One block of customers. Times are integer seconds; weeks count from start_date.

    The first group of fields reaches the customers table; the traits never do.
    """

    customer_id: np.ndarray
    signup_s: np.ndarray
    signup_week: np.ndarray  # week index of signup; negative for customers from before the start
    region: np.ndarray
    channel: np.ndarray
    contract: np.ndarray
    loyalty: np.ndarray
    autopay: np.ndarray
    account_manager: np.ndarray
    credit_score: np.ndarray
    # latent traits
    purchase_rate: np.ndarray
    basket_value: np.ndarray
    subscription_fee: np.ndarray
    price_sensitivity: np.ndarray
    service_tolerance: np.ndarray
    service_exposure: np.ndarray
    quality_sensitivity: np.ndarray
    complaint_propensity: np.ndarray
    credit_risk: np.ndarray
    relocation: np.ndarray
    satisfaction_baseline: np.ndarray
    category_weights: np.ndarray  # (n, n_categories), rows sum to 1
    category_breadth: np.ndarray
    initial_stage: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def start_week(self) -> np.ndarray:
        """First simulated week of each customer."""
        return np.maximum(self.signup_week, 0)


def _choice(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(shares.values()), dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _mean_one_lognormal(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    return rng.lognormal(-(sigma**2) / 2, sigma, n)


def _category_preferences(
    rng: np.random.Generator, n: int, n_categories: int, breadth_p: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer buys from a random subset of categories with random weights."""
    breadth = 1 + rng.binomial(n_categories - 1, breadth_p, n)
    ranks = rng.random((n, n_categories)).argsort(axis=1).argsort(axis=1)
    weights = rng.gamma(1.0, size=(n, n_categories)) * (ranks < breadth[:, None])
    return weights / weights.sum(axis=1, keepdims=True), breadth


def _initial_stage(
    rng: np.random.Generator, tenure_weeks: np.ndarray, sim: SimulatorConfig
) -> np.ndarray:
    """Stage reached after ``tenure_weeks`` of geometric stays in each stage.

    Past the first maturity, customers alternate between maturity and decline; they are
    placed by the two stages' long-run balance.
    """
    lifecycle = sim.lifecycle
    n = len(tenure_weeks)
    ends = np.cumsum(
        [
            rng.geometric(1 / lifecycle.mean_weeks[stage], n)
            for stage in ("cultivation", "growth", "maturity")
        ],
        axis=0,
    )
    stage = (tenure_weeks[None, :] >= ends).sum(axis=0)
    into_decline = 1 / lifecycle.mean_weeks["maturity"]
    decline_share = into_decline / (into_decline + lifecycle.decline_recovery_weekly)
    return np.where((stage == 3) & (rng.random(n) >= decline_share), 2, stage)


def draw_population(
    rng: np.random.Generator, sim: SimulatorConfig, first_id: int, n: int, start_s: int
) -> CustomerBlock:
    """Draw ``n`` customers with ids ``first_id ...``."""
    pop = sim.population
    traits = pop.traits
    existing = rng.random(n) < pop.existing_share
    prior_weeks = np.minimum(
        rng.exponential(pop.prior_tenure_mean_weeks, n), pop.max_prior_tenure_weeks
    )
    signup_week_float = np.where(existing, -1 - prior_weeks, rng.uniform(0, sim.n_weeks, n))
    signup_week = np.floor(signup_week_float).astype(np.int64)
    signup_s = start_s + np.floor(signup_week_float * WEEK).astype(np.int64)

    channel = _choice(rng, pop.acquisition_channels, n)
    shift = np.array([pop.channel_price_sensitivity_shift[c] for c in pop.acquisition_channels])
    contract = _choice(rng, pop.contract_types, n)
    purchase_rate = sim.purchases.weekly_rate_median * rng.lognormal(
        0, sim.purchases.weekly_rate_sigma, n
    )
    basket_value = sim.purchases.basket_median * rng.lognormal(
        0, sim.purchases.basket_sigma_customer, n
    )
    expected_value = purchase_rate * basket_value
    malicious = rng.random(n) < pop.malicious_share
    credit_risk = np.where(
        malicious,
        rng.uniform(*traits.malicious_credit_risk, n),
        rng.beta(*traits.credit_risk_beta, n),
    )
    score = pop.credit_score
    credit_score = (
        score.at_zero_risk + score.per_unit_risk * credit_risk + rng.normal(0, score.noise_sd, n)
    )
    credit_score = np.clip(np.round(credit_score), *CREDIT_SCORE_RANGE)
    category_weights, breadth = _category_preferences(
        rng, n, len(pop.categories), traits.category_breadth_p
    )

    return CustomerBlock(
        customer_id=np.arange(first_id, first_id + n, dtype=np.int64),
        signup_s=signup_s,
        signup_week=signup_week,
        region=rng.integers(0, len(pop.regions), n),
        channel=channel,
        contract=contract,
        loyalty=_choice(rng, pop.loyalty_tiers, n),
        autopay=(contract != NONE) & (rng.random(n) < pop.autopay_share),
        account_manager=expected_value
        >= np.quantile(expected_value, 1 - pop.account_manager_top_share),
        credit_score=np.where(rng.random(n) < pop.credit_score_known_share, credit_score, np.nan),
        purchase_rate=purchase_rate,
        basket_value=basket_value,
        subscription_fee=np.round(
            sim.purchases.subscription_fee_median
            * rng.lognormal(0, sim.purchases.subscription_fee_sigma, n),
            2,
        ),
        price_sensitivity=np.clip(
            rng.beta(*traits.price_sensitivity_beta, n) + shift[channel], 0, 1
        ),
        service_tolerance=rng.beta(*traits.service_tolerance_beta, n),
        service_exposure=_mean_one_lognormal(rng, traits.service_exposure_sigma, n),
        quality_sensitivity=_mean_one_lognormal(rng, traits.quality_sensitivity_sigma, n),
        complaint_propensity=_mean_one_lognormal(rng, sim.complaints.propensity_sigma, n),
        credit_risk=credit_risk,
        relocation=_mean_one_lognormal(rng, traits.relocation_sigma, n),
        satisfaction_baseline=np.clip(
            rng.normal(sim.service.satisfaction_mean, sim.service.satisfaction_sd, n),
            *SATISFACTION_SCALE,
        ),
        category_weights=category_weights,
        category_breadth=breadth,
        initial_stage=np.where(existing, _initial_stage(rng, np.maximum(-signup_week, 0), sim), 0),
    )
