"""The customers and their event history: the validated tables as Ibis tables of one
engine (DuckDB, PostgreSQL or Spark), shared by every cutoff and feature family."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from functools import cached_property

import ibis
import ibis.expr.types as ir

from contract.config import DataConfig
from features.config import FeaturesConfig

# Event tables and the column that says when each row happened.
EVENT_TIME = {
    "transactions": "timestamp",
    "complaints": "opened_at",
    "payments": "due_date",
    "service_incidents": "timestamp",
    "surveys": "timestamp",
}
# When each row of a dated table happened, or for an offer started.
ROW_TIME = {**EVENT_TIME, "competitor_offers": "start_date"}


@dataclass(frozen=True)
class CustomerHistory:
    """Validated tables as Ibis tables of one backend.

    ``events`` holds the present event tables; ``competitor_offers`` is None when absent.
    Nothing is computed until a feature table or a summary is asked for.
    """

    customers: ir.Table
    events: dict[str, ir.Table]
    competitor_offers: ir.Table | None
    features: FeaturesConfig
    data: DataConfig

    def has(self, needed: str) -> bool:
        """Whether the data has a table ("payments") or a column ("transactions.amount")."""
        table, _, column = needed.partition(".")
        found = self._tables.get(table)
        return found is not None and (not column or column in found.columns)

    def table(self, name: str) -> ir.Table:
        """The table of that contract name; KeyError if absent."""
        found = self._tables.get(name)
        if found is None:
            raise KeyError(f"the data has no table {name!r}")
        return found

    @property
    def _tables(self) -> dict[str, ir.Table | None]:
        return {
            "customers": self.customers,
            "competitor_offers": self.competitor_offers,
            **self.events,
        }

    def at(self, cutoffs: ir.Table) -> ir.Table:
        """Every customer at every cutoff of ``cutoffs``: the customers' columns and
        ``cutoff``."""
        return self.customers.cross_join(cutoffs)

    def of_customers(self, first: object | None, end: object | None) -> CustomerHistory:
        """The history of the customers whose id lies in ``[first, end)`` (no bound where
        None): their rows of the customers and event tables; competitor offers concern
        regions, not customers, and stay whole."""

        def kept(table: ir.Table) -> ir.Table:
            ids = table.customer_id
            if first is not None:
                table = table.filter(ids >= first)
            return table if end is None else table.filter(ids < end)

        events = {name: kept(table) for name, table in self.events.items()}
        return replace(self, customers=kept(self.customers), events=events)

    @cached_property
    def contract_types_present(self) -> frozenset[str]:
        """The contract types some customer has (one small query, asked once)."""
        if not self.has("customers.contract_type"):
            return frozenset({"none"})
        return frozenset(
            self.customers.select("contract_type").distinct().contract_type.to_pyarrow().to_pylist()
        )


def prepare_history(
    tables: dict[str, ir.Table], features: FeaturesConfig, data: DataConfig
) -> CustomerHistory:
    """The history of validated ``tables`` (Ibis tables of one backend, by contract name)."""
    events = {name: tables[name] for name in EVENT_TIME if name in tables}
    return CustomerHistory(
        tables["customers"], events, tables.get("competitor_offers"), features, data
    )


def customer_ranges(history: CustomerHistory, per_range: int) -> list[tuple[object, object]]:
    """The customer ids cut into as few ranges ``[first, end)`` of at most ``per_range``
    customers as there can be, of about as many customers each (None: no bound), in id
    order. The bounds are every n-th id in sorted order, one query over the ids."""
    ids = history.customers.select("customer_id")
    n_customers = ids.count().to_pyarrow().as_py()
    if n_customers <= per_range:
        return [(None, None)]
    step = math.ceil(n_customers / math.ceil(n_customers / per_range))
    ranked = ids.mutate(position=ibis.row_number().over(order_by="customer_id"))
    bounds = ranked.filter((ranked.position > 0) & (ranked.position % step == 0))
    cuts = bounds.order_by("position").customer_id.to_pyarrow().to_pylist()
    edges = [None, *cuts, None]
    return list(itertools.pairwise(edges))
