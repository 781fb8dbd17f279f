"""The weekly simulation of one block of customers.

Every step is vectorised over the block's active customers; the only Python loop is over
weeks. Within a week: the hazard is read from the state left by earlier weeks, events
happen (purchases, service failures, complaints, payments, surveys), the state moves,
and customers churn with probability 1 - exp(-hazard), the cause drawn in proportion to
the hazard's components (competing risks). A churn takes effect in the following week.

The module is longer than the others on purpose: every mechanism (one method each) reads
and writes the same per-customer state arrays of ``BlockSimulation`` within a week, and
keeping them together keeps that shared state in one place.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from contract.errors import ConfigError
from contract.tables import (
    COMPLAINT_CATEGORIES,
    INCIDENT_KINDS,
    RESOLUTION_SATISFACTION_RANGE,
    SEVERITIES,
)
from simulator.causes import CAUSES, CONTRACT_LOCKED_CAUSES, STAGES
from simulator.config import SimulatorConfig
from simulator.market import Market
from simulator.population import ANNUAL, NONE, WEEK, CustomerBlock

DAY = 24 * 3600
RATINGS = np.arange(RESOLUTION_SATISFACTION_RANGE[0], RESOLUTION_SATISFACTION_RANGE[1] + 1)
DECLINE = STAGES.index("decline")
CAUSE_INDEX = {cause: i for i, cause in enumerate(CAUSES)}
LOCKED = np.array([cause in CONTRACT_LOCKED_CAUSES for cause in CAUSES])
INCIDENT_CATEGORY = {
    "late_delivery": "delivery",
    "outage": "service",
    "defect": "product",
    "stock_out": "product",
}


@dataclass
class BlockResult:
    """What one block produced: event columns per table, churn outcomes and truth."""

    population: CustomerBlock
    events: dict[str, dict[str, np.ndarray]]
    churn_s: np.ndarray  # -1 where the customer did not churn
    churn_cause: np.ndarray  # index into CAUSES, -1 where no churn
    hazard_records: dict[str, np.ndarray]  # customer index, cutoff index, stage, hazards
    expected_churn: np.ndarray  # sum over active customer-weeks of P(churn) split by cause
    active_weeks: int
    episodes: np.ndarray  # dissatisfying episodes per customer
    complaints: np.ndarray  # complaints filed per customer


def _shares(weights: list[float]) -> np.ndarray:
    values = np.asarray(weights, dtype=float)
    return values / values.sum()


def _category_defect_multiplier(sim: SimulatorConfig) -> np.ndarray:
    """Defect multiplier per category, in the order of population.categories."""
    multiplier = sim.service.category_defect_multiplier
    categories = sim.population.categories
    if set(multiplier) != set(categories):
        raise ConfigError(
            "simulator.service.category_defect_multiplier must name exactly the categories "
            f"{categories}; got {sorted(multiplier)}"
        )
    return np.array([multiplier[category] for category in categories])


class _Columns:
    """Collects event columns week by week and concatenates them once at the end."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))

    def add(self, table: str, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self._parts[table][name].append(values)

    def concatenated(self) -> dict[str, dict[str, np.ndarray]]:
        return {
            table: {name: np.concatenate(parts) for name, parts in columns.items()}
            for table, columns in self._parts.items()
        }


class BlockSimulation:
    """State of one block of customers, advanced one week at a time by ``run``."""

    def __init__(
        self,
        pop: CustomerBlock,
        market: Market,
        sim: SimulatorConfig,
        hazard_scale: dict[str, float],
        rng: np.random.Generator,
        start_s: int,
        cutoff_weeks: dict[int, list[tuple[int, int]]],
    ) -> None:
        self.pop, self.market, self.sim, self.rng = pop, market, sim, rng
        self.cutoff_weeks = cutoff_weeks
        self.beta = np.array([hazard_scale[cause] for cause in CAUSES])
        n, weeks = len(pop), sim.n_weeks
        self.week_start = start_s + np.arange(weeks + 1, dtype=np.int64) * WEEK
        self.end_s = int(self.week_start[-1])
        day_of_year = (self.week_start[:-1] // DAY + 3.5) % 365.25  # 1970-01-01 is day 0
        self.season = 1 + sim.purchases.seasonal_amplitude * np.cos(
            2 * np.pi * (day_of_year - sim.purchases.seasonal_peak_day) / 365.25
        )
        self.stage_multiplier = np.array([sim.lifecycle.purchase_multiplier[s] for s in STAGES])
        self.stage_exit = np.array([1 / sim.lifecycle.mean_weeks[s] for s in STAGES[:DECLINE]])
        self.severity_p = _shares(sim.service.severity_shares)
        self.severity_mean = float(np.dot(SEVERITIES, self.severity_p))
        self.category_cdf = pop.category_weights.cumsum(axis=1)
        self.category_defect = _category_defect_multiplier(sim)
        self.switching_static = self._static_switching_cost()
        self.start_week = pop.start_week

        self.alive = np.ones(n, dtype=bool)
        self.stage = pop.initial_stage.astype(np.int8)
        self.satisfaction = pop.satisfaction_baseline.copy()
        self.recent_defects = np.zeros(n)
        self.open_grievance = np.zeros(n)
        self.residual_grievance = np.zeros(n)
        self.recent_failed_payments = np.zeros(n)
        self.grievance_resolved_at = np.zeros((weeks + 1, n))
        self.residual_from = np.zeros((weeks + 1, n))
        self.churn_s = np.full(n, -1, dtype=np.int64)
        self.churn_cause = np.full(n, -1, dtype=np.int8)
        self.episodes = np.zeros(n, dtype=np.int64)
        self.complaints = np.zeros(n, dtype=np.int64)
        self.columns = _Columns()
        self.records = _Columns()
        self.expected_churn = np.zeros(len(CAUSES))
        self.active_weeks = 0

    def run(self) -> BlockResult:
        for week in range(self.sim.n_weeks):
            self._step(week)
        return BlockResult(
            population=self.pop,
            events=self.columns.concatenated(),
            churn_s=self.churn_s,
            churn_cause=self.churn_cause,
            hazard_records=self.records.concatenated().get("hazards", {}),
            expected_churn=self.expected_churn,
            active_weeks=self.active_weeks,
            episodes=self.episodes,
            complaints=self.complaints,
        )

    def _step(self, week: int) -> None:
        self.open_grievance -= self.grievance_resolved_at[week]
        self.residual_grievance += self.residual_from[week]
        active = np.flatnonzero(self.alive & (self.start_week <= week))
        hazards = self._hazards(active, week)
        total = hazards.sum(axis=1, keepdims=True)
        self.expected_churn += (hazards * (-np.expm1(-total) / total)).sum(axis=0)
        self.active_weeks += len(active)
        for cutoff, cutoff_s in self.cutoff_weeks.get(week, []):
            signed_up = self.pop.signup_s[active] <= cutoff_s
            self.records.add(
                "hazards",
                customer=active[signed_up],
                cutoff=np.full(signed_up.sum(), cutoff),
                stage=self.stage[active[signed_up]],
                hazard=hazards[signed_up].astype(np.float32),
            )
        self._purchases(active, week)
        self._weekly_episodes(active, week)
        self._payments(active, week)
        self._surveys(active, week)
        self._fade(active)
        if week < self.sim.n_weeks - 1:  # a churn takes effect next week
            self._churn(active, week, hazards)
        self._advance_lifecycle(active)

    # -- hazard -------------------------------------------------------------------------

    def _static_switching_cost(self) -> np.ndarray:
        """The part of the switching-cost index (0..1) that does not change with tenure."""
        churn, pop = self.sim.churn, self.pop
        w = churn.switching_cost_weights
        top_tier = len(self.sim.population.loyalty_tiers) - 1
        return (
            w["annual_contract"] * (pop.contract == ANNUAL)
            + w["loyalty"] * pop.loyalty / top_tier
            + w["autopay"] * pop.autopay
            + w["account_manager"] * pop.account_manager
            + w["category_breadth"]
            * np.minimum(pop.category_breadth / churn.category_breadth_saturation, 1)
        )

    def _poor_service_drive(self, satisfaction: np.ndarray) -> np.ndarray:
        """High below the dissatisfaction threshold, flat in the middle, ~0 when delighted."""
        service = self.sim.service
        low = 1 / (1 + np.exp(1.8 * (satisfaction - service.dissatisfaction_threshold)))
        middle = 1 / (1 + np.exp(3.0 * (satisfaction - service.delight_threshold)))
        return low + service.indifferent_hazard * middle

    def _hazards(self, active: np.ndarray, week: int) -> np.ndarray:
        """Weekly hazard of each active customer by cause, shape (len(active), len(CAUSES))."""
        pop, sim = self.pop, self.sim
        comp = sim.competition
        tenure = week - pop.signup_week[active]
        offer = self.market.offer_discount[week, pop.region[active]]
        mid_discount = (comp.offer_discount_min + comp.offer_discount_max) / 2
        drive = np.empty((len(active), len(CAUSES)))
        drive[:, CAUSE_INDEX["competitor_price"]] = pop.price_sensitivity[
            active
        ] ** comp.sensitivity_exponent * (comp.baseline_exposure + offer / mid_discount)
        drive[:, CAUSE_INDEX["poor_service"]] = self._poor_service_drive(self.satisfaction[active])
        drive[:, CAUSE_INDEX["product_quality"]] = (
            self.recent_defects[active] * pop.quality_sensitivity[active]
        )
        drive[:, CAUSE_INDEX["unresolved_complaint"]] = (
            self.open_grievance[active] + self.residual_grievance[active]
        )
        drive[:, CAUSE_INDEX["payment_lapse"]] = self.recent_failed_payments[active]
        drive[:, CAUSE_INDEX["credit_risk"]] = pop.credit_risk[active] * (
            1 + self.recent_failed_payments[active]
        )
        drive[:, CAUSE_INDEX["lifecycle_decline"]] = self.stage[active] == DECLINE
        drive[:, CAUSE_INDEX["low_switching_cost"]] = (
            1
            - self.switching_static[active]
            - sim.churn.switching_cost_weights["tenure"]
            * np.minimum(tenure / sim.churn.tenure_saturation_weeks, 1)
        ) ** sim.churn.switching_cost_exponent
        drive[:, CAUSE_INDEX["natural"]] = pop.relocation[active]
        weeks_to_renewal = (pop.signup_week[active] - week) % 52
        locked = (pop.contract[active] == ANNUAL) & (
            weeks_to_renewal > sim.churn.renewal_window_weeks
        )
        drive[np.ix_(locked, LOCKED)] *= sim.churn.annual_lock_factor
        return drive * self.beta

    def _churn(self, active: np.ndarray, week: int, hazards: np.ndarray) -> None:
        total = hazards.sum(axis=1)
        leaves = self.rng.random(len(active)) < -np.expm1(-total)
        who = active[leaves]
        cumulative = hazards[leaves].cumsum(axis=1)
        draw = self.rng.random(len(who)) * total[leaves]
        self.churn_cause[who] = np.minimum(
            (cumulative < draw[:, None]).sum(axis=1), len(CAUSES) - 1
        )
        self.churn_s[who] = self.week_start[week + 1] + (self.rng.random(len(who)) * WEEK).astype(
            np.int64
        )
        self.alive[who] = False

    # -- events -------------------------------------------------------------------------

    def _times(self, customers: np.ndarray, week: int) -> np.ndarray:
        """Uniform times in the week, never before the customer's signup."""
        low = np.maximum(self.week_start[week], self.pop.signup_s[customers])
        span = self.week_start[week + 1] - low
        return low + (self.rng.random(len(customers)) * span).astype(np.int64)

    def _later_in_week(self, times: np.ndarray, week: int) -> np.ndarray:
        """Uniform times between ``times`` and the end of the week."""
        span = self.week_start[week + 1] - 1 - times
        return times + (self.rng.random(len(times)) * span).astype(np.int64)

    def _severities(self, n: int) -> np.ndarray:
        return self.rng.choice(np.asarray(SEVERITIES), size=n, p=self.severity_p)

    def _purchases(self, active: np.ndarray, week: int) -> None:
        pop, purchases, service, rng = self.pop, self.sim.purchases, self.sim.service, self.rng
        sensitivity = pop.price_sensitivity[active]
        offer_running = self.market.offer_discount[week, pop.region[active]] > 0
        rate = (
            pop.purchase_rate[active]
            * self.stage_multiplier[self.stage[active]]
            * self.season[week]
            * (1 - purchases.offer_spend_shift * sensitivity * offer_running)
        )
        buyer = np.repeat(active, rng.poisson(rate))
        n = len(buyer)
        times = self._times(buyer, week)
        amount = np.round(
            pop.basket_value[buyer] * rng.lognormal(0, purchases.basket_sigma_purchase, n), 2
        )
        promo_share = (
            purchases.promo_share_min
            + (purchases.promo_share_max - purchases.promo_share_min) * pop.price_sensitivity[buyer]
        )
        on_promo = rng.random(n) < promo_share
        discount_rate = rng.uniform(purchases.discount_min, purchases.discount_max, n)
        discount = np.where(on_promo, np.round(amount * discount_rate, 2), 0.0)
        pick = rng.random(n)
        category = (self.category_cdf[buyer] < pick[:, None]).sum(axis=1)
        category = np.minimum(category, pop.category_weights.shape[1] - 1)
        defect = rng.random(n) < service.defect_per_purchase * self.category_defect[category]
        returned = defect | (rng.random(n) < purchases.plain_return_probability)
        self.columns.add(
            "transactions",
            customer=buyer,
            time=times,
            amount=amount,
            discount=discount,
            category=category,
            is_return=returned,
        )
        exposure = pop.service_exposure[buyer]
        late = rng.random(n) < service.late_delivery_per_purchase * exposure
        stock_out = rng.random(n) < service.stock_out_per_purchase * exposure
        np.add.at(self.recent_defects, buyer[defect], 1)
        for kind, hit, when in (
            ("defect", defect, self._later_in_week(times[defect], week)),
            ("late_delivery", late, self._later_in_week(times[late], week)),
            ("stock_out", stock_out, times[stock_out]),
        ):
            self._incidents(kind, buyer[hit], when, week)

    def _weekly_episodes(self, active: np.ndarray, week: int) -> None:
        """Outages (logged incidents) and staff indifference (never logged)."""
        service = self.sim.service
        exposure = self.pop.service_exposure[active]
        outage = active[self.rng.random(len(active)) < service.outage_weekly * exposure]
        self._incidents("outage", outage, self._times(outage, week), week)
        staff = active[self.rng.random(len(active)) < service.staff_episode_weekly * exposure]
        severity = self._severities(len(staff))
        self._dissatisfy(staff, self._times(staff, week), severity, "staff", week)

    def _incidents(self, kind: str, customers: np.ndarray, times: np.ndarray, week: int) -> None:
        times = _one_second_apart(customers, times)
        severity = self._severities(len(customers))
        self.columns.add(
            "service_incidents",
            customer=customers,
            time=times,
            kind=np.full(len(customers), INCIDENT_KINDS.index(kind)),
            severity=severity,
        )
        self._dissatisfy(customers, times, severity, INCIDENT_CATEGORY[kind], week)

    def _dissatisfy(
        self,
        customers: np.ndarray,
        times: np.ndarray,
        severity: np.ndarray,
        category: str,
        week: int,
    ) -> None:
        """A dissatisfying episode: satisfaction drops; rarely, the customer complains."""
        impact = (
            self.sim.service.episode_impact
            * severity
            * (1.5 - self.pop.service_tolerance[customers])
        )
        np.subtract.at(self.satisfaction, customers, impact)
        np.add.at(self.episodes, customers, 1)
        probability = (
            self.sim.complaints.probability_per_episode
            * self.pop.complaint_propensity[customers]
            * severity
            / self.severity_mean
        )
        files = self.rng.random(len(customers)) < probability
        self._complaints(
            customers[files], times[files], severity[files], impact[files], category, week
        )

    def _complaints(
        self,
        customers: np.ndarray,
        times: np.ndarray,
        severity: np.ndarray,
        impact: np.ndarray,
        category: str,
        week: int,
    ) -> None:
        cfg, rng = self.sim.complaints, self.rng
        n = len(customers)
        # Filed up to the maximum delay later, within the week it is simulated in (a
        # clip to the week's last second would give one customer's complaints of a week
        # the same time).
        room = np.minimum(cfg.opening_delay_days_max * DAY, self.week_start[week + 1] - 1 - times)
        opened = times + (rng.random(n) * room).astype(np.int64)
        days = rng.lognormal(np.log(cfg.resolution_days_median), cfg.resolution_days_sigma, n)
        resolved_s = opened + (days * DAY).astype(np.int64)
        resolved = (rng.random(n) < cfg.resolution_share) & (resolved_s < self.end_s)
        fast = resolved & (days <= cfg.fast_days)
        rating = np.where(
            fast,
            rng.choice(RATINGS, size=n, p=_shares(cfg.fast_rating_shares)),
            rng.choice(RATINGS, size=n, p=_shares(cfg.slow_rating_shares)),
        ).astype(float)
        rating[~resolved] = np.nan
        self.columns.add(
            "complaints",
            customer=customers,
            opened=opened,
            resolved=np.where(resolved, resolved_s, -1),
            category=np.full(n, COMPLAINT_CATEGORIES.index(category)),
            severity=severity,
            rating=rating,
        )
        np.add.at(self.complaints, customers, 1)
        np.add.at(self.open_grievance, customers, severity)
        well_handled = fast & (rating >= 4)
        np.add.at(
            self.satisfaction, customers[well_handled], cfg.recovery_share * impact[well_handled]
        )
        closes = resolved & (resolved_s < self.week_start[-2])
        close_week = (resolved_s[closes] - self.week_start[0]) // WEEK + 1
        np.add.at(self.grievance_resolved_at, (close_week, customers[closes]), severity[closes])
        leftover = np.where(well_handled, 0.0, cfg.poor_resolution_residual)[closes]
        np.add.at(self.residual_from, (close_week, customers[closes]), severity[closes] * leftover)

    def _payments(self, active: np.ndarray, week: int) -> None:
        pop, cfg, rng = self.pop, self.sim.payments, self.rng
        contractual = active[pop.contract[active] != NONE]
        billed = contractual[(week - pop.signup_week[contractual]) % cfg.period_weeks == 0]
        n = len(billed)
        due = self.week_start[week] + (pop.signup_s[billed] - self.week_start[0]) % WEEK
        due = np.maximum(due, pop.signup_s[billed]) // DAY * DAY
        autopay = pop.autopay[billed]
        fail_p = (
            cfg.fail_probability
            + autopay * cfg.card_expiry_probability
            + cfg.credit_risk_fail_boost * pop.credit_risk[billed]
        )
        late_p = np.where(autopay, cfg.late_probability_autopay, cfg.late_probability_manual)
        late_p = late_p + cfg.credit_risk_late_boost * pop.credit_risk[billed]
        draw = rng.random(n)
        failed = draw < fail_p
        late = ~failed & (draw < fail_p + late_p)
        delay_days = np.where(
            late,
            rng.integers(cfg.on_time_days_max + 1, cfg.late_days_max + 1, n),
            rng.integers(0, cfg.on_time_days_max + 1, n),
        )
        paid = np.where(failed, -1, due + delay_days * DAY)
        self.columns.add(
            "payments",
            customer=billed,
            due=due,
            paid=paid,
            amount=pop.subscription_fee[billed],
            status=np.where(failed, 2, np.where(late, 1, 0)),
        )
        np.add.at(self.recent_failed_payments, billed[failed], 1)
        lapsed = billed[failed]
        self._dissatisfy(
            lapsed, self._times(lapsed, week), np.ones(len(lapsed), dtype=int), "billing", week
        )

    def _surveys(self, active: np.ndarray, week: int) -> None:
        service = self.sim.service
        answering = active[self.rng.random(len(active)) < service.survey_weekly]
        noisy = self.satisfaction[answering] + self.rng.normal(
            0, service.survey_noise_sd, len(answering)
        )
        self.columns.add(
            "surveys",
            customer=answering,
            time=self._times(answering, week),
            score=np.clip(np.round(noisy), 1, 10).astype(np.int64),
        )

    # -- state --------------------------------------------------------------------------

    def _fade(self, active: np.ndarray) -> None:
        """Satisfaction drifts back to the baseline; memories of recent trouble fade."""
        sim = self.sim
        baseline = self.pop.satisfaction_baseline[active]
        self.satisfaction[active] += sim.service.satisfaction_reversion * (
            baseline - self.satisfaction[active]
        )
        self.recent_defects[active] *= sim.service.defect_memory
        self.recent_failed_payments[active] *= sim.payments.failure_memory
        self.residual_grievance[active] *= sim.complaints.residual_memory

    def _advance_lifecycle(self, active: np.ndarray) -> None:
        """Geometric stays: cultivation -> growth -> maturity -> decline (-> maturity again)."""
        stage = self.stage[active]
        draw = self.rng.random(len(active))
        moves_on = (stage < DECLINE) & (draw < self.stage_exit[np.minimum(stage, DECLINE - 1)])
        recovers = (stage == DECLINE) & (draw < self.sim.lifecycle.decline_recovery_weekly)
        self.stage[active] = stage + moves_on - recovers


def _one_second_apart(customers: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``times`` with a customer's equal times moved apart, later by a second each: two
    purchases in the same second could otherwise log identical incident rows, which the
    contract reads as a double load (one in 55M incidents at 10M customers)."""
    while True:
        keys = customers.astype(np.int64) * (1 << 34) + times  # times: seconds, below 2**34
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        repeats = np.r_[False, ordered[1:] == ordered[:-1]]
        if not repeats.any():
            return times
        starts = np.flatnonzero(~repeats)
        times = times.copy()
        times[order] += np.arange(len(keys)) - starts[np.cumsum(~repeats) - 1]
