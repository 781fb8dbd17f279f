"""Credit risk: the credit score on file (customers.credit_score, an optional column)."""

from __future__ import annotations

import pandas as pd

from features.inputs import Inputs


def describe(inputs: Inputs) -> dict[str, str]:
    return {"credit_score": "credit score on file, 300-850 (NaN: unknown); a snapshot value"}


def compute(inputs: Inputs, cutoff: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"credit_score": inputs.customers["credit_score"].to_numpy(dtype=float)})
