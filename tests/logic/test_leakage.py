"""No information from after a cutoff reaches that cutoff's features (property-based).

Hypothesis picks a cutoff and a random way to rewrite history after it: delete events,
change their values, move them later, resolve open complaints differently, pay open
invoices on other dates, move, remove or add future cancellation dates. The features at
the cutoff must not change. Likewise the label must not change when only events after the label
window (horizon and confirmation) change, nor a BTYD model's forecast at the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.tables import CUSTOMER_ATTRIBUTES, table_contracts
from features import events as ev
from features import feature_table, switching
from features.columns import LABEL
from features.feature_table import observed_until, plan_features, snapshot
from features.history import EVENT_TIME as EVENT_TABLE_TIME
from models.btyd import btyd_forecast, purchase_summary
from pipeline.config import Config
from pipeline.engine import frames_history
from tests.support import Simulated

DAY = pd.Timedelta(days=1)
# When each row happened: rows at or after the cutoff are the future. A complaint's
# resolution and a payment's settlement are events of their own, rewritten separately.
EVENT_TIME = {**EVENT_TABLE_TIME, "competitor_offers": "start_date"}


def rewrite_after(
    tables: dict[str, pd.DataFrame], moment: pd.Timestamp, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """A copy of ``tables`` with everything at or after ``moment`` randomly rewritten."""
    out = {name: frame.copy() for name, frame in tables.items()}
    for name, time_column in EVENT_TIME.items():
        frame = out[name]
        future = frame[time_column] >= moment
        keep = ~future | (rng.random(len(frame)) < 0.5)
        frame = frame[keep].copy()
        future = frame[time_column] >= moment
        n = int(future.sum())
        frame.loc[future, time_column] += pd.to_timedelta(rng.integers(0, 30, n), unit="D")
        for column in frame.columns.drop([time_column, "customer_id", "region"], errors="ignore"):
            frame.loc[future, column] = _shuffled(frame.loc[future, column], rng)
        out[name] = frame
    out["complaints"] = _resolve_open_complaints_differently(out["complaints"], moment, rng)
    out["payments"] = _settle_open_payments_differently(out["payments"], moment, rng)
    out["customers"] = _cancel_differently(out["customers"], moment, rng)
    return out


def _cancel_differently(customers, moment, rng):
    """Future cancellations move, disappear, or appear for customers without one (after
    signup). The customers table's other columns are attributes the contract declares
    constant over the history (contract.tables.CUSTOMER_ATTRIBUTES)."""
    n = len(customers)
    earliest = customers["signup_date"].where(customers["signup_date"] > moment, moment)
    other_date = earliest + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    later = (customers["churn_date"] >= moment).to_numpy()
    dropped = rng.random(n) < 0.3
    added = customers["churn_date"].isna().to_numpy() & (rng.random(n) < 0.3)
    churn_date = customers["churn_date"].copy()
    churn_date[later] = other_date[later]
    churn_date[later & dropped] = pd.NaT
    churn_date[added] = other_date[added]
    return customers.assign(churn_date=churn_date)


def _shuffled(values: pd.Series, rng: np.random.Generator) -> np.ndarray:
    return values.to_numpy()[rng.permutation(len(values))]


def _resolve_open_complaints_differently(complaints, moment, rng):
    open_then = (complaints["opened_at"] < moment) & ~(complaints["resolved_at"] < moment)
    n = int(open_then.sum())
    resolved = moment + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    complaints.loc[open_then, "resolved_at"] = resolved.where(rng.random(n) < 0.7)
    complaints.loc[open_then, "resolution_satisfaction"] = rng.integers(1, 6, n).astype(float)
    return complaints


def _settle_open_payments_differently(payments, moment, rng):
    open_then = (payments["due_date"] < moment) & ~(payments["paid_date"] < moment)
    n = int(open_then.sum())
    failed = rng.random(n) < 0.5
    paid = moment + pd.to_timedelta(rng.integers(0, 40, n), unit="D")
    payments.loc[open_then, "paid_date"] = paid.where(~failed)
    payments.loc[open_then, "status"] = np.where(failed, "failed", "late")
    return payments


@pytest.fixture(scope="module")
def history(tiny: Simulated) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in tiny.raw.items()}


@pytest.fixture(scope="module")
def cfg(tiny: Simulated) -> Config:
    """The tiny data's config with the end of the data fixed, so only labels could move."""
    features = replace(tiny.cfg.features, observed_until="2024-11-25")
    return replace(tiny.cfg, features=features)


def features_at(tables, cfg, cutoff):
    inputs = frames_history(tables, cfg.features, cfg.data)
    plan = plan_features(inputs, list(cfg.causes))
    return snapshot(inputs, plan, cutoff, observed_until(inputs))


