"""The customers and their event history (the validated tables), prepared once and shared
by every cutoff and feature family."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from contract.config import DataConfig
from features.config import FeaturesConfig
from features.events import index_events

# Event tables and the column that says when each row happened.
EVENT_TIME = {
    "transactions": "timestamp",
    "complaints": "opened_at",
    "payments": "due_date",
    "service_incidents": "timestamp",
    "surveys": "timestamp",
}


@dataclass(frozen=True)
class CustomerHistory:
    """Validated tables in the layout of ``features.events``.

    ``customers`` keeps its row order: row i is customer code i. ``events`` holds the
    present event tables, indexed; ``competitor_offers`` is None when absent.
    """

    customers: pd.DataFrame
    events: dict[str, pd.DataFrame]
    competitor_offers: pd.DataFrame | None
    features: FeaturesConfig
    data: DataConfig

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    def has(self, needed: str) -> bool:
        """Whether the data has a table ("payments") or a column ("transactions.amount")."""
        table, _, column = needed.partition(".")
        frame = {
            "customers": self.customers,
            "competitor_offers": self.competitor_offers,
            **self.events,
        }.get(table)
        return frame is not None and (not column or column in frame)

    @property
    def contract_types(self) -> pd.Series:
        """customers.contract_type; absent, every customer is non-contractual ("none")."""
        if "contract_type" in self.customers:
            return self.customers["contract_type"]
        return pd.Series("none", index=self.customers.index)

    @property
    def snapshot_label(self) -> pd.Series | None:
        """The label column of snapshot mode (data.snapshot), None otherwise."""
        snapshot = self.data.snapshot
        return None if snapshot is None else self.customers[snapshot.label]


def prepare_history(
    tables: dict[str, pd.DataFrame], features: FeaturesConfig, data: DataConfig
) -> CustomerHistory:
    """Index the event tables of validated ``tables`` by customer code."""
    customers = tables["customers"].reset_index(drop=True)
    ids = pd.Index(customers["customer_id"])
    events = {
        name: index_events(tables[name], ids, time_column)
        for name, time_column in EVENT_TIME.items()
        if name in tables
    }
    if "transactions" in events:
        events["transactions"] = _prepare_transactions(events["transactions"])
    return CustomerHistory(customers, events, tables.get("competitor_offers"), features, data)


def _prepare_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    """Add ``previous_timestamp`` (the same customer's purchase before, NaT if first) and,
    with categories, ``category_code`` (an integer per category, to count distinct ones)."""
    previous = transactions["timestamp"].shift()
    first = transactions["customer"].ne(transactions["customer"].shift())
    prepared = transactions.assign(previous_timestamp=previous.mask(first))
    if "category" in transactions:
        prepared["category_code"] = pd.factorize(transactions["category"], sort=True)[0]
    return prepared
