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


def compute(history: CustomerHistory, cutoffs: ir.Table) -> ir.Table:
    cfg = history.features
    payments = ev.before_cutoffs(history.events["payments"], "due_date", cutoffs)
    paid_before = (payments.paid_date < payments.cutoff).fill_null(False)
    is_late = payments.status == "late"
    status = ibis.cases(
        (~paid_before, LAST_STATUSES.index("unpaid")),
        (is_late, LAST_STATUSES.index("late")),
        else_=LAST_STATUSES.index("paid"),
    )
    p = payments.mutate(status_code=status, outstanding=~paid_before)
    # The last due first; ties in due date go to the worst status at the cutoff.
    p = p.mutate(
        latest=ibis.row_number().over(
            group_by=[p.customer_id, p.cutoff],
            order_by=[p.due_date.desc(), p.status_code.desc()],
        )
    )
    failed_on = p.due_date + ibis.interval(days=cfg.payment_grace_days)
    sums = {
        f"payments_late_{w}d": ev.count(
            p, ev.in_window(p.paid_date, p.cutoff, w).fill_null(False) & (p.status == "late")
        )
        for w in cfg.windows_days
    }
    sums |= {
        f"payments_failed_{w}d": ev.count(p, ev.in_window(failed_on, p.cutoff, w) & p.outstanding)
        for w in cfg.windows_days
    }
    sums["payments_outstanding"] = ev.count(p, p.outstanding)
    others = {
        "payment_days_overdue_max": p.age.max(where=p.outstanding),
        "last_status": p.status_code.max(where=p.latest == 0),
    }
    a = ev.per_customer(history.at(cutoffs), p, sums, others)
    last_status = a.last_status.fill_null(LAST_STATUSES.index("none"))
    return a.select(
        *ev.KEYS,
        *sums,
        a.payment_days_overdue_max,
        payment_last_status=last_status.substitute(
            dict(enumerate(LAST_STATUSES)), else_=ibis.null("string")
        ),
    )
