"""Feature drift between the model's training rows and a scoring population.

The train stage stores a *reference profile* with the model: per feature, the bin edges
of the training deciles (numeric) or the training categories (categorical), and the
share of training rows in each bin, with missing values in a bin of their own. Scoring
puts its rows into the same bins and computes the population stability index per
feature,

    PSI = sum over bins of (scoring share - training share) * ln(scoring share / training share),

with shares floored at ``FLOOR`` so an empty bin does not make it infinite. A common
reading: below 0.1 stable, 0.1-0.25 a shift worth a look, above 0.25 a different population.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import numpy as np
import pandas as pd

FLOOR = 1e-4
OK, WARN, REFUSE, EXEMPT = "ok", "warn", "refuse", "exempt"


def reference_profile(rows: pd.DataFrame, bins: int) -> dict:
    """The reference profile of ``rows`` (the model's input frame): JSON-ready."""
    features = {}
    for name in rows.columns:
        column = rows[name]
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=float, na_value=np.nan)
            finite = values[~np.isnan(values)]
            quantiles = np.linspace(0, 1, bins + 1)[1:-1]
            edges = np.unique(np.quantile(finite, quantiles)) if len(finite) else np.array([])
            features[name] = {"edges": edges.tolist(), "shares": _numeric_shares(values, edges)}
        else:
            categories = sorted(column.dropna().astype(str).unique())
            features[name] = {
                "categories": categories,
                "shares": _category_shares(column, categories),
            }
    return {"bins": bins, "rows": len(rows), "features": features}


def psi_by_feature(profile: dict, rows: pd.DataFrame) -> pd.Series:
    """PSI of each profiled feature of ``rows`` against the profile, largest first."""
    psi = {}
    for name, reference in profile["features"].items():
        column = rows[name]
        if "edges" in reference:
            values = column.to_numpy(dtype=float, na_value=np.nan)
            shares = _numeric_shares(values, np.asarray(reference["edges"]))
        else:
            shares = _category_shares(column, reference["categories"])
        psi[name] = population_stability_index(reference["shares"], shares)
    return pd.Series(psi, name="psi").sort_values(ascending=False, kind="stable")


def unseen_categories(profile: dict, rows: pd.DataFrame, examples: int = 5) -> dict[str, str]:
    """Per categorical feature of ``rows`` with values the training rows never had (the
    model reads them as missing): up to ``examples`` of those values with their counts."""
    unseen = {}
    for name, reference in profile["features"].items():
        if "categories" not in reference:
            continue
        text = rows[name].astype("string").dropna()
        counts = text[~text.isin(reference["categories"])].value_counts()
        if len(counts):
            shown = ", ".join(f"{value!r} ({count})" for value, count in counts[:examples].items())
            unseen[name] = shown + (
                f" and {len(counts) - examples} more" if len(counts) > examples else ""
            )
    return unseen


def population_stability_index(expected: list[float], actual: list[float]) -> float:
    """PSI between two share vectors over the same bins (shares floored at ``FLOOR``)."""
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_table(
    psi: pd.Series, warn: float, refuse: float, exempt: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per feature: its PSI and status: ok, warn above ``warn``, refuse above
    ``refuse``. A feature matching an ``exempt`` pattern (fnmatch) is marked exempt above
    ``warn`` and never refuses; ``exempt_because`` gives the pattern's reason."""
    reasons = [
        next((why for pattern, why in (exempt or {}).items() if fnmatchcase(name, pattern)), "")
        for name in psi.index
    ]
    exempted = np.array([bool(reason) for reason in reasons], dtype=bool)
    status = np.select(
        [exempted & (psi > warn), psi > refuse, psi > warn], [EXEMPT, REFUSE, WARN], OK
    )
    return pd.DataFrame(
        {"feature": psi.index, "psi": psi.to_numpy(), "status": status, "exempt_because": reasons}
    )


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    """Shares per decile bin (``len(edges) + 1`` bins), then the share of missing values."""
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
    )
    return _shares([*counts, int(missing.sum())], len(values))


def _category_shares(column: pd.Series, categories: list[str]) -> list[float]:
    """Shares per training category, then of categories unseen in training, then missing."""
    text = column.astype("string")
    counts = text.value_counts()
    known = [int(counts.get(category, 0)) for category in categories]
    missing = int(text.isna().sum())
    return _shares([*known, len(column) - sum(known) - missing, missing], len(column))


def _shares(counts: list[int], total: int) -> list[float]:
    return [count / total if total else 0.0 for count in counts]
