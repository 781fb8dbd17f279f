"""Switching-cost proxies: what holds the customer (domain: time, economic, emotional costs).

contract_type, contract_end, loyalty tier, auto-pay and account manager come from the
customers snapshot (current values, see docs/data-contract.md); each feature is computed
only when its column is there. A contract term renews on the anniversary of contract_end
where given (the renewal date's day of year, or of month, is what counts, so a current
snapshot value does not leak into earlier cutoffs), else of signup_date: yearly for annual,
monthly for month-to-month contracts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.tables import CONTRACT_TYPES
from features import events as ev
from features.history import CustomerHistory

# Feature -> the column it needs (tenure needs only signup_date, which every customers
# table has once validated).
_NEEDS = {
    "contract_type": "customers.contract_type",
    "days_to_contract_end": "customers.contract_type",
    "loyalty_tier_rank": "customers.loyalty_tier",
    "autopay": "customers.autopay",
    "account_manager": "customers.account_manager",
    "categories": "transactions.category",
}


def describe(history: CustomerHistory) -> dict[str, str]:
    long = history.features.long_window_days
    described = {
        "tenure_days": "days since signup",
        "contract_type": f"contract type: {', '.join(CONTRACT_TYPES)}",
        "days_to_contract_end": "days to the end of the current contract term, i.e. the next "
        "renewal (NaN: no contract)",
        "loyalty_tier_rank": "loyalty tier as its rank in data.loyalty_tiers (0 = lowest)",
        "autopay": "automatic payment set up (1/0)",
        "account_manager": "has a dedicated account manager (1/0)",
        "categories": f"distinct product categories bought in the last {long} days",
    }
    return {_name(feature, long): text for feature, text in _available(history, described)}


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    customers = history.customers
    long = history.features.long_window_days
    computed = {
        "tenure_days": lambda: ev.days_before(cutoff, customers["signup_date"]),
        "contract_type": lambda: pd.Categorical(customers["contract_type"], CONTRACT_TYPES),
        "days_to_contract_end": lambda: days_to_renewal(
            customers["contract_end"].fillna(customers["signup_date"])
            if "contract_end" in customers
            else customers["signup_date"],
            customers["contract_type"],
            cutoff,
        ),
        "loyalty_tier_rank": lambda: (
            customers["loyalty_tier"]
            .map({tier: rank for rank, tier in enumerate(history.data.loyalty_tiers)})
            .to_numpy(dtype=float)
        ),
        "autopay": lambda: customers["autopay"].to_numpy(dtype=float),
        "account_manager": lambda: customers["account_manager"].to_numpy(dtype=float),
        "categories": lambda: _categories(history, cutoff, long),
    }
    return pd.DataFrame(
        {_name(feature, long): make() for feature, make in _available(history, computed)}
    )


def _available(history: CustomerHistory, features: dict) -> list[tuple[str, object]]:
    return [
        (feature, value)
        for feature, value in features.items()
        if feature not in _NEEDS or history.has(_NEEDS[feature])
    ]


def _name(feature: str, long: int) -> str:
    return f"categories_{long}d" if feature == "categories" else feature


def _categories(history: CustomerHistory, cutoff: pd.Timestamp, long: int) -> np.ndarray:
    """Distinct (customer, category) pairs in the long window, counted per customer."""
    tx = history.events["transactions"]
    in_long = ev.in_window(tx["timestamp"], cutoff, long)
    n_codes = np.int64(tx["category_code"].max() + 1) if len(tx) else np.int64(1)
    pairs = pd.unique(
        tx["customer"].to_numpy()[in_long] * n_codes + tx["category_code"].to_numpy()[in_long]
    )
    return np.bincount(pairs // n_codes, minlength=history.n_customers).astype(float)


def days_to_renewal(
    signup: pd.Series, contract_type: pd.Series, cutoff: pd.Timestamp
) -> np.ndarray:
    """Days from the cutoff to the next signup anniversary on or after it.

    Yearly for annual contracts (29 February renews on the 28th), monthly for
    month-to-month (day of month capped at 28); NaN without a contract.
    """
    month, day = signup.dt.month.to_numpy(), signup.dt.day.to_numpy()
    this_year = cutoff.year * 12 + month - 1
    this_month = np.full(len(signup), cutoff.year * 12 + cutoff.month - 1)
    annual = _days_to_next(cutoff, this_year, np.where((month == 2) & (day == 29), 28, day), 12)
    monthly = _days_to_next(cutoff, this_month, np.minimum(day, 28), 1)
    kind = contract_type.to_numpy()
    return np.select([kind == "annual", kind == "month_to_month"], [annual, monthly], np.nan)


def _days_to_next(
    cutoff: pd.Timestamp, month_index: np.ndarray, day: np.ndarray, step_months: int
) -> np.ndarray:
    """Days to the date (month_index, day) if on or after the cutoff, else one step later.

    ``month_index`` counts months as year * 12 + month - 1.
    """
    this, following = _dates(month_index, day), _dates(month_index + step_months, day)
    chosen = np.where(this >= cutoff.to_datetime64(), this, following)
    return (chosen - cutoff.to_datetime64()) / np.timedelta64(1, "D")


def _dates(month_index: np.ndarray, day: np.ndarray) -> np.ndarray:
    parts = pd.DataFrame({"year": month_index // 12, "month": month_index % 12 + 1, "day": day})
    return pd.to_datetime(parts).to_numpy()
