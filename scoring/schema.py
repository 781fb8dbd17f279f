"""The check that the features computed for scoring are what the model was trained on."""

from __future__ import annotations

import pandas as pd

from scoring.errors import SchemaMismatch

NUMERIC_TYPES = ("double", "float", "long", "integer", "boolean")


def check_schema(rows: pd.DataFrame, expected: dict[str, str]) -> list[str]:
    """Fail when ``rows`` lack a column of ``expected`` (column -> the MLflow type the model
    expects: double, string, ...) or have it with an incompatible type; return the
    columns the model does not use (dropped by scoring)."""
    missing = [name for name in expected if name not in rows]
    wrong = [
        f"{name} ({rows[name].dtype}, model expects {kind})"
        for name, kind in expected.items()
        if name in rows and _numeric(rows[name]) != (kind in NUMERIC_TYPES)
    ]
    problems = [f"missing {missing}"] if missing else []
    problems += [f"wrong type {wrong}"] if wrong else []
    if problems:
        raise SchemaMismatch(
            f"the features do not match the model's signature: {'; '.join(problems)}. "
            "Retrain the model on the current features, or score with the model version "
            "that matches them (scoring.model_version)"
        )
    return [name for name in rows.columns if name not in expected]


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
