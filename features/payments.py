"""Payment behaviour: late and failed payments, what is outstanding, the last status.

A payment's final status is not known on its due date. At a cutoff, a payment is late
once it was paid late before the cutoff, and failed once it is still unpaid
``payment_grace_days`` after its due date; windows count these events by the day they
became known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import events as ev
from features.history import CustomerHistory

LAST_STATUSES = ("none", "paid", "late", "unpaid")


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    return {
        **{
            f"payments_late_{w}d": f"payments paid late, paid in the last {w} days"
            for w in cfg.windows_days
        },
        **{
            f"payments_failed_{w}d": f"payments still unpaid {cfg.payment_grace_days} days "
            f"after their due date, with that day in the last {w} days"
            for w in cfg.windows_days
        },
        "payments_outstanding": "payments due before the cutoff and not paid before it",
        "payment_days_overdue_max": "days past due of the oldest outstanding payment",
        "payment_last_status": "status at the cutoff of the last payment due before it: "
        f"{', '.join(LAST_STATUSES)}",
    }


def compute(history: CustomerHistory, cutoff: pd.Timestamp) -> pd.DataFrame:
    cfg = history.features
    payments = history.events["payments"]
    n = history.n_customers
    due = payments["due_date"]
    paid_before = ev.in_window(payments["paid_date"], cutoff)
    outstanding = ev.in_window(due, cutoff) & ~paid_before
    is_late = (payments["status"] == "late").to_numpy()
    failed_on = due + cfg.payment_grace_days * ev.DAY

    columns = {
        f"payments_late_{w}d": ev.count(
            payments, ev.in_window(payments["paid_date"], cutoff, w) & is_late, n
        )
        for w in cfg.windows_days
    }
    for w in cfg.windows_days:
        became_failed = ev.in_window(failed_on, cutoff, w) & ~paid_before
        columns[f"payments_failed_{w}d"] = ev.count(payments, became_failed, n)
    columns["payments_outstanding"] = ev.count(payments, outstanding, n)
    columns["payment_days_overdue_max"] = ev.maximum(
        payments, ev.days_before(cutoff, due), outstanding, n
    )
    status_at_cutoff = np.select(
        [~paid_before, is_late],
        [LAST_STATUSES.index("unpaid"), LAST_STATUSES.index("late")],
        default=LAST_STATUSES.index("paid"),
    )
    last = ev.last_before(payments, "due_date", cutoff, n)
    codes = np.full(n, LAST_STATUSES.index("none"))
    codes[last >= 0] = status_at_cutoff[last[last >= 0]]
    columns["payment_last_status"] = pd.Categorical.from_codes(codes, LAST_STATUSES)
    return pd.DataFrame(columns)
