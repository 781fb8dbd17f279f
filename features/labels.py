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


def churn_definitions(history: CustomerHistory, customers: ir.Table) -> ir.StringValue:
    """The churn definition that applies to each customer of ``customers`` (a table with
    the customers' columns)."""
    mapping = history.features.label.definition_by_contract_type
    missing = sorted(set(CONTRACT_TYPES) - set(mapping))
    if missing:
        raise ConfigError(
            f"features.label.definition_by_contract_type: no definition for contract types "
            f"{missing}"
        )
    label_given = history.data.snapshot is not None
    contractual = any(mapping[kind] == "contractual" for kind in history.contract_types_present)
    if contractual and not history.has("customers.churn_date") and not label_given:
        raise ConfigError(
            "features.label: the contractual definition needs customers.churn_date, which the "
            "customers table does not have; map those contract types to non_contractual"
        )
    if not history.has("customers.contract_type"):
        return ibis.literal(mapping["none"])
    return customers.contract_type.substitute(mapping)


def active_at(history: CustomerHistory, cutoffs: ir.Table) -> ir.Table:
    """The customers who get a row at each cutoff: ``customer_id``, ``cutoff`` and
    ``definition``."""
    keys = history.at(cutoffs)
    keys = keys.mutate(definition=churn_definitions(history, keys))
    signed_up = keys.signup_date < keys.cutoff
    if history.data.snapshot is not None:
        return keys.filter(signed_up | keys.signup_date.isnull()).select(*ev.KEYS, "definition")
    window = history.features.label.active_window_days
    alive = (
        keys.churn_date.isnull() | (keys.churn_date >= keys.cutoff)
        if history.has("customers.churn_date")
        else ibis.literal(True)
    )
    tx = ev.before_cutoffs(history.events["transactions"], "timestamp", cutoffs, window)
    bought = ev.per_customer(keys, tx, {"purchases": ev.count(tx)})
    table = keys.mutate(
        new=keys.signup_date >= ev.days_ago(keys.cutoff, window),
        alive=alive,
        signed_up=signed_up,
    ).inner_join(bought, list(ev.KEYS))
    active = (
        table.signed_up
        & table.alive
        & ((table.definition == "contractual") | (table.purchases > 0) | table.new)
    )
    return table.filter(active).select(*ev.KEYS, "definition")


def churn_label(history: CustomerHistory, rows: ir.Table, observed_until: pd.Timestamp) -> ir.Table:
    """The ``churned`` of each (customer_id, cutoff) of ``rows``: 1.0 churned, 0.0 stayed,
    NULL when the label window runs past ``observed_until``. Only those customers' purchases
    are read (a hash join on the customer)."""
    rows = rows.select(*ev.KEYS)
    keys = rows.inner_join(history.customers, "customer_id")
    if history.data.snapshot is not None:
        return keys.select(*ev.KEYS, churned=ev.as_float(keys[history.data.snapshot.label]))
    label = history.features.label
    horizon_end = keys.cutoff + ibis.interval(days=label.horizon_days)
    confirmation_end = keys.cutoff + ibis.interval(days=label.lookahead_days)
    # The purchases in each cutoff's confirmation window: after the horizon, before its end.
    tx = history.events["transactions"]
    after_horizon = (tx.customer_id == rows.customer_id) & (
        (tx.timestamp >= rows.cutoff + ibis.interval(days=label.horizon_days))
        & (tx.timestamp < rows.cutoff + ibis.interval(days=label.lookahead_days))
    )
    confirming = tx.inner_join(rows, after_horizon).select(*tx.columns, rows.cutoff)
    buys = ev.per_customer(keys, confirming, {"purchases": ev.count(confirming)})
    if history.has("customers.churn_date"):
        churn_date = keys.churn_date
        cancels = ((churn_date >= keys.cutoff) & (churn_date < horizon_end)).fill_null(False)
    else:
        cancels = ibis.literal(False)
    table = keys.mutate(
        definition=churn_definitions(history, keys),
        cancels=cancels,
        censored=confirmation_end > observed_until.to_pydatetime(),
    ).inner_join(buys, list(ev.KEYS))
    churned = ibis.ifelse(table.definition == "contractual", table.cancels, table.purchases == 0)
    return table.select(
        *ev.KEYS, churned=ibis.ifelse(table.censored, ibis.null("float64"), ev.as_float(churned))
    )
