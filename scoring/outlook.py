"""Each customer's purchase outlook as of the scoring date, from BTYD models.

One fit of ``scoring.purchase_model`` (models/btyd.py) on the purchases before the date
serves two rules: P(alive) says who has most likely left already (scoring/lapsed.py), and
the purchases to expect of a customer who is still there, with the Gamma-Gamma model's
expected amount of a purchase, value their future (scoring/value.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features.history import CustomerHistory
from models.btyd import (
    MODELS,
    expected_spend,
    fit_btyd,
    fit_sample,
    forecast,
    purchase_summary,
    purchases_if_alive,
)

COLUMNS = ("p_alive", "expected_purchases", "purchases_if_alive", "expected_spend")


def purchase_outlook(
    history: CustomerHistory,
    as_of: pd.Timestamp,
    model: str,
    horizon_days: int,
    fit_customers: int | None,
    seed: int,
    ranges: list[tuple[object, object]],
) -> pd.DataFrame | None:
    """Per customer_id (index, in order): P(alive) at ``as_of``, the purchases
    expected in the ``horizon_days`` after it, those expected if the customer is still
    there, and the expected amount of a purchase (NaN without amounts). The models are
    fitted on at most ``fit_customers`` customers (models/btyd.fit_sample). The purchases
    are summarised range by range of customer ids (``ranges``, from
    ``features.history.customer_ranges``). None without a transactions table."""
    if model not in MODELS:
        raise ConfigError(f"scoring.purchase_model: {model!r} is not one of {sorted(MODELS)}")
    if not history.has("transactions"):
        return None
    parts = [history.of_customers(*bounds).events["transactions"] for bounds in ranges]
    summary = purchase_summary(parts, as_of)
    fitted = fit_btyd(fit_sample(summary, fit_customers, seed), model)
    ids = history.customers.select("customer_id").order_by("customer_id").to_pandas()
    ids = ids["customer_id"]
    table = forecast(fitted, summary, ids, horizon_days).set_axis(pd.Index(ids, name="customer_id"))
    table["purchases_if_alive"] = purchases_if_alive(table)
    table["expected_spend"] = np.nan
    if "monetary_value" in summary:
        spend, newcomer = expected_spend(summary, fit_customers, seed)
        table["expected_spend"] = spend.reindex(table.index).fillna(newcomer)
    return table[list(COLUMNS)]
