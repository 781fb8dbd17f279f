"""Point-in-time building blocks of every feature family, as Ibis expressions.

A family aggregates an event table per customer over time windows that end at a cutoff;
these helpers spell those windows, per-customer aggregates and the arithmetic around them
once, so that the same expression compiles for DuckDB, PostgreSQL and Spark.

The cutoffs are a table (one ``cutoff`` column, or the active customers' ``customer_id``
and ``cutoff``): a query computes the features of every cutoff in it at once, by joining
each event to the cutoffs it lies before (an inequality join, which every engine runs, on
the customer too where the table has it) and grouping by (customer_id, cutoff). With one
cutoff in the table that is one snapshot; the stage bounds memory by giving each query a
range of customers (``CustomerHistory.of_customers``).

A family reads an event table through ``event_rows``: the events before the batch's last
cutoff, with the columns the family derives from the events alone (a customer's previous
purchase, say: the same at every cutoff, so computed once, not per cutoff), joined to the
cutoffs. Where no family needs more than a look-back of ``days``, an event is joined to a
cutoff only if it lies in the look-back before it, or if it is the customer's last event
before it: older than every window, that one counts in a minimum of ``age`` (days since
the last event) and in no window. The events older than the look-back before the first
cutoff are left out but for each customer's last one. So a batch of monthly cutoffs
aggregates each event at the cutoffs of its look-back only (12 cutoffs, a 365-day
look-back: 74M event rows at 1M customers, where joining every later cutoff gave 107M).

Conventions, kept by every family:

- a window ``[cutoff - days, cutoff)`` holds the events strictly before the cutoff;
- counts and sums of a customer without events are 0; every other aggregate (a maximum,
  a mean, a ratio) is NULL, which becomes NaN in the feature table;
- days are fractional, from a difference in milliseconds (the one difference every
  engine computes alike: whole-second epochs truncate on Spark, day counts round
  differently on each engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

KEYS = ("customer_id", "cutoff")
MILLISECONDS_PER_DAY = 86_400_000
# The type sums are added in: a decimal, whose sums do not depend on the order of the rows.
# 18 digits fit a 64-bit integer, which DuckDB adds as fast as a float (38 digits made 12
# cutoffs at 1M 22% slower); eight of them after the point keep small amounts as precise
# as a float32 feature needs. A value stays below 10^10 (the contract bounds amounts:
# contract/tables.py: MAX_AMOUNT; days and scores are far smaller); an engine refuses a
# larger one rather than round it.
EXACT = "decimal(18, 8)"
# The column ``event_rows`` gives each event for a moment: when the customer's next is.
_NEXT = "next_event_time"


def cutoff_table(cutoffs: list[pd.Timestamp]) -> ir.Table:
    """The cutoffs as a table (one ``cutoff`` column) the feature queries join to."""
    instants = pa.array([cutoff.to_pydatetime() for cutoff in cutoffs], pa.timestamp("us"))
    return ibis.memtable(pa.table({"cutoff": instants}))


def days_ago(cutoff: ir.TimestampValue, days: int) -> ir.TimestampValue:
    """The instant ``days`` days before ``cutoff``."""
    return cutoff - ibis.interval(days=days)


def in_window(
    time: ir.TimestampValue, cutoff: ir.TimestampValue, days: int | None = None
) -> ir.BooleanValue:
    """``cutoff - days <= time < cutoff``; ``days=None``: all history before the cutoff."""
    before = time < cutoff
    return before if days is None else before & (time >= days_ago(cutoff, days))


def before_cutoffs(
    events: ir.Table, time: str, cutoffs: ir.Table, days: int | None = None
) -> ir.Table:
    """Each event with every cutoff of ``cutoffs`` it lies in the ``days`` before (all
    history before the cutoff if None): the events' columns, ``cutoff`` and ``age``, the
    days from the event's ``time`` to the cutoff (> 0). If ``cutoffs`` has a
    ``customer_id`` column too (the customers active at each cutoff), an event is joined
    to its own customer's cutoffs only: a hash join on the customer, where a join on the
    cutoff alone would aggregate every customer with events, active or not."""
    return _joined(events, time, cutoffs, in_window(events[time], cutoffs.cutoff, days))


def _joined(events: ir.Table, time: str, cutoffs: ir.Table, condition: ir.BooleanValue) -> ir.Table:
    """Each event with each cutoff where ``condition`` (over both) holds, and ``age``; on
    the customer too if ``cutoffs`` has the column (see ``before_cutoffs``)."""
    if "customer_id" in cutoffs.columns:
        condition = condition & (events.customer_id == cutoffs.customer_id)
    joined = events.inner_join(cutoffs, condition).select(*events.columns, cutoffs.cutoff)
    return joined.mutate(age=days_between(joined[time], joined.cutoff))


def event_rows(
    events: ir.Table,
    time: str,
    cutoffs: ir.Table,
    lookback_days: int | None = None,
    derive: Callable[[ir.Table], dict[str, ir.Value]] | None = None,
) -> ir.Table:
    """The events before each cutoff, as ``before_cutoffs`` gives them, with the columns
    ``derive`` computes from the events alone (once for every cutoff). With
    ``lookback_days``, an event older than that before a cutoff is joined to it only if it
    is the customer's last event before it; the events older than that before the first
    cutoff are dropped but for each customer's last one, whose other columns are NULL (see
    the module's notes)."""
    derive = derive or (lambda _: {})
    kept = events.filter(events[time] < cutoffs.cutoff.max())
    if lookback_days is None:
        return before_cutoffs(kept.mutate(**derive(kept)), time, cutoffs)
    start = days_ago(cutoffs.cutoff.min(), lookback_days)
    earlier = kept.filter(kept[time] < start)
    last_earlier = earlier.group_by("customer_id").aggregate(**{time: earlier[time].max()})
    nulls = {
        name: ibis.null(dtype)
        for name, dtype in kept.schema().items()
        if name not in last_earlier.columns
    }
    last_earlier = last_earlier.mutate(**nulls).select(*kept.columns)
    kept = kept.filter(kept[time] >= start).union(last_earlier)
    # The time of the customer's next event, in the same select as the derived columns:
    # an engine sorts once for every window of the same order (a previous purchase).
    following = kept[time].lead().over(group_by=kept.customer_id, order_by=kept[time])
    kept = kept.mutate(**derive(kept), **{_NEXT: following})
    is_last = (kept[_NEXT] >= cutoffs.cutoff).fill_null(True)  # NULL: no next event
    in_lookback = kept[time] >= days_ago(cutoffs.cutoff, lookback_days)
    window = (kept[time] < cutoffs.cutoff) & (in_lookback | is_last)
    return _joined(kept, time, cutoffs, window).drop(_NEXT)


