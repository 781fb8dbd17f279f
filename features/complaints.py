"""Complaint history: volume, open complaints, resolution speed and quality, repeats.

A complaint counts as resolved only if it was resolved before the cutoff; its resolution
time and satisfaction rating are unknown until then.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.tables import COMPLAINT_CATEGORIES
from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    long = cfg.long_window_days
    return {
        **{f"complaints_{w}d": f"complaints opened in the last {w} days" for w in cfg.windows_days},
        **{
            f"complaints_{category}_{long}d": f"{category} complaints opened in {long} days"
            for category in COMPLAINT_CATEGORIES
        },
        f"complaints_repeat_{long}d": f"complaints in the last {long} days about a category "
        "the customer had complained about before",
        f"complaint_severity_max_{long}d": f"highest complaint severity (1-3) in {long} days",
        "complaints_unresolved": "complaints open at the cutoff (not resolved before it)",
        "complaint_oldest_open_days": "age in days of the oldest complaint open at the cutoff",
        "days_since_last_complaint": "days since the last complaint was opened (NaN: none)",
        "complaint_resolution_days_mean": "mean days to resolve, over complaints resolved "
        "before the cutoff",
        "complaint_resolution_days_max": "longest days to resolve a complaint resolved before "
        "the cutoff",
        "complaint_resolution_satisfaction_mean": "mean rating (1-5) of resolutions before the "
        "cutoff",
        "complaint_resolution_satisfaction_min": "worst rating (1-5) of a resolution before the "
        "cutoff",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    cfg = history.features
    complaints = history.events["complaints"]
    n = history.n_customers
    long = cfg.long_window_days
    opened = complaints["opened_at"]
    in_long = ev.in_window(opened, cutoff, long)
    before = ev.in_window(opened, cutoff)
    resolved = ev.in_window(complaints["resolved_at"], cutoff)
    still_open = before & ~resolved
    repeat = complaints.groupby(["customer", "category"], sort=False).cumcount().to_numpy() > 0
    resolution_days = ((complaints["resolved_at"] - opened) / ev.DAY).to_numpy(
        dtype=float, na_value=np.nan
    )
    rating = complaints["resolution_satisfaction"].to_numpy(dtype=float, na_value=np.nan)
    rated = resolved & ~np.isnan(rating)

    columns = {
        f"complaints_{w}d": ev.count(complaints, ev.in_window(opened, cutoff, w), n)
        for w in cfg.windows_days
    }
    for category in COMPLAINT_CATEGORIES:
        is_category = (complaints["category"] == category).to_numpy()
        columns[f"complaints_{category}_{long}d"] = ev.count(complaints, in_long & is_category, n)
    columns[f"complaints_repeat_{long}d"] = ev.count(complaints, in_long & repeat, n)
    columns[f"complaint_severity_max_{long}d"] = ev.maximum(
        complaints, complaints["severity"], in_long, n
    )
    columns["complaints_unresolved"] = ev.count(complaints, still_open, n)
    columns["complaint_oldest_open_days"] = ev.maximum(
        complaints, ev.days_before(cutoff, opened), still_open, n
    )
    columns["days_since_last_complaint"] = ev.days_since_last(complaints, "opened_at", cutoff, n)
    columns["complaint_resolution_days_mean"] = ev.ratio(
        ev.total(complaints, np.nan_to_num(resolution_days), resolved, n),
        ev.count(complaints, resolved, n),
    )
    columns["complaint_resolution_days_max"] = ev.maximum(complaints, resolution_days, resolved, n)
    columns["complaint_resolution_satisfaction_mean"] = ev.ratio(
        ev.total(complaints, np.nan_to_num(rating), rated, n), ev.count(complaints, rated, n)
    )
    columns["complaint_resolution_satisfaction_min"] = -ev.maximum(complaints, -rating, rated, n)
    return pd.DataFrame(columns)
