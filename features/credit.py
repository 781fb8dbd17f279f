"""Credit risk: the credit score on file (customers.credit_score, an optional column)."""

from __future__ import annotations

import pandas as pd

from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    return {"credit_score": "credit score on file, 300-850 (NaN: unknown); a snapshot value"}


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"credit_score": history.customers["credit_score"].to_numpy(dtype=float)})