def within(events: ir.Table, days: int, shift: int = 0) -> ir.BooleanValue:
    """Events of ``before_cutoffs`` in ``[cutoff - shift - days, cutoff - shift)``: a
    comparison of their ``age``, cheaper than date arithmetic on every row."""
    return (events.age > shift) & (events.age <= shift + days)


def days_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """Days from ``start`` to ``end``, to the millisecond."""
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
    """Sum of ``values`` over the group's rows (where ``where`` holds); 0 if none. Added
    as decimals (each value rounded to ``EXACT``'s eight places first): exact, so the same
    in whatever order an engine's threads add them (as floats, a spend equal in two
    windows gave a trend of 1e-16 on one run and 0 on the next)."""
    return values.cast(EXACT).sum(where=where).cast("float64").coalesce(0.0)


def latest(
    events: ir.Table,
    time: str,
    code: ir.IntegerValue,
    codes: int,
    where: ir.BooleanValue | None = None,
) -> ir.IntegerScalar:
    """The ``code`` (0 <= code < ``codes``) of the group's latest event by ``time`` (where
    ``where`` holds); a tie in time goes to the highest code; NULL without events.

    An ordinary aggregate, cheaper than ranking the events with a window on every engine:
    the minimum of the event's age in milliseconds with the code packed below it."""
    age = events.cutoff.delta(events[time], unit="millisecond")
    packed = (age * codes + (codes - 1 - code)).min(where=where)
    return codes - 1 - packed % codes


@dataclass(frozen=True)
class Aggregates:
    """A family's aggregates of its events per (customer_id, cutoff): ``zero_filled``
    ones (counts and sums) are 0 for a customer without events, ``others`` NULL."""

    zero_filled: dict[str, ir.Scalar]
    others: dict[str, ir.Scalar] = field(default_factory=dict)


def per_customer(
    keys: ir.Table,
    events: ir.Table,
    zero_filled: dict[str, ir.Scalar],
    others: dict[str, ir.Scalar] | None = None,
) -> ir.Table:
    """Every (customer_id, cutoff) of ``keys`` with aggregates of their ``events`` (which
    carry both columns, from ``before_cutoffs``): ``zero_filled`` ones (counts and sums)
    are 0 for a customer without events, ``others`` (maxima, means, last values) NULL."""
    others = others or {}
    grouped = events.group_by(KEYS).aggregate(**zero_filled, **others)
    joined = keys.select(*KEYS).left_join(grouped, list(KEYS))
    return joined.select(
        keys.customer_id,
        keys.cutoff,
        **{name: joined[name].coalesce(0) for name in zero_filled},
        **{name: joined[name] for name in others},
    )
