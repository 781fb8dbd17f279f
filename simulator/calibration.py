"""Scale each cause's hazard so the simulated churn matches the configured rate and mix.

The drivers of each cause (satisfaction, open complaints, failed payments, ...) have
very different natural sizes. A pilot block is simulated and each cause's scale is set
so that the churn it causes per active customer-week (the weekly churn probability,
split over causes in proportion to their hazards) equals its configured share of the
target weekly churn probability. Later rounds correct for the survival selection and
the saturation of high hazards that the previous round's scales cause. The pilot uses a
random stream of its own, so the calibration is as deterministic as the rest of the
simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.errors import ConfigError
from simulator.causes import CAUSES
from simulator.config import SimulatorConfig
from simulator.dynamics import BlockSimulation
from simulator.market import Market
from simulator.population import draw_population

PILOT_STREAM = 1_000_000_007


@dataclass(frozen=True)
class Calibration:
    target_weekly_churn: float
    hazard_scale: dict[str, float]
    pilot_churn_share: dict[str, float]  # realised in the last pilot round


def target_cause_shares(sim: SimulatorConfig) -> dict[str, float]:
    """The configured cause mixture, checked against the modelled causes and normalised."""
    shares = sim.churn.cause_shares
    if set(shares) != set(CAUSES):
        missing, unknown = sorted(set(CAUSES) - set(shares)), sorted(set(shares) - set(CAUSES))
        raise ConfigError(
            f"simulator.churn.cause_shares must name exactly the causes {list(CAUSES)}; "
            f"missing {missing}, unknown {unknown}"
        )
    total = sum(shares.values())
    return {cause: shares[cause] / total for cause in CAUSES}


def calibrate(sim: SimulatorConfig, seed: int, market: Market, start_s: int) -> Calibration:
    shares = np.array(list(target_cause_shares(sim).values()))
    target = 1 - (1 - sim.churn.annual_rate) ** (1 / 52)
    modelled = shares > 0  # causes with a zero share are switched off
    # Round one runs with a negligible hazard, i.e. without churn, so every customer-week
    # contributes to the drivers' means. Later rounds take a secant step in log space:
    # a cause's churn grows less than proportionally with its scale (its customers leave).
    scale = np.where(modelled, 1e-9, 0.0)
    previous: tuple[np.ndarray, np.ndarray] | None = None
    churn_share = np.zeros(len(CAUSES))
    for round_ in range(sim.churn.calibration_rounds):
        churn = _pilot_churn(sim, seed, market, start_s, dict(zip(CAUSES, scale, strict=True)))
        never = [
            cause for cause, m, on in zip(CAUSES, churn, modelled, strict=True) if on and m == 0
        ]
        if never:
            raise ConfigError(
                f"causes {never} have a share above 0 but never arise in the pilot run"
            )
        churn_share = churn / churn.sum()
        log_scale, log_churn = np.log(scale[modelled]), np.log(churn[modelled])
        elasticity = np.ones(modelled.sum())
        if previous is not None:
            step = log_scale - previous[0]
            moved = np.abs(step) > 1e-9
            elasticity[moved] = np.clip((log_churn - previous[1])[moved] / step[moved], 0.2, 1.0)
        if round_ > 0:
            previous = (log_scale, log_churn)
        scale[modelled] = np.exp(
            log_scale + (np.log(shares[modelled] * target) - log_churn) / elasticity
        )
    return Calibration(
        target_weekly_churn=float(target),
        hazard_scale={cause: float(x) for cause, x in zip(CAUSES, scale, strict=True)},
        pilot_churn_share={cause: float(x) for cause, x in zip(CAUSES, churn_share, strict=True)},
    )


def _pilot_churn(
    sim: SimulatorConfig, seed: int, market: Market, start_s: int, scale: dict[str, float]
) -> np.ndarray:
    """Expected churn per active customer-week, by cause, in the pilot block."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, PILOT_STREAM]))
    pilot = draw_population(
        rng, sim, first_id=0, n=sim.churn.calibration_customers, start_s=start_s
    )
    result = BlockSimulation(pilot, market, sim, scale, rng, start_s, cutoff_weeks={}).run()
    return result.expected_churn / max(result.active_weeks, 1)