@pytest.fixture(scope="module")
def features_of_history(history, cfg) -> Callable[[pd.Timestamp], pd.DataFrame]:
    """The features of the history as it is, at a cutoff: computed once per cutoff, not in
    every example that compares a rewrite with them."""
    return cache(lambda cutoff: features_at(history, cfg, cutoff))


CUTOFFS = pd.date_range("2024-03-01", "2024-08-01", freq="MS")
PROPERTY = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(cutoff=st.sampled_from(list(CUTOFFS)), seed=st.integers(0, 2**32 - 1))
def test_rewriting_the_future_leaves_features_unchanged(
    history, cfg, features_of_history, cutoff, seed
):
    rewritten = rewrite_after(history, cutoff, np.random.default_rng(seed))
    before = features_of_history(cutoff).drop(columns=LABEL)
    after = features_at(rewritten, cfg, cutoff).drop(columns=LABEL)
    pd.testing.assert_frame_equal(before, after)


@PROPERTY
@given(cutoff=st.sampled_from(list(CUTOFFS)), seed=st.integers(0, 2**32 - 1))
def test_label_depends_only_on_the_label_window(history, cfg, features_of_history, cutoff, seed):
    window_end = cutoff + cfg.features.label.lookahead_days * DAY
    rewritten = rewrite_after(history, window_end + DAY, np.random.default_rng(seed))
    before = features_of_history(cutoff)
    after = features_at(rewritten, cfg, cutoff)
    pd.testing.assert_frame_equal(before, after)


@pytest.fixture(scope="module")
def pymc_imported() -> None:
    """PyMC raises the recursion limit when first imported, which Hypothesis fails a test
    for: import it before the property runs."""
    import pymc_marketing.clv  # noqa: F401


@pytest.mark.usefixtures("pymc_imported")
@PROPERTY
@given(cutoff=st.sampled_from(list(CUTOFFS)), seed=st.integers(0, 2**32 - 1))
def test_btyd_summary_sees_only_purchases_before_the_cutoff(history, cutoff, seed):
    rewritten = rewrite_after(history, cutoff, np.random.default_rng(seed))
    before = purchase_summary(history["transactions"], cutoff)
    after = purchase_summary(rewritten["transactions"], cutoff)
    pd.testing.assert_frame_equal(before, after)


def test_btyd_forecast_sees_only_purchases_before_the_cutoff(history):
    """The models see the data only through the summary; one fit each way to be sure."""
    cutoff = CUTOFFS[2]
    rewritten = rewrite_after(history, cutoff, np.random.default_rng(7))
    customers = history["transactions"]["customer_id"].drop_duplicates()
    rows = pd.DataFrame({"customer_id": customers.to_numpy(), "cutoff": cutoff})
    before = btyd_forecast(history["transactions"], rows, 30)
    after = btyd_forecast(rewritten["transactions"], rows, 30)
    pd.testing.assert_frame_equal(before, after)


def test_the_customers_table_is_attributes_and_dates_read_point_in_time(cfg):
    """Every customers column is either an attribute declared constant over the history or
    a date the rewrite above covers (churn_date; contract_end is scheduled, known when the
    contract is signed), so a new column must be placed in one or the other."""
    schema = table_contracts(cfg.data)["customers"].schema
    dated = {"signup_date", "churn_date", "contract_end"}
    attributes = {*CUSTOMER_ATTRIBUTES, *cfg.data.extra_customer_columns}
    assert set(schema.columns) == {"customer_id", *attributes, *dated}


def test_a_feature_that_reads_the_future_churn_date_fails_the_property(history, cfg, monkeypatch):
    """A planted leak of the contractual label itself is caught by the rewrite."""

    def leaky(inputs, table):
        features = switching.compute(inputs, table)
        leaving = ev.as_float(table.churn_date >= table.cutoff).fill_null(0.0)
        return features | {"tenure_days": features["tenure_days"] + leaving}

    families = [
        replace(family, compute=leaky) if family.name == "switching_cost" else family
        for family in feature_table.FAMILIES
    ]
    monkeypatch.setattr(feature_table, "FAMILIES", tuple(families))
    cutoff = CUTOFFS[2]
    rewritten = rewrite_after(history, cutoff, np.random.default_rng(3))
    before = features_at(history, cfg, cutoff).drop(columns=LABEL)
    after = features_at(rewritten, cfg, cutoff).drop(columns=LABEL)
    assert not before["tenure_days"].equals(after["tenure_days"])
    assert before.drop(columns="tenure_days").equals(after.drop(columns="tenure_days"))


def test_the_rewrite_really_changes_later_features(history, cfg):
    """Guard against a vacuous property: the rewrite does change features at a later cutoff."""
    cutoff = CUTOFFS[0]
    rewritten = rewrite_after(history, cutoff, np.random.default_rng(0))
    later = cutoff + 60 * DAY
    before = features_at(history, cfg, later)
    after = features_at(rewritten, cfg, later)
    assert not before.drop(columns=LABEL).equals(after.drop(columns=LABEL))
