"""Switching-cost proxies: what holds the customer (domain: time, economic, emotional costs).

contract_type, loyalty tier, auto-pay and account manager come from the customers
snapshot (current values, see docs/data-contract.md). Contract terms renew on the
anniversary of signup_date: yearly for annual, monthly for month-to-month contracts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.tables import CONTRACT_TYPES
from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    long = history.features.long_window_days
    return {
        "tenure_days": "days since signup",
        "contract_type": f"contract type: {', '.join(CONTRACT_TYPES)}",
        "days_to_contract_end": "days to the end of the current contract term, i.e. the next "
        "renewal (NaN: no contract)",
        "loyalty_tier_rank": "loyalty tier as its rank in data.loyalty_tiers (0 = lowest)",
        "autopay": "automatic payment set up (1/0)",
        "account_manager": "has a dedicated account manager (1/0)",
        f"categories_{long}d": f"distinct product categories bought in the last {long} days",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    customers = history.customers
    tx = history.events["transactions"]
    long = history.features.long_window_days
    in_long = ev.in_window(tx["timestamp"], cutoff, long)
    # Distinct (customer, category) pairs in the window, counted per customer.
    n_codes = np.int64(tx["category_code"].max() + 1) if len(tx) else np.int64(1)
    pairs = pd.unique(
        tx["customer"].to_numpy()[in_long] * n_codes + tx["category_code"].to_numpy()[in_long]
    )
    n_categories = np.bincount(pairs // n_codes, minlength=history.n_customers)
    return pd.DataFrame(
        {
            "tenure_days": ev.days_before(cutoff, customers["signup_date"]),
            "contract_type": pd.Categorical(customers["contract_type"], CONTRACT_TYPES),
            "days_to_contract_end": days_to_renewal(
                customers["signup_date"], customers["contract_type"], cutoff
            ),
            "loyalty_tier_rank": customers["loyalty_tier"]
            .map({tier: rank for rank, tier in enumerate(history.data.loyalty_tiers)})
            .to_numpy(dtype=float),
            "autopay": customers["autopay"].to_numpy(dtype=float),
            "account_manager": customers["account_manager"].to_numpy(dtype=float),
            f"categories_{long}d": n_categories.astype(float),
        }
    )


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
