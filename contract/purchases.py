"""Purchases from invoice lines (``data.transactions_are_lines``).

An export of invoice lines has several rows per purchase, often identical ones. The
features count purchases, so the rows of one customer at one timestamp become one
purchase: amounts and discounts add up, it is a return only if every line is, and its
category is that of its first line.
"""

from __future__ import annotations

import pandas as pd

AGGREGATIONS = {"amount": "sum", "discount": "sum", "is_return": "all", "category": "first"}


def purchases_from_lines(transactions: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per (customer_id, timestamp), in first-seen order, and a note saying how
    many lines made how many purchases."""
    present = {column: how for column, how in AGGREGATIONS.items() if column in transactions}
    grouped = transactions.groupby(["customer_id", "timestamp"], sort=False)
    purchases = (
        grouped.agg(present).reset_index()
        if present
        else grouped.size().reset_index()[["customer_id", "timestamp"]]
    )
    note = (
        f"transactions: {len(transactions):,} lines are {len(purchases):,} purchases "
        "(data.transactions_are_lines)"
    )
    return purchases, note
