"""Who a scoring run scores: every customer active at the as-of date, with the features
the training code computes, checked against what the model expects."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features.columns import LIFECYCLE
from features.feature_table import plan_features, snapshot
from features.history import CustomerHistory
from models.estimators import model_inputs
from scoring.config import ValueConfig
from scoring.lapsed import p_alive
from scoring.schema import check_schema
from scoring.value import customer_value

log = logging.getLogger(__name__)


@dataclass
class ActiveCustomers:
    """Everyone active at the as-of date: their feature rows and the model's inputs."""

    history: CustomerHistory
    rows: pd.DataFrame
    features: pd.DataFrame
    as_of: pd.Timestamp


def scoring_date(as_of: str | None, data_end: pd.Timestamp) -> pd.Timestamp:
    """The as-of date: the configured one (a date, checked when the config is loaded), or
    the end of the observed data. A date after the data would score customers on events
    that are missing, so it is refused."""
    if as_of is None:
        return data_end
    date = pd.Timestamp(as_of)
    if date > data_end:
        raise ConfigError(
            f"scoring.as_of: {date.date()} is after the end of the data ({data_end.date()}); "
            "events up to the as-of date are needed"
        )
    return date


def active_customers(
    history: CustomerHistory,
    cause_names: list[str],
    as_of: pd.Timestamp,
    data_end: pd.Timestamp,
    input_types: dict[str, str],
) -> ActiveCustomers:
    """Point-in-time features of every customer active at ``as_of``, with the training
    code, checked against ``input_types`` (the model's input columns and types)."""
    plan = plan_features(history, cause_names)
    rows = snapshot(history, plan, as_of, data_end)
    log.info("as of %s: %d active customers", as_of.date(), len(rows))
    if rows.empty:
        raise ConfigError(
            f"scoring.as_of: no customer is active as of {as_of.date()} (signed up before it "
            "and, without a contract, buying in the activity window); choose a date the data "
            "covers"
        )
    unused = check_schema(rows[plan.feature_names], input_types)
    if unused:
        log.warning("features the model does not use (trained before they existed): %s", unused)
    return ActiveCustomers(history, rows, model_inputs(rows, list(input_types)), as_of)


def customers_to_decide(
    active: ActiveCustomers,
    probability: np.ndarray,
    outlook: pd.DataFrame | None,
    value: ValueConfig,
    fraud_flag: str | None,
) -> pd.DataFrame:
    """One row per scored customer: probability, lifecycle stage, value, P(alive) (from
    ``outlook``, scoring/outlook.py) and the columns the not-worth-retaining rule reads."""
    history, rows = active.history, active.rows
    values = customer_value(history, active.as_of, value, outlook)
    flags = [name for name in ("credit_score", fraud_flag) if name is not None and name in rows]
    customers = rows[["customer_id", *flags]].reset_index(drop=True)
    # Without a purchase history there is no lifecycle stage: the lists leave it empty.
    stage = rows[LIFECYCLE] if LIFECYCLE in rows else pd.Series(pd.NA, index=rows.index)
    customers.insert(1, LIFECYCLE, stage.to_numpy())
    customers.insert(1, "churn_probability", probability)
    customers["p_alive"] = p_alive(outlook, rows)
    return customers.merge(values, on="customer_id", how="left", validate="one_to_one")
