"""Who gets a retention action: exclusions, expected net value, the risk threshold and budgets.

Every scored customer ends up either on a list or excluded with a reason, checked in
this order:

1. ``not_worth_retaining``: fraud, credit risk or loss-making (pipeline/scoring/tiers.py),
   or a top risk cause that makes a customer not worth it (credit risk);
2. ``below_threshold``: churn probability under ``scoring.risk_threshold``;
3. ``natural``: the top risk cause is one the business cannot act on (natural churn);
4. ``no_action``: the playbook has no action for the tier;
5. ``negative_net_value``: the action is expected to cost more than it saves;
6. ``over_budget``: the owner team's budget is spent on customers of higher value.

The expected net value of acting on a customer is churn probability x the action's
save rate x customer value - the action's cost. Lists are ranked by it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import NOT_WORTH_RETAINING, ScoringConfig
from pipeline.scoring.playbook import ACTION_COLUMNS, assign_actions
from pipeline.scoring.tiers import not_worth_retaining, tier_thresholds, value_tiers

BELOW_THRESHOLD = "below_threshold"
NATURAL = "natural"
NO_ACTION = "no_action"
NEGATIVE_NET_VALUE = "negative_net_value"
OVER_BUDGET = "over_budget"
REASONS = (
    NOT_WORTH_RETAINING,
    BELOW_THRESHOLD,
    NATURAL,
    NO_ACTION,
    NEGATIVE_NET_VALUE,
    OVER_BUDGET,
)


def screen(customers: pd.DataFrame, cfg: ScoringConfig) -> tuple[pd.DataFrame, dict[str, float]]:
    """Tier every customer and exclude those not worth retaining or below the risk
    threshold, before anything is explained. Returns the customers with ``tier``,
    ``exclusion`` and ``exclusion_detail``, and the tier thresholds."""
    unworthy = not_worth_retaining(customers, cfg.not_worth_retaining)
    worth = unworthy.isna()
    thresholds = tier_thresholds(customers.loc[worth, "customer_value"], cfg.tiers)
    screened = customers.assign(
        tier=value_tiers(customers["customer_value"], worth, thresholds),
        exclusion=pd.Series(pd.NA, index=customers.index, dtype="string").mask(
            ~worth, NOT_WORTH_RETAINING
        ),
        exclusion_detail=unworthy,
    )
    below = screened["exclusion"].isna() & (screened["churn_probability"] < cfg.risk_threshold)
    screened["exclusion"] = screened["exclusion"].mask(below, BELOW_THRESHOLD)
    return screened, thresholds


def choose_actions(
    customers: pd.DataFrame, actions: pd.DataFrame, cfg: ScoringConfig
) -> pd.DataFrame:
    """Exclude by top risk cause, give the rest their playbook action (``actions`` from
    ``action_table``) and expected net value, and cut each team's list at its budget.

    ``customers`` comes from ``screen`` with ``risk_cause_1`` added for the customers not
    yet excluded. Adds ``ACTION_COLUMNS``, ``expected_net_value`` and, for the listed
    customers, ``list_rank`` (1 = act first, within the tier and team's list).
    """
    frame = customers.copy()
    open_ = frame["exclusion"].isna()
    cause = frame["risk_cause_1"]
    unworthy = open_ & cause.isin(cfg.not_worth_retaining.causes)
    frame.loc[unworthy, "tier"] = NOT_WORTH_RETAINING
    frame = _exclude(frame, unworthy, NOT_WORTH_RETAINING, cause)
    frame = _exclude(frame, open_ & cause.isin(cfg.no_action_causes), NATURAL, cause)

    open_ = frame["exclusion"].isna()
    frame[list(ACTION_COLUMNS)] = assign_actions(frame, actions)[open_].reindex(frame.index)
    frame = _exclude(frame, open_ & frame["team"].isna(), NO_ACTION)
    frame["expected_net_value"] = expected_net_value(
        frame["churn_probability"],
        frame["save_rate"],
        frame["customer_value"],
        frame["action_cost"],
    )
    open_ = frame["exclusion"].isna()
    frame = _exclude(frame, open_ & ~(frame["expected_net_value"] > 0), NEGATIVE_NET_VALUE)

    ranked = rank_by_value(frame[frame["exclusion"].isna()])
    within = within_budget(ranked, cfg.budgets)
    frame = _exclude(frame, frame.index.isin(ranked.index[~within]), OVER_BUDGET, frame["team"])
    listed = rank_by_value(frame[frame["exclusion"].isna()])
    frame["list_rank"] = (
        listed.groupby(["tier", "team"], observed=True, sort=False)
        .cumcount()
        .add(1)
        .reindex(frame.index)
        .astype("Int64")
    )
    return frame


def expected_net_value(
    probability: pd.Series, save_rate: pd.Series, value: pd.Series, cost: pd.Series
) -> pd.Series:
    """Expected value of acting: the value kept on average minus what the action costs."""
    return probability * save_rate * value - cost


def rank_by_value(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by expected net value, highest first; ties by customer id, so reruns agree."""
    return frame.sort_values(
        ["expected_net_value", "customer_id"], ascending=[False, True], kind="stable"
    )


def within_budget(ranked: pd.DataFrame, budgets: dict[str, float | None]) -> np.ndarray:
    """Which rows of ``ranked`` (in act-first order) fit their team's budget: the list is
    cut where its cumulative cost would exceed it. A team without a budget has no limit."""
    spent = ranked.groupby("team", sort=False)["action_cost"].cumsum()
    limit = ranked["team"].map(budgets).astype(float).fillna(np.inf)
    return (spent <= limit).to_numpy()


def _exclude(
    frame: pd.DataFrame, mask: pd.Series | np.ndarray, reason: str, detail: pd.Series | None = None
) -> pd.DataFrame:
    """Mark the ``mask`` rows as excluded for ``reason`` (with ``detail`` when given)."""
    mask = np.asarray(mask, dtype=bool)
    frame["exclusion"] = frame["exclusion"].mask(mask, reason)
    if detail is not None:
        frame["exclusion_detail"] = frame["exclusion_detail"].mask(mask, detail.astype("string"))
    return frame
