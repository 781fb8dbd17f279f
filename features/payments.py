"""Payment behaviour: late and failed payments, what is outstanding, the last status.

A payment's final status is not known on its due date. At a cutoff, a payment is late
once it was paid late before the cutoff, and failed once it is still unpaid
``payment_grace_days`` after its due date; windows count these events by the day they
became known.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import events as ev
from features.config import FeaturesConfig
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


def relevant(payments: ir.Table, cutoffs: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    """The payments that can count at a cutoff of ``cutoffs``. One due and paid before
    the longest window of the first cutoff is in no window and not outstanding: it can
    only be a customer's last due payment (``payment_last_status``), so of those only
    each customer's latest due ones are kept. Otherwise every engine joins the whole
    payment history to every cutoff (1M customers, 12 cutoffs: 7.8 s against 12.4 s;
    one cutoff: 1.6 s against 2.2 s)."""
    start = ev.days_ago(cutoffs.cutoff.min(), max(cfg.windows_days))
    settled = (payments.due_date < start) & (payments.paid_date < start).fill_null(False)
    old = payments.filter(settled)
    last = old.group_by("customer_id").aggregate(last_due=old.due_date.max())
    on = [old.customer_id == last.customer_id, old.due_date == last.last_due]
    return payments.filter(~settled).union(old.semi_join(last, on))


def aggregate(history: CustomerHistory, p: ir.Table) -> ev.Aggregates:
    cfg = history.features
    outstanding = ~(p.paid_date < p.cutoff).fill_null(False)
    is_late = p.status == "late"
    status = ibis.cases(
        (outstanding, LAST_STATUSES.index("unpaid")),
        (is_late, LAST_STATUSES.index("late")),
        else_=LAST_STATUSES.index("paid"),
    )
    failed_on = p.due_date + ibis.interval(days=cfg.payment_grace_days)
    sums = {
        f"payments_late_{w}d": ev.count(
            p, ev.in_window(p.paid_date, p.cutoff, w).fill_null(False) & is_late
        )
        for w in cfg.windows_days
    }
    sums |= {
        f"payments_failed_{w}d": ev.count(p, ev.in_window(failed_on, p.cutoff, w) & outstanding)
        for w in cfg.windows_days
    }
    sums["payments_outstanding"] = ev.count(p, outstanding)
    others = {
        "payment_days_overdue_max": p.age.max(where=outstanding),
        # The last due; a tie in due date goes to the worst status at the cutoff.
        "last_status": ev.latest(p, "due_date", status, len(LAST_STATUSES)),
    }
    return ev.Aggregates(sums, others)


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    counts = [name for name in describe(history) if name.startswith("payments_")]
    last_status = a.last_status.fill_null(LAST_STATUSES.index("none"))
    return {
        **{name: a[name] for name in counts},
        "payment_days_overdue_max": a.payment_days_overdue_max,
        "payment_last_status": last_status.substitute(
            dict(enumerate(LAST_STATUSES)), else_=ibis.null("string")
        ),
    }
