"""RFM: recency, frequency and monetary value, their trends and purchase regularity.

Monetary features need transactions.amount; without it (a log of purchase times) the
family is recency, frequency and regularity. Returned purchases (transactions.is_return)
count as purchases but not as spend; without the column every purchase is spend.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import events as ev
from features.history import CustomerHistory


def describe(history: CustomerHistory) -> dict[str, str]:
    cfg = history.features
    long = cfg.long_window_days
    monetary = history.has("transactions.amount")
    return {
        "recency_days": "days since the last purchase (NaN: never bought)",
        **{f"purchases_{w}d": f"purchases in the last {w} days" for w in cfg.windows_days},
        **{
            f"spend_{w}d": f"amount paid in the last {w} days, returned purchases excluded"
            for w in cfg.windows_days
            if monetary
        },
        **(
            {f"avg_basket_{long}d": f"mean amount per purchase over the last {long} days"}
            if monetary
            else {}
        ),
        **{
            f"trend_{what}_{w}d": f"{what} in the last {w} days against the {w} days before: "
            "(recent - previous) / (recent + previous), -1 = stopped"
            for w in cfg.trend_windows_days
            for what in ("purchases", "spend")
            if monetary or what == "purchases"
        },
        f"interpurchase_days_mean_{long}d": f"mean days between purchases over {long} days",
        f"interpurchase_days_cv_{long}d": "regularity: coefficient of variation of the days "
        "between purchases (needs two gaps)",
        "overdue_ratio": "days since the last purchase divided by the mean inter-purchase time",
    }


def compute(history: CustomerHistory, cutoffs: ir.Table) -> ir.Table:
    cfg = history.features
    long = cfg.long_window_days
    monetary = history.has("transactions.amount")
    windows = sorted({*cfg.windows_days, *cfg.trend_windows_days})
    tx = ev.before_cutoffs(history.events["transactions"], "timestamp", cutoffs)
    if monetary:
        returned = "is_return" in tx.columns
        spend = ibis.ifelse(tx.is_return, 0.0, tx.amount) if returned else tx.amount

    sums = {f"n_{w}": ev.count(tx, ev.within(tx, w)) for w in windows}
    sums |= {
        f"n_{w}_before": ev.count(tx, ev.within(tx, w, shift=w)) for w in cfg.trend_windows_days
    }
    if monetary:
        sums |= {f"spend_{w}": ev.total(spend, ev.within(tx, w)) for w in windows}
        sums |= {
            f"spend_{w}_before": ev.total(spend, ev.within(tx, w, shift=w))
            for w in cfg.trend_windows_days
        }
    # A gap counts when both of its purchases fall inside the long window: the gaps
    # between consecutive purchases of that window.
    in_long = ev.before_cutoffs(history.events["transactions"], "timestamp", cutoffs, long)
    previous = in_long.timestamp.lag().over(
        group_by=[in_long.customer_id, in_long.cutoff], order_by=in_long.timestamp
    )
    gaps = in_long.mutate(gap=ev.days_between(previous, in_long.timestamp))
    gap_sums = {
        "n_gaps": gaps.gap.count(),
        "gap_sum": ev.total(gaps.gap),
        "gap_square_sum": ev.total(gaps.gap**2),
    }
    keys = history.at(cutoffs)
    a = ev.per_customer(keys, tx, sums, {"recency": tx.age.min()}).inner_join(
        ev.per_customer(keys, gaps, gap_sums), list(ev.KEYS)
    )
    recency = a.recency
    gap_mean = ev.ratio(a.gap_sum, a.n_gaps)
    gap_sd = (ev.ratio(a.gap_square_sum, a.n_gaps) - gap_mean**2).clip(lower=0).sqrt()
    columns = {"recency_days": recency}
    columns |= {f"purchases_{w}d": a[f"n_{w}"] for w in cfg.windows_days}
    if monetary:
        columns |= {f"spend_{w}d": a[f"spend_{w}"] for w in cfg.windows_days}
        columns[f"avg_basket_{long}d"] = ev.ratio(a[f"spend_{long}"], a[f"n_{long}"])
    for w in cfg.trend_windows_days:
        columns[f"trend_purchases_{w}d"] = ev.trend(a[f"n_{w}"], a[f"n_{w}_before"])
        if monetary:
            columns[f"trend_spend_{w}d"] = ev.trend(a[f"spend_{w}"], a[f"spend_{w}_before"])
    columns[f"interpurchase_days_mean_{long}d"] = gap_mean
    columns[f"interpurchase_days_cv_{long}d"] = ibis.ifelse(
        a.n_gaps >= 2, ev.ratio(gap_sd, gap_mean), ibis.null("float64")
    )
    columns["overdue_ratio"] = ev.ratio(recency, gap_mean)
    return a.select(*ev.KEYS, **columns)
