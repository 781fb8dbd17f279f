"""Simulate the whole population block by block: the market, the calibration and the
blocks of customers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.calibration import Calibration, calibrate
from simulator.config import SimulatorConfig
from simulator.dynamics import BlockResult, BlockSimulation
from simulator.market import Market, draw_market
from simulator.population import WEEK, draw_population, start_seconds

MARKET_STREAM = 1_000_000_009


@dataclass
class Simulation:
    """Everything shared by the blocks, and the blocks themselves (lazily)."""

    sim: SimulatorConfig
    seed: int
    market: Market
    calibration: Calibration
    cutoffs: pd.DatetimeIndex

    @property
    def start_s(self) -> int:
        return start_seconds(self.sim)

    @property
    def end_s(self) -> int:
        return self.start_s + self.sim.n_weeks * WEEK

    @property
    def n_blocks(self) -> int:
        return -(-self.sim.n_customers // self.sim.block_size)

    def blocks(self) -> Iterator[BlockResult]:
        """Simulate block after block; block k has its own stream from (seed, k)."""
        cutoff_weeks = self._cutoff_weeks()
        for k in range(self.n_blocks):
            first = k * self.sim.block_size
            n = min(self.sim.block_size, self.sim.n_customers - first)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, k]))
            pop = draw_population(rng, self.sim, first_id=first + 1, n=n, start_s=self.start_s)
            yield BlockSimulation(
                pop,
                self.market,
                self.sim,
                self.calibration.hazard_scale,
                rng,
                self.start_s,
                cutoff_weeks,
            ).run()

    def _cutoff_weeks(self) -> dict[int, list[tuple[int, int]]]:
        """Cutoffs (index, seconds) by the last week starting on or before them."""
        weeks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, cutoff in enumerate(self.cutoffs):
            cutoff_s = int(cutoff.timestamp())
            weeks[(cutoff_s - self.start_s) // WEEK].append((i, cutoff_s))
        return dict(weeks)


def truth_cutoffs(sim: SimulatorConfig, cutoffs: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The ``cutoffs`` that fall inside the simulated period."""
    dates = pd.DatetimeIndex(cutoffs)
    start = pd.Timestamp(sim.start_date)
    end = start + pd.Timedelta(weeks=sim.n_weeks)
    return dates[(dates >= start) & (dates < end)]


def prepare_simulation(sim: SimulatorConfig, seed: int, truth_at: pd.DatetimeIndex) -> Simulation:
    """Draw the market and calibrate the hazard; blocks are simulated on iteration. The
    true hazards are recorded at the dates of ``truth_at`` inside the simulated period
    (the feature cutoffs)."""
    start_s = start_seconds(sim)
    market = draw_market(
        np.random.default_rng(np.random.SeedSequence([seed, MARKET_STREAM])), sim, start_s
    )
    calibration = calibrate(sim, seed, market, start_s)
    return Simulation(sim, seed, market, calibration, truth_cutoffs(sim, truth_at))
