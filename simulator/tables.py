"""Turn a simulated block into the contract's tables and the ground-truth tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.tables import COMPLAINT_CATEGORIES, CONTRACT_TYPES, INCIDENT_KINDS, PAYMENT_STATUSES
from simulator.causes import CAUSES, STAGES
from simulator.config import SimulatorConfig
from simulator.dynamics import DAY, BlockResult
from simulator.population import ANNUAL, NONE, WEEK

YEAR = 52 * WEEK
# The random stream of the stated reasons, apart from the simulation's own: stating
# reasons changes no other table.
REASONS_STREAM = 1_000_000_021


def _timestamps(seconds: np.ndarray) -> pd.Series:
    """Integer seconds to datetime64[ns]; negative means missing."""
    values = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[ns]")
    values[np.asarray(seconds) < 0] = np.datetime64("NaT")
    return pd.Series(values)


def _dates(seconds: np.ndarray) -> pd.Series:
    seconds = np.asarray(seconds, dtype=np.int64)
    return _timestamps(np.where(seconds < 0, -1, seconds // DAY * DAY))


def _labels(names: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(names, dtype=object)[codes], dtype="str")


def customers_table(block: BlockResult, sim: SimulatorConfig, end_s: int) -> pd.DataFrame:
    pop = block.population
    churned = block.churn_s >= 0
    horizon = np.where(churned, block.churn_s, end_s)
    terms = np.maximum(np.ceil((horizon - pop.signup_s) / YEAR), 1)
    contract_end = np.where(
        pop.contract == ANNUAL, pop.signup_s + terms.astype(np.int64) * YEAR, -1
    )
    contractual_churn = churned & (pop.contract != NONE)
    return pd.DataFrame(
        {
            "customer_id": pop.customer_id,
            "signup_date": _dates(pop.signup_s),
            "region": _labels(sim.population.regions, pop.region),
            "acquisition_channel": _labels(list(sim.population.acquisition_channels), pop.channel),
            "contract_type": _labels(CONTRACT_TYPES, pop.contract),
            "contract_end": _dates(contract_end),
            "loyalty_tier": _labels(list(sim.population.loyalty_tiers), pop.loyalty),
            "autopay": pop.autopay,
            "account_manager": pop.account_manager,
            "credit_score": pop.credit_score,
            "churn_date": _dates(np.where(contractual_churn, block.churn_s, -1)),
        }
    )


def event_tables(block: BlockResult, sim: SimulatorConfig) -> dict[str, pd.DataFrame]:
    """The contract's event tables, each sorted by customer and time."""
    ids = block.population.customer_id
    events = block.events
    tx, cp, pay, inc, sv = (
        events[name]
        for name in ("transactions", "complaints", "payments", "service_incidents", "surveys")
    )
    tables = {
        "transactions": pd.DataFrame(
            {
                "customer_id": ids[tx["customer"]],
                "timestamp": _timestamps(tx["time"]),
                "amount": tx["amount"],
                "discount": tx["discount"],
                "category": _labels(sim.population.categories, tx["category"]),
                "is_return": tx["is_return"],
            }
        ),
        "complaints": pd.DataFrame(
            {
                "customer_id": ids[cp["customer"]],
                "opened_at": _timestamps(cp["opened"]),
                "resolved_at": _timestamps(cp["resolved"]),
                "category": _labels(COMPLAINT_CATEGORIES, cp["category"]),
                "severity": cp["severity"].astype(np.int64),
                "resolution_satisfaction": cp["rating"],
            }
        ),
        "payments": pd.DataFrame(
            {
                "customer_id": ids[pay["customer"]],
                "due_date": _dates(pay["due"]),
                "paid_date": _dates(pay["paid"]),
                "amount": pay["amount"],
                "status": _labels(PAYMENT_STATUSES, pay["status"]),
            }
        ),
        "service_incidents": pd.DataFrame(
            {
                "customer_id": ids[inc["customer"]],
                "timestamp": _timestamps(inc["time"]),
                "kind": _labels(INCIDENT_KINDS, inc["kind"]),
                "severity": inc["severity"].astype(np.int64),
            }
        ),
        "surveys": pd.DataFrame(
            {
                "customer_id": ids[sv["customer"]],
                "timestamp": _timestamps(sv["time"]),
                "score": sv["score"],
            }
        ),
    }
    return {
        name: frame.sort_values(list(frame.columns[:2]), ignore_index=True)
        for name, frame in tables.items()
    }


