"""Declared attributes: extra customer columns listed in data.extra_customer_columns.

They pass through unchanged as ``declared_<name>``: numeric ones as numbers, categorical
ones as categories (the sorted values seen in the customers table).
"""

from __future__ import annotations

import ibis.expr.types as ir

from features.columns import DECLARED_PREFIX
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    return {
        f"{DECLARED_PREFIX}{name}": (
            f"declared customer attribute {name!r} ({kind}), a snapshot value"
        )
        for name, kind in history.data.extra_customer_columns.items()
    }


def compute(history: CustomerHistory, keys: ir.Table) -> dict[str, ir.Value]:
    return {
        f"{DECLARED_PREFIX}{name}": (
            keys[name].cast("float64") if kind == "numeric" else keys[name]
        )
        for name, kind in history.data.extra_customer_columns.items()
    }
