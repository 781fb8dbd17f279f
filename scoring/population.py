"""Who a scoring run scores: every customer active at the as-of date, with the features
the training code computes, checked against what the model expects."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from tqdm import tqdm

from contract.errors import ConfigError
from features.columns import DEFINITION, LIFECYCLE
from features.feature_table import (
    categories,
    feature_template,
    plan_features,
    snapshot,
)
from features.history import CustomerHistory
from models.drift import DriftCounts
from scoring.config import ValueConfig
from scoring.lapsed import p_alive
from scoring.schema import check_schema
from scoring.scorer import Scorer
from scoring.spark import score_on_executors
from scoring.value import customer_value

log = logging.getLogger(__name__)


@dataclass
class ScoredPopulation:
    """Everyone active at the as-of date, scored: one row per customer with the churn
    probability, the model inputs of those at risk, and every customer's drift counts.

    ``customers``: the keys, ``churn_probability`` and the columns the decisions read
    (churn definition, lifecycle stage, credit score, fraud flag: those the data has).
    ``at_risk``: the keys and model inputs of the customers whose probability reaches the
    risk threshold (the only ones that can be listed, so the only ones explained), indexed
    by their row in ``customers``. ``ranges``: the ranges of customer ids scored one at a
    time.
    """

    history: CustomerHistory
    as_of: pd.Timestamp
    customers: pd.DataFrame
    at_risk: pd.DataFrame
    drift: DriftCounts
    ranges: list[tuple[object, object]]


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


def score_population(
    history: CustomerHistory,
    cause_names: list[str],
    as_of: pd.Timestamp,
    data_end: pd.Timestamp,
    model: ClassifierMixin,
    input_types: dict[str, str],
    drift_reference: dict,
    risk_threshold: float,
    fraud_flag: str | None,
    ranges: list[tuple[object, object]],
) -> ScoredPopulation:
    """Point-in-time features of every customer active at ``as_of``, with the training
    code, checked against ``input_types`` (the model's input columns and types), their
    churn probability under ``model`` and their drift counts against ``drift_reference``.

    The customers are scored range by range of ids (``ranges``, from
    ``features.history.customer_ranges``): only one range's feature rows are held at a
    time, plus the inputs of those at risk. On Spark a range's feature rows stay on the
    executors, which predict and count drift (scoring/spark.py); the driver gets the
    probabilities and the inputs of those at risk."""
    plan = plan_features(history, cause_names)
    categories_of = categories(history, plan)
    unused = check_schema(feature_template(plan, categories_of), input_types)
    if unused:
        log.warning("features the model does not use (trained before them): %s", unused)
    present = {*plan.feature_names, DEFINITION}
    decided_on = [
        name for name in (DEFINITION, LIFECYCLE, "credit_score", fraud_flag) if name in present
    ]
    scorer = Scorer(model, list(input_types), decided_on, risk_threshold)
    drift = DriftCounts(drift_reference)
    on_executors = ibis.get_backend(history.customers).name == "pyspark"
    customers, at_risk = [], []
    progress = tqdm(ranges, desc="customer ranges", unit="range", disable=len(ranges) < 2)
    for first, end in progress:
        in_range = history.of_customers(first, end)
        if on_executors:
            scored, risky = score_on_executors(
                in_range, plan, categories_of, as_of, data_end, scorer, drift
            )
        else:
            rows = snapshot(in_range, plan, as_of, data_end, categories_of)
            scored, risky = scorer.score(rows, drift)
        if len(scored):
            customers.append(scored)
            at_risk.append(risky)
    if not customers:
        raise ConfigError(
            f"scoring.as_of: no customer is active as of {as_of.date()} (signed up before it "
            "and, without a contract, buying in the activity window); choose a date the data "
            "covers"
        )
    scored = pd.concat(customers, ignore_index=True)
    log.info("as of %s: %d active customers", as_of.date(), len(scored))
    at_risk_rows = pd.concat(at_risk).set_axis(
        np.flatnonzero(scored["churn_probability"].to_numpy() >= risk_threshold)
    )
    return ScoredPopulation(history, as_of, scored, at_risk_rows, drift, ranges)


def customers_to_decide(
    scored: ScoredPopulation,
    outlook: pd.DataFrame | None,
    value: ValueConfig,
    fraud_flag: str | None,
) -> pd.DataFrame:
    """One row per scored customer: probability, lifecycle stage, value, P(alive) (from
    ``outlook``, scoring/outlook.py) and the columns the not-worth-retaining rule reads."""
    rows = scored.customers
    values = customer_value(scored.history, scored.as_of, value, outlook)
    flags = [name for name in ("credit_score", fraud_flag) if name is not None and name in rows]
    customers = rows[["customer_id", *flags]]
    # Without a purchase history there is no lifecycle stage: the lists leave it empty.
    stage = rows[LIFECYCLE] if LIFECYCLE in rows else pd.Series(pd.NA, index=rows.index)
    customers.insert(1, LIFECYCLE, stage.to_numpy())
    customers.insert(1, "churn_probability", rows["churn_probability"].to_numpy())
    customers["p_alive"] = p_alive(outlook, rows)
    return customers.merge(values, on="customer_id", how="left", validate="one_to_one")
