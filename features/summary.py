"""Summaries of the feature table for people (the EDA notebook and reports)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from features.columns import LABEL

COMPLAINT_STATUSES = ("no complaint", "all resolved", "some unresolved")


def churn_rate_by(rows: pd.DataFrame, by: str | pd.Series) -> pd.DataFrame:
    """Churn rate and number of labelled rows per group (unlabelled rows are left out)."""
    labelled = rows[rows[LABEL].notna()]
    groups = labelled[by] if isinstance(by, str) else by[labelled.index]
    grouped = labelled[LABEL].astype(float).groupby(groups, observed=True)
    return pd.DataFrame({"churn_rate": grouped.mean(), "rows": grouped.size()})


def complaint_status(rows: pd.DataFrame) -> pd.Series:
    """Per row: no complaint in the long window, all complaints resolved, or some open."""
    in_window = rows.filter(regex=r"^complaints_\d+d$").max(axis=1)
    status = np.select([rows["complaints_unresolved"] > 0, in_window > 0], [2, 1], default=0)
    return pd.Series(pd.Categorical.from_codes(status, COMPLAINT_STATUSES), index=rows.index)


def binned(values: pd.Series, edges: list[float], missing: str = "missing") -> pd.Series:
    """``values`` cut into [left, right) intervals at ``edges``; NaN is its own group.

    The groups are ordered categories labelled from the edges (``[1, 4)``, ``[4, inf)``),
    then ``missing``. Let the edges span every value (use ``np.inf``): values outside count
    as missing.
    """
    # Labels made from the edges, not from the intervals' string form: how an interval
    # prints depends on the dtype of the edges and of the values (pandas 3 prints
    # ``[1.0, 4.0)`` for integer edges cut over float values).
    labels = [f"[{left:g}, {right:g})" for left, right in pairwise(edges)]
    cut = pd.cut(values, edges, right=False, labels=labels, ordered=True)
    return cut.cat.add_categories([missing]).fillna(missing)
