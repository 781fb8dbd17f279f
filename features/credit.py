"""Credit risk: the credit score on file (customers.credit_score, an optional column)."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    return {"credit_score": "credit score on file, 300-850 (NaN: unknown); a snapshot value"}


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> ir.Table:
    customers = history.customers
    return customers.select("customer_id", credit_score=customers.credit_score.cast("float64"))
