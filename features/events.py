"""Point-in-time building blocks of every feature family, as Ibis expressions.

A family aggregates an event table per customer over time windows that end at a cutoff;
these helpers spell those windows, per-customer aggregates and the arithmetic around them
once, so that the same expression compiles for DuckDB, PostgreSQL and Spark.

Conventions, kept by every family:

- a window ``[cutoff - days, cutoff)`` holds the events strictly before the cutoff;
- counts and sums of a customer without events are 0; every other aggregate (a maximum,
  a mean, a ratio) is NULL, which becomes NaN in the feature table;
- days are fractional, from a difference in milliseconds.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

DAY = pd.Timedelta(days=1)
MILLISECONDS_PER_DAY = 86_400_000


def instant(cutoff: pd.Timestamp, days_before: int = 0) -> datetime:
    """``cutoff`` minus ``days_before`` days, as the literal an expression compares with."""
    return (cutoff - days_before * DAY).to_pydatetime()


def in_window(
    time: ir.TimestampValue, cutoff: pd.Timestamp, days: int | None = None
) -> ir.BooleanValue:
    """``cutoff - days <= time < cutoff``; ``days=None``: all history before the cutoff."""
    before = time < instant(cutoff)
    return before if days is None else before & (time >= instant(cutoff, days))


def days_before(cutoff: pd.Timestamp, time: ir.TimestampValue) -> ir.FloatingValue:
    """Days from ``time`` to the cutoff (NULL where ``time`` is)."""
    return days_between(time, ibis.literal(instant(cutoff)))


def days_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """Days from ``start`` to ``end``, to the millisecond: the one difference every engine
    computes alike (whole-second epochs truncate on Spark; day counts round differently)."""
    return end.delta(start, unit="millisecond").cast("float64") / MILLISECONDS_PER_DAY


def as_float(values: ir.Value) -> ir.FloatingValue:
    """Numbers as float64; booleans as 1.0/0.0 (an engine may not cast a boolean to a
    float); NULL stays NULL."""
    if values.type().is_boolean():
        return ibis.cases((values, 1.0), (~values, 0.0), else_=ibis.null("float64"))
    return values.cast("float64")


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """``numerator / denominator``, NULL where the denominator is 0 (nothing to divide)."""
    # Both sides cast: PostgreSQL may otherwise divide integers.
    return numerator.cast("float64") / denominator.cast("float64").nullif(0)


def trend(recent: ir.NumericValue, previous: ir.NumericValue) -> ir.FloatingValue:
    """(recent - previous) / (recent + previous): -1 stopped, 0 flat, +1 new; NULL if both 0."""
    return ratio(recent - previous, recent + previous)


def count(events: ir.Table, where: ir.BooleanValue | None = None) -> ir.IntegerScalar:
    """Number of the group's rows of ``events`` (where ``where`` holds)."""
    return events.count(where=where)


def total(values: ir.NumericValue, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """Sum of ``values`` over the group's rows (where ``where`` holds); 0 if none."""
    return values.cast("float64").sum(where=where).coalesce(0.0)


def per_customer(
    customers: ir.Table,
    events: ir.Table,
    zero_filled: dict[str, ir.Scalar],
    others: dict[str, ir.Scalar] | None = None,
) -> ir.Table:
    """Every customer of ``customers`` with aggregates of their ``events`` (grouped by
    ``customer_id``): ``zero_filled`` ones (counts and sums) are 0 for a customer without
    events, ``others`` (maxima, means, last values) NULL."""
    others = others or {}
    grouped = events.group_by("customer_id").aggregate(**zero_filled, **others)
    joined = customers.select("customer_id").left_join(grouped, "customer_id")
    return joined.select(
        customers.customer_id,
        **{name: joined[name].coalesce(0) for name in zero_filled},
        **{name: joined[name] for name in others},
    )
