"""Who gets a retention action: exclusions, expected net value, the risk threshold and budgets.

The expected net value of acting on a customer is churn probability x the action's save
rate x customer value - the action's cost. Every scored customer ends up either on a
list, ranked by it, or excluded with a reason:

- ``not_worth_retaining``: fraud, credit risk or loss-making (scoring/tiers.py),
  or a top risk cause that makes a customer not worth it (credit risk);
- ``lapsed``: without a contract and most likely gone already (scoring/lapsed.py): a
  win-back candidate, not a prevention target;
- ``below_threshold``: churn probability under ``scoring.risk_threshold``;
- ``no_action``: the playbook has no action for the tier (and top cause);
- ``negative_net_value``: the action is expected to cost more than it keeps;
- ``natural``: the top risk cause is one the business cannot act on (natural churn);
- ``over_budget``: the owner team's budget went to customers of higher net value.

``screen`` applies what needs no explanation (everything but the cause), so only the
customers who can still reach a list are explained; ``choose_actions`` does the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from scoring.config import NOT_WORTH_RETAINING, ScoringConfig
from scoring.lapsed import lapsed
from scoring.playbook import ACTION_COLUMNS, assign_actions
from scoring.tiers import not_worth_retaining, tier_thresholds, value_tiers

LAPSED = "lapsed"
BELOW_THRESHOLD = "below_threshold"
NATURAL = "natural"
NO_ACTION = "no_action"
NEGATIVE_NET_VALUE = "negative_net_value"
OVER_BUDGET = "over_budget"
REASONS = (
    NOT_WORTH_RETAINING,
    LAPSED,
    BELOW_THRESHOLD,
    NO_ACTION,
    NEGATIVE_NET_VALUE,
    NATURAL,
    OVER_BUDGET,
)


def screen(
    customers: pd.DataFrame, actions: pd.DataFrame, cfg: ScoringConfig
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Tier every customer and exclude, before anything is explained, those who cannot
    reach a list whatever their cause: not worth retaining, lapsed (``p_alive``), below
    the risk threshold, in a tier without action, or with no action (from ``actions``,
    ``action_table``) whose expected net value is positive. Returns the customers with
    ``tier``, ``exclusion`` and ``exclusion_detail``, and the tier thresholds."""
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
    gone = lapsed(screened["p_alive"], cfg.lapsed.p_alive_below)
    screened = _exclude(screened, gone, LAPSED)
    below = screened["churn_probability"] < cfg.risk_threshold
    screened = _exclude(screened, below, BELOW_THRESHOLD)
    best = best_net_value(screened, actions)
    screened = _exclude(screened, best == -np.inf, NO_ACTION)
    return _exclude(screened, best <= 0, NEGATIVE_NET_VALUE), thresholds


def best_net_value(customers: pd.DataFrame, actions: pd.DataFrame) -> np.ndarray:
    """The highest expected net value any action of the customer's tier can reach, for
    any cause; -inf where the tier has no action."""
    best = np.full(len(customers), -np.inf)
    tiers = customers["tier"].astype(str).to_numpy()
    probability = customers["churn_probability"].to_numpy()
    value = customers["customer_value"].to_numpy()
    deliveries = actions[["tier", "save_rate", "action_cost"]].drop_duplicates()
    for tier, save_rate, cost in deliveries.itertuples(index=False):
        mine = tiers == tier
        net = expected_net_value(probability[mine], save_rate, value[mine], cost)
        best[mine] = np.maximum(best[mine], net)
    return best


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
    cause = frame["risk_cause_1"]
    unworthy = frame["exclusion"].isna() & cause.isin(cfg.not_worth_retaining.causes)
    frame.loc[unworthy, "tier"] = NOT_WORTH_RETAINING
    frame = _exclude(frame, unworthy, NOT_WORTH_RETAINING, cause)
    frame = _exclude(frame, cause.isin(cfg.no_action_causes), NATURAL, cause)

    open_ = frame["exclusion"].isna()
    frame[list(ACTION_COLUMNS)] = assign_actions(frame, actions)[open_].reindex(frame.index)
    frame = _exclude(frame, frame["team"].isna(), NO_ACTION)
    frame["expected_net_value"] = expected_net_value(
        frame["churn_probability"],
        frame["save_rate"],
        frame["customer_value"],
        frame["action_cost"],
    )
    frame = _exclude(frame, ~(frame["expected_net_value"] > 0), NEGATIVE_NET_VALUE)

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
    probability: ArrayLike, save_rate: ArrayLike, value: ArrayLike, cost: ArrayLike
) -> ArrayLike:
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
    """Exclude the ``mask`` rows not excluded yet for ``reason`` (with ``detail`` when
    given): a customer keeps the first reason that applies."""
    mask = np.asarray(mask, dtype=bool) & frame["exclusion"].isna().to_numpy()
    frame["exclusion"] = frame["exclusion"].mask(mask, reason)
    if detail is not None:
        frame["exclusion_detail"] = frame["exclusion_detail"].mask(mask, detail.astype("string"))
    return frame
