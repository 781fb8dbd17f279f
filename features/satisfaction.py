"""Satisfaction surveys. Surveys are sparse: a missing score stays NaN (absence is
information, not a zero), and the survey count and recency say how much is known."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

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


def with_recency_rank(surveys: ir.Table) -> ir.Table:
    """Each survey with ``latest``: 0 for the last one before the cutoff, 1 for the one
    before it... A tie in time goes to the higher score, so every engine agrees."""
    latest = ibis.row_number().over(
        group_by=[surveys.customer_id, surveys.cutoff],
        order_by=[surveys.timestamp.desc(), surveys.score.desc()],
    )
    return surveys.mutate(latest=latest)


def aggregate(history: CustomerHistory, ranked: ir.Table) -> ev.Aggregates:
    in_long = ev.within(ranked, history.features.long_window_days)
    return ev.Aggregates(
        {"answered": ev.count(ranked, in_long), "score_sum": ev.total(ranked.score, in_long)},
        {
            "last": ranked.score.max(where=ranked.latest == 0),
            "previous": ranked.score.max(where=ranked.latest == 1),
            "days_since_last": ranked.age.min(),
        },
    )


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    long = history.features.long_window_days
    return {
        "survey_score_last": a["last"].cast("float64"),
        "survey_score_change": (a["last"] - a.previous).cast("float64"),
        f"survey_score_mean_{long}d": ev.ratio(a.score_sum, a.answered),
        f"surveys_{long}d": a.answered,
        "days_since_last_survey": a.days_since_last,
    }
