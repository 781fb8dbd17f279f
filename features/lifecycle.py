"""Lifecycle stage (domain section 3): cultivation, growth, maturity or decline.

A transparent rule over tenure and the purchase trend, so business users can check any
assignment by hand; the thresholds are in conf/features (lifecycle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import LifecycleRulesConfig

STAGES = ("cultivation", "growth", "maturity", "decline")

DESCRIPTION = (
    "lifecycle stage: cultivation (new), growth, maturity, decline (purchases falling or "
    "overdue); rule in conf/features lifecycle"
)


def assign_stage(features: pd.DataFrame, rules: LifecycleRulesConfig) -> pd.Categorical:
    """Stage per row of ``features`` (needs tenure_days, the trend and overdue_ratio)."""
    tenure = features["tenure_days"].to_numpy()
    falling = features[f"trend_purchases_{rules.trend_window_days}d"].to_numpy() <= (
        rules.decline_trend
    )
    overdue = features["overdue_ratio"].to_numpy() >= rules.decline_overdue_ratio
    stage = np.select(
        [tenure < rules.cultivation_days, falling | overdue, tenure < rules.growth_days],
        [STAGES.index("cultivation"), STAGES.index("decline"), STAGES.index("growth")],
        default=STAGES.index("maturity"),
    )
    return pd.Categorical.from_codes(stage, STAGES)
