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

import ibis
import ibis.expr.types as ir
import pandas as pd

from contract.errors import ConfigError
from contract.tables import CONTRACT_TYPES
from features import events as ev
from features.history import CustomerHistory


def churn_definitions(history: CustomerHistory) -> ir.StringValue:
    """The churn definition that applies to each customer."""
    mapping = history.features.label.definition_by_contract_type
    missing = sorted(set(CONTRACT_TYPES) - set(mapping))
    if missing:
        raise ConfigError(
            f"features.label.definition_by_contract_type: no definition for contract types "
            f"{missing}"
        )
    label_given = history.snapshot_label is not None
    contractual = any(mapping[kind] == "contractual" for kind in history.contract_types_present)
    if contractual and not history.has("customers.churn_date") and not label_given:
        raise ConfigError(
            "features.label: the contractual definition needs customers.churn_date, which the "
            "customers table does not have; map those contract types to non_contractual"
        )
    return history.contract_types.substitute(mapping)


def active_at(history: CustomerHistory, cutoff: pd.Timestamp) -> ir.Table:
    """The customers who get a row at the cutoff: ``customer_id`` and ``definition``."""
    customers = history.customers
    definition = churn_definitions(history)
    signed_up = customers.signup_date < ev.instant(cutoff)
    if history.snapshot_label is not None:
        active = signed_up | customers.signup_date.isnull()
        return customers.filter(active).select("customer_id", definition=definition)
    window = history.features.label.active_window_days
    alive = (
        customers.churn_date.isnull() | (customers.churn_date >= ev.instant(cutoff))
        if history.has("customers.churn_date")
        else ibis.literal(True)
    )
    tx = history.events["transactions"]
    tx = tx.filter(ev.in_window(tx.timestamp, cutoff, window))
    bought = ev.per_customer(customers, tx, {"purchases": ev.count(tx)})
    table = customers.mutate(
        definition=definition,
        new=customers.signup_date >= ev.instant(cutoff, window),
        alive=alive,
        signed_up=signed_up,
    ).inner_join(bought, "customer_id")
    active = (
        table.signed_up
        & table.alive
        & ((table.definition == "contractual") | (table.purchases > 0) | table.new)
    )
    return table.filter(active).select("customer_id", "definition")


def churn_label(
    history: CustomerHistory,
    cutoff: pd.Timestamp,
    observed_until: pd.Timestamp,
) -> ir.Table:
    """Every customer's ``churned``: 1.0 churned, 0.0 stayed, NULL when the label window
    runs past ``observed_until``."""
    customers = history.customers
    if history.snapshot_label is not None:
        return customers.select("customer_id", churned=ev.as_float(history.snapshot_label))
    label = history.features.label
    if cutoff + label.lookahead_days * ev.DAY > observed_until:
        return customers.select("customer_id", churned=ibis.null("float64"))
    confirmation_end = cutoff + label.lookahead_days * ev.DAY
    tx = history.events["transactions"]
    tx = tx.filter(ev.in_window(tx.timestamp, confirmation_end, label.confirmation_days))
    buys = ev.per_customer(customers, tx, {"purchases": ev.count(tx)})
    if history.has("customers.churn_date"):
        churn_date = customers.churn_date
        cancels = (churn_date >= ev.instant(cutoff)) & (
            churn_date < ev.instant(cutoff + label.horizon_days * ev.DAY)
        )
        cancels = cancels.fill_null(False)
    else:
        cancels = ibis.literal(False)
    table = customers.mutate(definition=churn_definitions(history), cancels=cancels).inner_join(
        buys, "customer_id"
    )
    churned = ibis.ifelse(table.definition == "contractual", table.cancels, table.purchases == 0)
    return table.select("customer_id", churned=ev.as_float(churned))
