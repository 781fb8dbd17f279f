"""BTYD ("buy till you die") models from PyMC-Marketing's CLV module, fitted point in time.

BG/NBD describes a non-contractual customer by a purchase rate and a chance to drop out
after each purchase; from a customer's repeat purchases (frequency), the age of the last
one (recency) and the time since the first (T), all strictly before a cutoff, it gives the
probability that the customer is still alive, the purchases to expect in the next days,
and the probability of none. It is the classic model a CRM analyst tries first, so it is
the baseline the booster must beat (``bgnbd``).

BG/NBD holds a customer with a single purchase alive for ever (dropout happens only at a
repeat purchase). MBG/NBD (``mbgnbd``, modified BG/NBD) lets a customer drop out after the
first purchase too, so its P(alive) is the one that says who has most likely left already
(scoring's lapsed customers).

Customers without a purchase before the cutoff have no BTYD history: they are forecast as
new customers (frequency, recency and T of 0).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from pymc_marketing.clv import BetaGeoModel, ModifiedBetaGeoModel
from pymc_marketing.clv.utils import rfm_summary

from contract.errors import ConfigError

log = logging.getLogger(__name__)

BGNBD = "bgnbd"
MODELS = {BGNBD: BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel}
SUMMARY_COLUMNS = ["frequency", "recency", "T"]


def purchase_summary(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Frequency, recency and T in days per customer_id, from purchases before the cutoff."""
    before = transactions.loc[transactions["timestamp"] < cutoff, ["customer_id", "timestamp"]]
    if before.empty:
        raise ConfigError(f"BTYD: no purchase before the cutoff {cutoff.date()} to fit on")
    summary = rfm_summary(
        before,
        "customer_id",
        "timestamp",
        observation_period_end=cutoff - pd.Timedelta(days=1),
        time_unit="D",
    )
    # T counts to the cutoff's own start, the instant features see up to.
    summary["T"] += 1
    return summary.set_index("customer_id")[SUMMARY_COLUMNS]


def fit_btyd(summary: pd.DataFrame, name: str) -> BetaGeoModel | ModifiedBetaGeoModel:
    """The maximum a posteriori fit of model ``name`` (a key of MODELS) on ``summary``."""
    started = time.perf_counter()
    model = MODELS[name](data=summary.reset_index())
    model.fit(method="map", progressbar=False)
    log.info(
        "%s fitted on %d customers in %.1f s: %s",
        name,
        len(summary),
        time.perf_counter() - started,
        model.fit_summary().round(4).to_dict(),
    )
    return model


def forecast(
    model: BetaGeoModel | ModifiedBetaGeoModel,
    summary: pd.DataFrame,
    customer_ids: pd.Series,
    horizon_days: int,
) -> pd.DataFrame:
    """P(alive), expected purchases and (BG/NBD) P(no purchase) in the horizon, per
    customer_id (in the order given); customers missing from ``summary`` are forecast as
    new ones."""
    data = (
        summary.reindex(pd.Index(customer_ids.unique(), name="customer_id"))
        .fillna(0.0)
        .reset_index()
    )
    values = {
        "p_alive": model.expected_probability_alive(data=data),
        "expected_purchases": model.expected_purchases(data=data, future_t=horizon_days),
    }
    if not isinstance(model, ModifiedBetaGeoModel):  # MBG/NBD does not implement it
        values["p_no_purchase"] = model.expected_probability_no_purchase(t=horizon_days, data=data)
    table = pd.DataFrame(
        {name: _point(value) for name, value in values.items()}, index=data["customer_id"]
    )
    return table.loc[customer_ids.to_numpy()].reset_index(drop=True)


def btyd_forecast(
    transactions: pd.DataFrame, rows: pd.DataFrame, horizon_days: int, name: str = BGNBD
) -> pd.DataFrame:
    """Model ``name``'s forecast of every (customer_id, cutoff) row, fitted at each cutoff
    on the purchases before it (in the rows' order)."""
    if name not in MODELS:
        raise ConfigError(f"BTYD model {name!r} is not one of {sorted(MODELS)}")
    parts = []
    for cutoff, at_cutoff in rows.groupby("cutoff", sort=True):
        summary = purchase_summary(transactions, cutoff)
        model = fit_btyd(summary, name)
        part = forecast(model, summary, at_cutoff["customer_id"], horizon_days)
        parts.append(part.set_index(at_cutoff.index))
    return pd.concat(parts).loc[rows.index]


def purchases_in_horizon(
    transactions: pd.DataFrame, rows: pd.DataFrame, horizon_days: int
) -> np.ndarray:
    """Purchases each (customer_id, cutoff) row's customer made in [cutoff, cutoff + horizon)."""
    counts = np.zeros(len(rows))
    times, customers = transactions["timestamp"], transactions["customer_id"]
    for cutoff in rows["cutoff"].unique():
        at_cutoff = (rows["cutoff"] == cutoff).to_numpy()
        in_horizon = (times >= cutoff) & (times < cutoff + pd.Timedelta(days=horizon_days))
        per_customer = customers[in_horizon].value_counts()
        ids = rows.loc[at_cutoff, "customer_id"]
        counts[at_cutoff] = ids.map(per_customer).fillna(0).to_numpy(dtype=float)
    return counts


def activity_reliability(expected: np.ndarray, observed: np.ndarray, bins: int) -> pd.DataFrame:
    """Mean forecast against mean observed purchases per equal-count bin of the forecast
    (deciles with ``bins=10``), lowest first: a BTYD model's reliability check."""
    expected, observed = np.asarray(expected, dtype=float), np.asarray(observed, dtype=float)
    order = np.argsort(expected, kind="stable")
    groups = np.array_split(order, bins)
    return pd.DataFrame(
        {
            "bin": np.arange(1, len(groups) + 1),
            "expected_purchases": [float(expected[g].mean()) for g in groups],
            "observed_purchases": [float(observed[g].mean()) for g in groups],
            "rows": [len(g) for g in groups],
        }
    )


def _point(value) -> np.ndarray:
    """The MAP fit's single draw as a flat array."""
    return np.asarray(value).reshape(-1).astype(float)
