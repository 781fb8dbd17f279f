"""Who gets a row at a cutoff, and the churn label of each row.

Definitions per customer come from contract_type (features.label; without the column
every customer is non-contractual):

- contractual: churned if churn_date falls in [cutoff, cutoff + horizon), the cutoff day
  included (the cutoff is the instant that starts it);
- non_contractual: churned if no purchase happens in [cutoff + horizon, cutoff + horizon +
  confirmation): gone by the end of the horizon, confirmed by a silence that a customer
  merely in a quiet spell rarely keeps. A customer who buys once more in the horizon and
  then leaves has churned; one who skips the horizon and comes back has not.

A customer gets a row when signed up before the cutoff, not churned before it (churn_date
on or after the cutoff, or empty), and, for the non-contractual definition, active:
bought or signed up within ``active_window_days`` before it. A label window that ends
after the data does is censored: the label is missing and the row is for scoring only.
Every label looks ``lookahead_days`` (horizon + confirmation) past its cutoff, whatever its
definition, so that all rows of a cutoff are labelled or none is.

Snapshot mode (data.snapshot): the one cutoff is the snapshot date, every customer of the
table signed up before it (or with no signup date) gets a row, and the label is the
table's label column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from contract.tables import CONTRACT_TYPES
from features import events as ev
from features.config import CHURN_DEFINITIONS
from features.history import CustomerHistory


def churn_definitions(history: CustomerHistory) -> pd.Categorical:
    """The churn definition that applies to each customer."""
    mapping = history.features.label.definition_by_contract_type
    missing = sorted(set(CONTRACT_TYPES) - set(mapping))
    if missing:
        raise ConfigError(
            f"features.label.definition_by_contract_type: no definition for contract types "
            f"{missing}"
        )
    definitions = pd.Categorical(history.contract_types.map(mapping), CHURN_DEFINITIONS)
    label_given = history.snapshot_label is not None
    contractual = "contractual" in set(definitions)
    if contractual and "churn_date" not in history.customers and not label_given:
        raise ConfigError(
            "features.label: the contractual definition needs customers.churn_date, which the "
            "customers table does not have; map those contract types to non_contractual"
        )
    return definitions


def active_at(
    history: CustomerHistory, cutoff: pd.Timestamp, definitions: pd.Categorical
) -> np.ndarray:
    """Which customers get a row at the cutoff (boolean per customer)."""
    customers = history.customers
    window = history.features.label.active_window_days
    signed_up = (customers["signup_date"] < cutoff).to_numpy()
    if history.snapshot_label is not None:
        return signed_up | customers["signup_date"].isna().to_numpy()
    alive = (
        ~(customers["churn_date"] < cutoff).to_numpy()
        if "churn_date" in customers
        else np.ones(len(customers), dtype=bool)
    )
    tx = history.events["transactions"]
    bought = ev.count(tx, ev.in_window(tx["timestamp"], cutoff, window), history.n_customers) > 0
    new = (customers["signup_date"] >= cutoff - window * ev.DAY).to_numpy()
    contractual = np.asarray(definitions == "contractual")
    return signed_up & alive & (contractual | bought | new)


def churn_label(
    history: CustomerHistory,
    cutoff: pd.Timestamp,
    definitions: pd.Categorical,
    observed_until: pd.Timestamp,
) -> np.ndarray:
    """1.0 churned, 0.0 stayed, NaN when the label window runs past ``observed_until``."""
    if history.snapshot_label is not None:
        return history.snapshot_label.to_numpy(dtype=float)
    label = history.features.label
    horizon = label.horizon_days * ev.DAY
    if cutoff + label.lookahead_days * ev.DAY > observed_until:
        return np.full(history.n_customers, np.nan)
    tx = history.events["transactions"]
    confirmation_end = cutoff + label.lookahead_days * ev.DAY
    buys_after_horizon = (
        ev.count(
            tx,
            ev.in_window(tx["timestamp"], confirmation_end, label.confirmation_days),
            history.n_customers,
        )
        > 0
    )
    if "churn_date" in history.customers:
        churn_date = history.customers["churn_date"]
        cancels = ((churn_date >= cutoff) & (churn_date < cutoff + horizon)).to_numpy()
    else:
        cancels = np.zeros(history.n_customers, dtype=bool)
    contractual = np.asarray(definitions == "contractual")
    return np.where(contractual, cancels, ~buys_after_horizon).astype(float)
