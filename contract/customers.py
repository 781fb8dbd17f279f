"""The customers table when the data does not give all of it: derived from the events.

A purchase log alone is enough data: its customers are the ids that appear in any event
table, and a customer's ``signup_date``, when not given, is the date of their first event
of any kind (docs/data-contract.md, "Absent tables and columns"). Derived in DuckDB over
relations of the validated tables, so a table larger than memory is no obstacle.
"""

from __future__ import annotations

from functools import reduce

import duckdb
import pandas as pd

from contract.config import DataConfig
from contract.tables import table_contracts
from contract.validation import ROW


def complete_customers(
    tables: dict[str, pd.DataFrame], data: DataConfig
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Validated ``tables`` in memory with a customers table that has ``signup_date``,
    and notes saying what was derived (empty when the data gave both)."""
    customers = tables.get("customers")
    if customers is not None and "signup_date" in customers:
        return tables, []
    with duckdb.connect() as con:
        relations = {name: con.from_df(frame) for name, frame in tables.items()}
        numbered = None
        if customers is not None:
            numbered = con.from_df(customers.rename_axis(ROW).reset_index())
        derived, notes = customers_with_signup(numbered, first_events(relations, data))
        completed = derived.to_df().astype({"signup_date": "datetime64[ns]"})
    return {**tables, "customers": completed}, notes


def customers_with_signup(
    customers: duckdb.DuckDBPyRelation | None, first: duckdb.DuckDBPyRelation
) -> tuple[duckdb.DuckDBPyRelation, list[str]]:
    """The customers table with ``signup_date`` from ``first`` (``first_events``), and
    notes saying what was derived. ``customers``: the given table without signup_date,
    its rows numbered in column ``ROW`` (kept in that order), or None to derive the table
    from the events (one row per customer id, in id order)."""
    if customers is None:
        derived = first.select("customer_id, first_event AS signup_date").order("customer_id")
        n_customers = _count(derived)
        note = (
            f"customers: derived from the events ({n_customers:,} customer ids); "
            "signup_date is each customer's first event"
        )
        return derived, [note]
    events = first.select("customer_id AS event_customer_id, first_event")
    derived = (
        customers.join(events, "customer_id = event_customer_id", how="left")
        .order(ROW)
        .select(f"* EXCLUDE ({ROW}, event_customer_id, first_event), first_event AS signup_date")
    )
    without = _count(derived.filter("signup_date IS NULL"))
    note = (
        "customers.signup_date: absent, so each customer's first event "
        f"({without:,} customers without events have none)"
    )
    return derived, [note]


def first_events(
    tables: dict[str, duckdb.DuckDBPyRelation], data: DataConfig
) -> duckdb.DuckDBPyRelation:
    """Each customer's earliest event time (``first_event``) over every event table."""
    contracts = table_contracts(data)
    times = [
        relation.select(f'customer_id, "{contracts[name].event_time}"::TIMESTAMP AS first_event')
        for name, relation in tables.items()
        if contracts[name].has_customer_id and contracts[name].event_time is not None
    ]
    if not times:
        raise ValueError(f"no event table among {sorted(tables)} to take first events from")
    events = reduce(duckdb.DuckDBPyRelation.union, times)
    return events.aggregate("customer_id, min(first_event) AS first_event", "customer_id")


def _count(relation: duckdb.DuckDBPyRelation) -> int:
    return relation.aggregate("count(*)").fetchall()[0][0]