def churn_reasons_table(
    block: BlockResult, sim: SimulatorConfig, seed: int, end_s: int
) -> pd.DataFrame:
    """What the block's churners said (``sim.churn_reasons``): a share of them state a
    reason within the delay after leaving, before the simulation ends; a share of those
    name another cause than the true one, drawn at random."""
    cfg = sim.churn_reasons
    ids = block.population.customer_id
    rng = np.random.default_rng(np.random.SeedSequence([seed, REASONS_STREAM, int(ids[0])]))
    churners = np.flatnonzero(block.churn_s >= 0)
    n = len(churners)
    true_cause = block.churn_cause[churners].astype(np.int64)
    stated = rng.random(n) < cfg.stated_share
    other = (true_cause + rng.integers(1, len(CAUSES), n)) % len(CAUSES)
    cause = np.where(rng.random(n) < cfg.misstated_share, other, true_cause)
    stated_s = block.churn_s[churners] + (rng.random(n) * cfg.delay_days_max * DAY).astype(np.int64)
    kept = stated & (stated_s < end_s)
    table = pd.DataFrame(
        {
            "customer_id": ids[churners[kept]],
            "stated_at": _timestamps(stated_s[kept]),
            "reason": _labels(CAUSES, cause[kept]),
        }
    )
    return table.sort_values(["customer_id", "stated_at"], ignore_index=True)


def truth_customers_table(block: BlockResult) -> pd.DataFrame:
    """Per customer: the true churn date and cause (both churn kinds) and the latent traits."""
    pop = block.population
    churned = block.churn_s >= 0
    cause = pd.Series(
        np.asarray(CAUSES, dtype=object)[np.maximum(block.churn_cause, 0)], dtype="str"
    )
    return pd.DataFrame(
        {
            "customer_id": pop.customer_id,
            "churned": churned,
            "churn_time": _timestamps(block.churn_s),
            "churn_cause": cause.where(churned),
            "purchase_rate": pop.purchase_rate,
            "basket_value": pop.basket_value,
            "price_sensitivity": pop.price_sensitivity,
            "service_tolerance": pop.service_tolerance,
            "service_exposure": pop.service_exposure,
            "quality_sensitivity": pop.quality_sensitivity,
            "complaint_propensity": pop.complaint_propensity,
            "credit_risk": pop.credit_risk,
            "relocation": pop.relocation,
            "satisfaction_baseline": pop.satisfaction_baseline,
            "category_breadth": pop.category_breadth,
            "dissatisfying_episodes": block.episodes,
            "complaints_filed": block.complaints,
        }
    )


def truth_hazards_table(block: BlockResult, cutoffs: pd.DatetimeIndex) -> pd.DataFrame:
    """Per active customer and cutoff: the weekly hazard by cause and the dominant cause."""
    records = block.hazard_records
    if not records:
        return pd.DataFrame()
    hazard = records["hazard"]
    frame = pd.DataFrame(
        {
            "customer_id": block.population.customer_id[records["customer"]],
            "cutoff": cutoffs[records["cutoff"]],
            "stage": _labels(STAGES, records["stage"]),
        }
    )
    for i, cause in enumerate(CAUSES):
        frame[f"hazard_{cause}"] = hazard[:, i]
    frame["hazard_total"] = hazard.sum(axis=1)
    frame["dominant_cause"] = _labels(CAUSES, hazard.argmax(axis=1))
    return frame.sort_values(["customer_id", "cutoff"], ignore_index=True)
