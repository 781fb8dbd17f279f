"""A handful of customers with known events around one cutoff, for hand-computed tests.

The cutoff is 2025-01-01. Every customer illustrates a case; the comments say which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CUTOFF = pd.Timestamp("2025-01-01")
NaT = pd.NaT


def _frame(columns: list[str], rows: list[tuple], times: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for column in times:
        frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype("datetime64[ns]")
    return frame


def hand_tables() -> dict[str, pd.DataFrame]:
    """Validated-style tables (contract dtypes) for customers 1-7."""
    customers = _frame(
        [
            "customer_id",
            "signup_date",
            "region",
            "acquisition_channel",
            "contract_type",
            "contract_end",
            "loyalty_tier",
            "autopay",
            "account_manager",
            "credit_score",
            "churn_date",
        ],
        [
            # 1: regular non-contractual buyer, buys again right at the cutoff.
            (1, "2023-01-01", "north", "organic", "none", NaT, "gold", False, True, 700.0, NaT),
            # 2: signed up the day before the cutoff, no events at all.
            (2, "2024-12-31", "east", "organic", "none", NaT, "none", False, False, np.nan, NaT),
            # 3: annual contract, complaints, payments, surveys, incidents; cancels in Feb.
            (
                3,
                "2020-03-15",
                "south",
                "partner",
                "annual",
                "2025-03-15",
                "silver",
                True,
                False,
                500.0,
                "2025-02-10",
            ),
            # 4: cancelled before the cutoff: no row.
            (
                4,
                "2022-05-05",
                "north",
                "organic",
                "month_to_month",
                NaT,
                "none",
                True,
                False,
                650.0,
                "2024-12-15",
            ),
            # 5: non-contractual, silent for longer than the active window: no row.
            (5, "2022-05-05", "north", "organic", "none", NaT, "none", False, False, 650.0, NaT),
            # 6: month-to-month, signed up on the 31st: renews on the 28th.
            (
                6,
                "2024-03-31",
                "west",
                "social",
                "month_to_month",
                NaT,
                "none",
                False,
                False,
                640.0,
                NaT,
            ),
            # 7: signs up on the cutoff day: not yet a customer at the cutoff.
            (7, "2025-01-01", "west", "social", "none", NaT, "none", False, False, 640.0, NaT),
        ],
        ["signup_date", "contract_end", "churn_date"],
    )
    transactions = _frame(
        ["customer_id", "timestamp", "amount", "discount", "category", "is_return"],
        [
            (1, "2024-08-01", 20.0, 0.0, "grocery", False),
            (1, "2024-10-03", 30.0, 0.0, "grocery", False),  # exactly 90 days before
            (1, "2024-12-02", 50.0, 0.0, "home", True),  # exactly 30 days before, returned
            (1, "2024-12-22", 100.0, 10.0, "grocery", False),
            (1, "2025-01-01", 999.0, 0.0, "electronics", False),  # at the cutoff: label only
            (1, "2025-04-15", 25.0, 0.0, "grocery", False),  # after the horizon: still there
            (5, "2024-09-01", 40.0, 0.0, "home", False),
            (6, "2024-12-01", 15.0, 0.0, "fashion", False),
        ],
        ["timestamp"],
    )
    complaints = _frame(
        [
            "customer_id",
            "opened_at",
            "resolved_at",
            "category",
            "severity",
            "resolution_satisfaction",
        ],
        [
            (3, "2024-06-01", "2024-06-04 12:00", "delivery", 1, 2.0),
            (3, "2024-11-01", "2024-11-11", "delivery", 2, 4.0),  # a repeat
            # Opened before the cutoff, resolved after it: open at the cutoff.
            (3, "2024-12-20", "2025-01-05", "product", 3, 5.0),
        ],
        ["opened_at", "resolved_at"],
    )
    payments = _frame(
        ["customer_id", "due_date", "paid_date", "amount", "status"],
        [
            (3, "2024-09-15", NaT, 30.0, "failed"),  # unpaid 30 days later on 2024-10-15
            (3, "2024-10-15", "2024-10-16", 30.0, "paid"),
            (3, "2024-11-15", "2024-11-30", 30.0, "late"),
            (3, "2024-12-15", "2025-01-03", 30.0, "late"),  # still unpaid at the cutoff
        ],
        ["due_date", "paid_date"],
    )
    incidents = _frame(
        ["customer_id", "timestamp", "kind", "severity"],
        [
            (3, "2024-02-01", "defect", 3),
            (3, "2024-12-25", "late_delivery", 2),
            (3, "2025-01-10", "outage", 3),  # after the cutoff
        ],
        ["timestamp"],
    )
    surveys = _frame(
        ["customer_id", "timestamp", "score"],
        [(3, "2024-06-01", 8), (3, "2024-12-01", 5), (3, "2025-01-02", 1)],
        ["timestamp"],
    )
    offers = _frame(
        ["region", "start_date", "end_date", "discount"],
        [
            ("north", "2024-12-20", "2025-01-10", 0.2),
            ("north", "2025-01-01", "2025-02-01", 0.5),  # starts at the cutoff: unknown
            ("south", "2024-10-01", "2024-10-31", 0.3),
        ],
        ["start_date", "end_date"],
    )
    return {
        "customers": customers,
        "transactions": transactions,
        "complaints": complaints,
        "payments": payments,
        "service_incidents": incidents,
        "surveys": surveys,
        "competitor_offers": offers,
    }
