"""Lifecycle stage (domain section 3): cultivation, growth, maturity or decline.

A transparent rule over tenure and the purchase trend, so business users can check any
assignment by hand; the thresholds are in conf/features (lifecycle).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.config import LifecycleRulesConfig

STAGES = ("cultivation", "growth", "maturity", "decline")

DESCRIPTION = (
    "lifecycle stage: cultivation (new), growth, maturity, decline (purchases falling or "
    "overdue); rule in conf/features lifecycle"
)


def needs(rules: LifecycleRulesConfig) -> list[str]:
    """The features the rule reads."""
    return ["tenure_days", f"trend_purchases_{rules.trend_window_days}d", "overdue_ratio"]


def assign_stage(features: ir.Table, rules: LifecycleRulesConfig) -> ir.StringValue:
    """Stage per row of ``features`` (needs tenure_days, the trend and overdue_ratio)."""
    tenure = features.tenure_days
    falling = features[f"trend_purchases_{rules.trend_window_days}d"] <= rules.decline_trend
    overdue = features.overdue_ratio >= rules.decline_overdue_ratio
    return ibis.cases(
        (tenure < rules.cultivation_days, "cultivation"),
        ((falling | overdue).fill_null(False), "decline"),
        (tenure < rules.growth_days, "growth"),
        else_="maturity",
    )
