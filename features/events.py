"""Per-customer aggregation of event tables at a cutoff, vectorised over all customers.

Every feature family works on the same prepared layout: an event table with a dense
integer ``customer`` column (the customer's row in the customers table) and rows sorted
by customer, then event time. Per-customer counts and sums are then one ``np.bincount``
over the rows inside a time window, and "the customer's last event before the cutoff" is
plain index arithmetic, because a customer's events before any cutoff form a prefix of
that customer's block. Aggregates come back as arrays of length ``n_customers``; a
customer without events gets 0 for counts and sums and NaN for everything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


def index_events(table: pd.DataFrame, customer_ids: pd.Index, time_column: str) -> pd.DataFrame:
    """Add the dense ``customer`` code and sort by (customer, ``time_column``), stably.

    ``customer_ids`` is the customers table's ``customer_id`` in row order; validation
    guarantees every event refers to one of them and has its (non-null) event time.
    """
    codes = customer_ids.get_indexer(table["customer_id"])
    order = customer_time_order(codes, table[time_column])
    if order is None:
        return table.assign(customer=codes).reset_index(drop=True)
    return table.take(order).assign(customer=codes[order]).reset_index(drop=True)


def customer_time_order(codes: np.ndarray, times: pd.Series) -> np.ndarray | None:
    """The stable order of rows by customer code, then time; None if they are in it.

    Tables exported in that order already (the simulator's are) are not sorted again: at
    1M customers the sort dominated preparing the history, while checking the order is
    one linear pass.
    """
    nanoseconds = times.to_numpy(dtype="datetime64[ns]").view("int64")
    step = np.diff(codes)
    if bool((step >= 0).all() and ((step > 0) | (np.diff(nanoseconds) >= 0)).all()):
        return None
    return np.lexsort((nanoseconds, codes))


def in_window(times: pd.Series, cutoff: pd.Timestamp, days: int | None = None) -> np.ndarray:
    """Rows with ``cutoff - days <= time < cutoff``; ``days=None``: all history before it."""
    before = (times < cutoff).to_numpy()
    if days is None:
        return before
    return before & (times >= cutoff - days * DAY).to_numpy()


def days_before(cutoff: pd.Timestamp, times: pd.Series) -> np.ndarray:
    """Days from each time to the cutoff, as floats (NaT gives NaN)."""
    return ((cutoff - times) / DAY).to_numpy(dtype=float, na_value=np.nan)


def count(events: pd.DataFrame, mask: np.ndarray, n_customers: int) -> np.ndarray:
    """Number of rows selected by ``mask``, per customer."""
    return np.bincount(events["customer"].to_numpy()[mask], minlength=n_customers).astype(float)


def total(
    events: pd.DataFrame, values: np.ndarray | pd.Series, mask: np.ndarray, n_customers: int
) -> np.ndarray:
    """Sum of ``values`` over the rows selected by ``mask``, per customer."""
    return np.bincount(
        events["customer"].to_numpy()[mask],
        weights=np.asarray(values, dtype=float)[mask],
        minlength=n_customers,
    )


def maximum(
    events: pd.DataFrame, values: np.ndarray | pd.Series, mask: np.ndarray, n_customers: int
) -> np.ndarray:
    """Largest of ``values`` over the rows selected by ``mask``, per customer (NaN if none)."""
    result = np.full(n_customers, np.nan)
    np.fmax.at(result, events["customer"].to_numpy()[mask], np.asarray(values, dtype=float)[mask])
    return result


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is 0 (nothing to divide)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / denominator, np.nan)


def trend(recent: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """(recent - previous) / (recent + previous): -1 stopped, 0 flat, +1 new; NaN if both 0."""
    return ratio(recent - previous, recent + previous)


def last_before(
    events: pd.DataFrame, time_column: str, cutoff: pd.Timestamp, n_customers: int, back: int = 0
) -> np.ndarray:
    """Row position of each customer's last event before the cutoff, -1 if none.

    ``back=1`` gives the one before the last, and so on.
    """
    codes = events["customer"].to_numpy()
    block_start = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=n_customers))))[:-1]
    n_before = np.bincount(codes[in_window(events[time_column], cutoff)], minlength=n_customers)
    return np.where(n_before > back, block_start + n_before - 1 - back, -1)


def take(values: pd.Series, positions: np.ndarray) -> np.ndarray:
    """``values`` at ``positions`` as floats, NaN where the position is -1."""
    if len(values) == 0:
        return np.full(len(positions), np.nan)
    taken = values.to_numpy(dtype=float, na_value=np.nan)[np.maximum(positions, 0)]
    return np.where(positions >= 0, taken, np.nan)


def days_since_last(
    events: pd.DataFrame, time_column: str, cutoff: pd.Timestamp, n_customers: int
) -> np.ndarray:
    """Days from each customer's last event before the cutoff to the cutoff (NaN if none)."""
    last = last_before(events, time_column, cutoff, n_customers)
    if len(events) == 0:
        return np.full(n_customers, np.nan)
    times = events[time_column].to_numpy()[np.maximum(last, 0)]
    days = (cutoff.to_datetime64() - times) / np.timedelta64(1, "D")
    return np.where(last >= 0, days, np.nan)
