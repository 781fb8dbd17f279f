"""Satisfaction surveys. Surveys are sparse: a missing score stays NaN (absence is
information, not a zero), and the survey count and recency say how much is known."""

from __future__ import annotations

import pandas as pd

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    long = history.features.long_window_days
    return {
        "survey_score_last": "score (1-10) of the last survey answered (NaN: never)",
        "survey_score_change": "last survey score minus the one before (NaN: fewer than two)",
        f"survey_score_mean_{long}d": f"mean survey score over the last {long} days",
        f"surveys_{long}d": f"surveys answered in the last {long} days",
        "days_since_last_survey": "days since the last survey answered (NaN: never)",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    surveys = history.events["surveys"]
    n = history.n_customers
    long = history.features.long_window_days
    score = surveys["score"]
    last = ev.take(score, ev.last_before(surveys, "timestamp", cutoff, n))
    previous = ev.take(score, ev.last_before(surveys, "timestamp", cutoff, n, back=1))
    in_long = ev.in_window(surveys["timestamp"], cutoff, long)
    answered = ev.count(surveys, in_long, n)
    return pd.DataFrame(
        {
            "survey_score_last": last,
            "survey_score_change": last - previous,
            f"survey_score_mean_{long}d": ev.ratio(ev.total(surveys, score, in_long, n), answered),
            f"surveys_{long}d": answered,
            "days_since_last_survey": ev.days_since_last(surveys, "timestamp", cutoff, n),
        }
    )
