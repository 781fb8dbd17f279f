"""Each customer's purchase outlook as of the scoring date, from a BTYD model.

One fit of ``scoring.purchase_model`` (models/btyd.py) on the purchases before the date
serves two rules: P(alive) says who has most likely left already (scoring/lapsed.py), and
the purchases to expect of a customer who is still there value their future
(scoring/value.py).
"""

from __future__ import annotations

import pandas as pd

from contract.errors import ConfigError
from features.history import CustomerHistory
from models.btyd import MODELS, fit_btyd, forecast, purchase_summary, purchases_if_alive

COLUMNS = ("p_alive", "expected_purchases", "purchases_if_alive")


def purchase_outlook(
    history: CustomerHistory, as_of: pd.Timestamp, model: str, horizon_days: int
) -> pd.DataFrame | None:
    """Per customer_id (index, customers order): P(alive) at ``as_of``, the purchases expected in
    the ``horizon_days`` after it, and those expected if the customer is still there.
    None without a transactions table."""
    if model not in MODELS:
        raise ConfigError(f"scoring.purchase_model: {model!r} is not one of {sorted(MODELS)}")
    if not history.has("transactions"):
        return None
    purchases = history.events["transactions"][["customer_id", "timestamp"]]
    summary = purchase_summary(purchases, as_of)
    fitted = fit_btyd(summary, model)
    ids = history.customers["customer_id"]
    table = forecast(fitted, summary, ids, horizon_days).set_axis(pd.Index(ids, name="customer_id"))
    table["purchases_if_alive"] = purchases_if_alive(table)
    return table[list(COLUMNS)]
