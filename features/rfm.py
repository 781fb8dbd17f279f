"""RFM: recency, frequency and monetary value, their trends and purchase regularity.

Monetary features need transactions.amount; without it (a log of purchase times) the
family is recency, frequency and regularity. Returned purchases (transactions.is_return)
count as purchases but not as spend; without the column every purchase is spend.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import events as ev
from features.config import FeaturesConfig
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


def lookback_days(cfg: FeaturesConfig) -> int:
    """The longest window read (recency looks as far back as it must: ``ev.event_rows``)."""
    trend_spans = (2 * w for w in cfg.trend_windows_days)
    return max(*cfg.windows_days, *trend_spans, cfg.long_window_days)


def previous_purchase(transactions: ir.Table) -> dict[str, ir.Value]:
    """The time of the customer's purchase before each (``previous``): the same at every
    cutoff after it, so computed once."""
    previous = transactions.timestamp.lag().over(
        group_by=transactions.customer_id, order_by=transactions.timestamp
    )
    return {"previous": previous}


def aggregate(history: CustomerHistory, tx: ir.Table) -> ev.Aggregates:
    cfg = history.features
    long = cfg.long_window_days
    windows = sorted({*cfg.windows_days, *cfg.trend_windows_days})
    sums = {f"n_{w}": ev.count(tx, ev.within(tx, w)) for w in windows}
    sums |= {
        f"n_{w}_before": ev.count(tx, ev.within(tx, w, shift=w)) for w in cfg.trend_windows_days
    }
    if history.has("transactions.amount"):
        spend = (
            ibis.ifelse(tx.is_return, 0.0, tx.amount) if "is_return" in tx.columns else tx.amount
        )
        sums |= {f"spend_{w}": ev.total(spend, ev.within(tx, w)) for w in windows}
        sums |= {
            f"spend_{w}_before": ev.total(spend, ev.within(tx, w, shift=w))
            for w in cfg.trend_windows_days
        }
    # The gaps between consecutive purchases of the long window: both ends inside it.
    gap = ev.days_between(tx.previous, tx.timestamp)
    in_long = (ev.within(tx, long) & (tx.previous >= ev.days_ago(tx.cutoff, long))).fill_null(False)
    sums |= {
        "n_gaps": ev.count(tx, in_long),
        "gap_sum": ev.total(gap, in_long),
        "gap_square_sum": ev.total(gap**2, in_long),
    }
    return ev.Aggregates(sums, {"recency": tx.age.min()})


def compute(history: CustomerHistory, a: ir.Table) -> dict[str, ir.Value]:
    cfg = history.features
    long = cfg.long_window_days
    monetary = history.has("transactions.amount")
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
    return columns
