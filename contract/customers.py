"""The customers table when the data does not give all of it: derived from the events.

A purchase log alone is enough data: its customers are the ids that appear in any event
table, and a customer's ``signup_date``, when not given, is the date of their first event
of any kind (docs/data-contract.md, "Absent tables and columns").
"""

from __future__ import annotations

import pandas as pd

from contract.config import DataConfig
from contract.tables import table_contracts


def complete_customers(
    tables: dict[str, pd.DataFrame], data: DataConfig
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Validated ``tables`` with a customers table that has ``signup_date``, and notes
    saying what was derived (empty when the data gave both)."""
    customers = tables.get("customers")
    if customers is not None and "signup_date" in customers:
        return tables, []
    completed, notes = customers_with_signup(customers, first_event(tables, data))
    return {**tables, "customers": completed}, notes


def customers_with_signup(
    customers: pd.DataFrame | None, first: pd.Series
) -> tuple[pd.DataFrame, list[str]]:
    """The customers table with ``signup_date`` (``first``: each customer's first event,
    from ``first_event``), derived from the events when there is no table; notes saying
    what was derived."""
    if customers is not None and "signup_date" in customers:
        return customers, []
    if customers is None:
        derived = first.rename("signup_date").rename_axis("customer_id").reset_index()
        note = (
            f"customers: derived from the events ({len(derived):,} customer ids); "
            "signup_date is each customer's first event"
        )
        return derived, [note]
    signup = customers["customer_id"].map(first).astype("datetime64[ns]")
    note = (
        "customers.signup_date: absent, so each customer's first event "
        f"({int(signup.isna().sum()):,} customers without events have none)"
    )
    return customers.assign(signup_date=signup.to_numpy()), [note]


def first_event(tables: dict[str, pd.DataFrame], data: DataConfig) -> pd.Series:
    """Each customer's earliest event time over every event table (or chunk of one),
    indexed by customer id."""
    contracts = table_contracts(data)
    times = [
        frame[["customer_id", contracts[name].event_time]].set_axis(["customer_id", "time"], axis=1)
        for name, frame in tables.items()
        if contracts[name].has_customer_id and contracts[name].event_time is not None
    ]
    if not times:
        return pd.Series(dtype="datetime64[ns]", name="time")
    events = pd.concat(times, ignore_index=True)
    return events.groupby("customer_id", sort=True)["time"].min()


def earliest(first: pd.Series | None, more: pd.Series) -> pd.Series:
    """Each customer's earlier of two ``first_event`` results (of two chunks)."""
    if first is None:
        return more
    return pd.concat([first, more]).groupby(level=0, sort=True).min()
