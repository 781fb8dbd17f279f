"""The manifest of a scoring run: what was scored, listed and excluded, and the value."""

from __future__ import annotations

import pandas as pd

from models.drift import EXEMPT, WARN
from scoring.selection import REASONS


def manifest(
    decided: pd.DataFrame,
    counts: dict[str, int],
    thresholds: dict[str, float],
    drift: pd.DataFrame,
) -> dict:
    """Counts per list, tier, action, cause and exclusion reason; value at risk, cost and
    expected net value; tier thresholds; drift. The stage adds where the run came from."""
    listed = decided[decided["exclusion"].isna()]
    at_risk = decided["churn_probability"] * decided["customer_value"].clip(lower=0)
    return {
        "counts": {
            "scored": len(decided),
            "explained": int(decided["explained"].sum()),
            "listed": len(listed),
            "by_list": counts,
            "by_tier": _counts(decided["tier"].astype(str)),
            "listed_by_tier": _counts(listed["tier"].astype(str)),
            "listed_by_action": _counts(listed["action"]),
            "listed_by_cause": _counts(listed["risk_cause_1"].fillna("none")),
            "excluded_by_reason": {
                reason: int((decided["exclusion"] == reason).sum()) for reason in REASONS
            },
        },
        "value": {
            "value_at_risk": round(float(at_risk.sum()), 2),
            "value_at_risk_listed": round(float(at_risk[listed.index].sum()), 2),
            "action_cost": round(float(listed["action_cost"].sum()), 2),
            "expected_net_value": round(float(listed["expected_net_value"].sum()), 2),
            "tier_thresholds": {tier: round(value, 2) for tier, value in thresholds.items()},
        },
        "drift": {
            "max_psi": round(float(drift["psi"].max()), 4) if len(drift) else 0.0,
            "warned": drift.loc[drift["status"] == WARN, "feature"].tolist(),
            "exempt": drift.loc[drift["status"] == EXEMPT, "feature"].tolist(),
        },
    }


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}
