"""Credit risk: the credit score on file (customers.credit_score, an optional column)."""

from __future__ import annotations

import ibis.expr.types as ir

from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    return {"credit_score": "credit score on file, 300-850 (NaN: unknown); a snapshot value"}


def compute(history: CustomerHistory, keys: ir.Table) -> dict[str, ir.Value]:
    return {"credit_score": keys.credit_score.cast("float64")}
