"""Switching-cost proxies: what holds the customer (domain: time, economic, emotional costs).

contract_type, contract_end, loyalty tier, auto-pay and account manager come from the
customers snapshot (current values, see docs/data-contract.md); each feature is computed
only when its column is there. A contract term renews on the anniversary of contract_end
where given (the renewal date's day of year, or of month, is what counts, so a current
snapshot value does not leak into earlier cutoffs), else of signup_date: yearly for annual,
monthly for month-to-month contracts.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from contract.tables import CONTRACT_TYPES
from features import events as ev
from features.config import FeaturesConfig
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


def lookback_days(cfg: FeaturesConfig) -> int:
    return cfg.long_window_days


def previous_in_category(transactions: ir.Table) -> dict[str, ir.Value]:
    """The time of the customer's purchase of the same category before each
    (``previous_in_category``; NULL for the first, or without a category): computed once,
    like ``rfm.previous_purchase``; nothing without the column."""
    if "category" not in transactions.columns:
        return {}
    previous = transactions.timestamp.lag().over(
        group_by=[transactions.customer_id, transactions.category],
        order_by=transactions.timestamp,
    )
    return {"previous_in_category": previous}


def aggregate(history: CustomerHistory, tx: ir.Table) -> ev.Aggregates:
    """Distinct categories bought in the long window (if the column is there): the
    purchases of the window that are the first of their category in it. A plain count,
    where a distinct count made every engine aggregate the rows twice and join the two."""
    if not history.has(_NEEDS["categories"]):
        return ev.Aggregates({})
    long = history.features.long_window_days
    earlier_in_window = tx.previous_in_category >= ev.days_ago(tx.cutoff, long)
    first_of_category = tx.category.notnull() & ~earlier_in_window.fill_null(False)
    counted = ev.count(tx, ev.within(tx, long) & first_of_category).cast("float64")
    return ev.Aggregates({f"categories_{long}": counted})


def compute(history: CustomerHistory, keys: ir.Table) -> dict[str, ir.Value]:
    long = history.features.long_window_days
    computed = {
        "tenure_days": lambda: ev.days_between(keys.signup_date, keys.cutoff),
        "contract_type": lambda: keys.contract_type,
        "days_to_contract_end": lambda: days_to_renewal(
            keys.contract_end.fill_null(keys.signup_date)
            if "contract_end" in keys.columns
            else keys.signup_date,
            keys.contract_type,
            keys.cutoff,
        ),
        "loyalty_tier_rank": lambda: keys.loyalty_tier.substitute(
            {tier: float(rank) for rank, tier in enumerate(history.data.loyalty_tiers)},
            else_=ibis.null("float64"),
        ),
        "autopay": lambda: ev.as_float(keys.autopay),
        "account_manager": lambda: ev.as_float(keys.account_manager),
        "categories": lambda: keys[f"categories_{long}"],
    }
    return {_name(feature, long): make() for feature, make in _available(history, computed)}


def _available(history: CustomerHistory, features: dict) -> list[tuple[str, object]]:
    return [
        (feature, value)
        for feature, value in features.items()
        if feature not in _NEEDS or history.has(_NEEDS[feature])
    ]


def _name(feature: str, long: int) -> str:
    return f"categories_{long}d" if feature == "categories" else feature


def days_to_renewal(
    anchor: ir.TimestampValue, contract_type: ir.StringValue, cutoff: ir.TimestampValue
) -> ir.FloatingValue:
    """Days from the cutoff to the next anniversary of ``anchor`` on or after it.

    Yearly for annual contracts (29 February renews on the 28th), monthly for
    month-to-month (day of month capped at 28); NULL without a contract.
    """
    month, day = anchor.month(), anchor.day()
    year = cutoff.year()
    annual_day = ibis.ifelse((month == 2) & (day == 29), 28, day)
    annual = _on_or_after(
        cutoff, ibis.date(year, month, annual_day), ibis.date(year + 1, month, annual_day)
    )
    monthly_day = ibis.least(day, 28)
    december = cutoff.month() == 12
    monthly = _on_or_after(
        cutoff,
        ibis.date(year, cutoff.month(), monthly_day),
        ibis.date(
            ibis.ifelse(december, year + 1, year),
            ibis.ifelse(december, 1, cutoff.month() + 1),
            monthly_day,
        ),
    )
    return ibis.cases(
        (contract_type == "annual", annual),
        (contract_type == "month_to_month", monthly),
        else_=ibis.null("float64"),
    )


def _on_or_after(
    cutoff: ir.TimestampValue, this: ir.DateValue, following: ir.DateValue
) -> ir.FloatingValue:
    """Days from the cutoff to ``this`` if on or after the cutoff, else to ``following``."""
    chosen = ibis.ifelse(this.cast("timestamp") >= cutoff, this, following)
    return ev.days_between(cutoff, chosen.cast("timestamp"))
