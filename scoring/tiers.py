"""Value tiers (domain section 4): VIP, major, ordinary, small, or not worth retaining.

A customer is *not worth retaining* when flagged for fraud, when their credit score on
file is at or below the limit (malicious churn: low creditworthiness), or when they are
loss-making (customer value at or below the limit). The others are tiered by customer
value: each tier starts at a quantile of the worth-retaining customers' values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from scoring.config import NOT_WORTH_RETAINING, WORTH_RETAINING_TIERS, NotWorthRetainingConfig

TIERS = (*WORTH_RETAINING_TIERS, NOT_WORTH_RETAINING)
FRAUD, CREDIT_RISK, LOSS_MAKING = "fraud", "credit_risk", "loss_making"


def not_worth_retaining(customers: pd.DataFrame, cfg: NotWorthRetainingConfig) -> pd.Series:
    """Why each customer is not worth retaining (fraud, credit_risk, loss_making, in this
    order of precedence), or missing when they are worth it.

    ``customers`` has ``customer_value``, ``credit_score`` (NaN: unknown) and the fraud
    flag column when ``cfg.fraud_flag`` names one.
    """
    rules = [(LOSS_MAKING, customers["customer_value"] <= cfg.max_customer_value)]
    if cfg.max_credit_score is not None and "credit_score" in customers:
        rules.append((CREDIT_RISK, customers["credit_score"] <= cfg.max_credit_score))
    if cfg.fraud_flag is not None:
        if cfg.fraud_flag not in customers:
            raise ConfigError(
                f"scoring.not_worth_retaining.fraud_flag: no column {cfg.fraud_flag!r}; declare "
                "it in data.extra_customer_columns (it appears as declared_<name>)"
            )
        rules.append((FRAUD, customers[cfg.fraud_flag].fillna(0) > 0))
    reason = pd.Series(pd.NA, index=customers.index, dtype="string")
    for name, flagged in rules:
        reason = reason.mask(flagged.to_numpy(), name)
    return reason


def tier_thresholds(values: pd.Series, quantiles: dict[str, float]) -> dict[str, float]:
    """The customer value at which each tier starts: its quantile of ``values``."""
    if values.empty:
        return {tier: np.inf for tier in quantiles}
    return {tier: float(values.quantile(q)) for tier, q in quantiles.items()}


def value_tiers(
    values: pd.Series, worth_retaining: pd.Series, thresholds: dict[str, float]
) -> pd.Series:
    """Each customer's tier: the highest whose threshold their value reaches, or
    not_worth_retaining. Thresholds are listed highest tier first."""
    tier = np.full(len(values), NOT_WORTH_RETAINING, dtype=object)
    placed = ~worth_retaining.to_numpy()
    for name, threshold in thresholds.items():
        reach = ~placed & (values.to_numpy() >= threshold)
        tier[reach] = name
        placed |= reach
    tier[~placed] = WORTH_RETAINING_TIERS[-1]
    return pd.Series(pd.Categorical(tier, categories=TIERS), index=values.index, name="tier")
