"""Assemble the feature table: one row per active customer per cutoff, with its label.

Each family is a module with ``describe(history)`` (feature name -> description) and
``compute(history, cutoff)`` (a frame with one row per customer, in customers order). A
family whose tables or columns are absent is left out, and the stage says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features import (
    competition,
    complaints,
    credit,
    declared,
    lifecycle,
    payments,
    price,
    returns,
    rfm,
    satisfaction,
    service,
    switching,
)
from features.catalogue import FeatureSpec, assign_causes, cause_patterns
from features.columns import DECLARED_PREFIX, DEFINITION, LABEL, LIFECYCLE
from features.history import CustomerHistory
from features.labels import active_at, churn_definitions, churn_label


@dataclass(frozen=True)
class Family:
    """A feature family and the data it needs: tables ("payments") and columns
    ("transactions.amount"). A family whose needs are not all met is not computed."""

    name: str
    describe: Callable[[CustomerHistory], dict[str, str]]
    compute: Callable[[CustomerHistory, pd.Timestamp], pd.DataFrame]
    needs: tuple[str, ...] = ()

    def missing(self, history: CustomerHistory) -> list[str]:
        return [needed for needed in self.needs if not history.has(needed)]


# RFM and switching costs compute what the columns present allow (a purchase log with ids
# and timestamps only gets recency, frequency, regularity and tenure); the other families
# need every column they read.
FAMILIES = (
    Family("rfm", rfm.describe, rfm.compute, ("transactions",)),
    Family("returns", returns.describe, returns.compute, ("transactions.is_return",)),
    Family(
        "price",
        price.describe,
        price.compute,
        ("transactions.amount", "transactions.discount"),
    ),
    Family("switching_cost", switching.describe, switching.compute),
    Family(
        "complaints",
        complaints.describe,
        complaints.compute,
        (
            "complaints.category",
            "complaints.resolved_at",
            "complaints.resolution_satisfaction",
        ),
    ),
    Family(
        "service",
        service.describe,
        service.compute,
        ("service_incidents.kind", "service_incidents.severity"),
    ),
    Family("satisfaction", satisfaction.describe, satisfaction.compute, ("surveys.score",)),
    Family(
        "competition",
        competition.describe,
        competition.compute,
        ("competitor_offers", "customers.region"),
    ),
    Family(
        "payments", payments.describe, payments.compute, ("payments.paid_date", "payments.status")
    ),
    Family("credit", credit.describe, credit.compute, ("customers.credit_score",)),
    Family("declared", declared.describe, declared.compute),
)


@dataclass(frozen=True)
class FeaturePlan:
    """What the table will hold: the families present, the absent ones and why."""

    families: tuple[Family, ...]
    absent: dict[str, list[str]]
    catalogue: tuple[FeatureSpec, ...]

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self.catalogue]


def plan_features(history: CustomerHistory, cause_names: list[str]) -> FeaturePlan:
    """Choose the families the tables allow and catalogue their features with causes."""
    present, absent = [], {}
    for family in FAMILIES:
        missing = family.missing(history)
        if missing:
            absent[family.name] = missing
        else:
            present.append(family)
    described = [
        (family.name, name, text)
        for family in present
        for name, text in family.describe(history).items()
    ]
    if history.has("transactions"):
        described.append(("lifecycle", LIFECYCLE, lifecycle.DESCRIPTION))
    else:
        absent["lifecycle"] = ["transactions"]
    patterns = cause_patterns(history.features, history.data)
    causes = assign_causes([name for _, name, _ in described], patterns, cause_names)
    catalogue = tuple(
        FeatureSpec(name, text, family, _dtype(name, history), causes[name])
        for family, name, text in described
    )
    return FeaturePlan(tuple(present), absent, catalogue)


def _dtype(name: str, history: CustomerHistory) -> str:
    categorical = {LIFECYCLE, "contract_type", "payment_last_status"} | {
        f"{DECLARED_PREFIX}{column}"
        for column, kind in history.data.extra_customer_columns.items()
        if kind == "categorical"
    }
    return "category" if name in categorical else "float32"


def observed_until(history: CustomerHistory) -> pd.Timestamp:
    """End of the observed data: the snapshot date in snapshot mode; else from config, or
    the day after the last transaction."""
    if history.data.snapshot is not None:
        return pd.Timestamp(history.data.snapshot.date)
    if history.features.observed_until is not None:
        return pd.Timestamp(history.features.observed_until)
    last = history.events["transactions"]["timestamp"].max()
    if pd.isna(last):
        raise ConfigError("features.observed_until: no transactions to infer it from; set it")
    return last.normalize() + pd.Timedelta(days=1)


def cutoff_dates(history: CustomerHistory, data_end: pd.Timestamp) -> list[pd.Timestamp]:
    """The configured cutoffs, none after the end of the data; the snapshot date alone in
    snapshot mode. An unset start is the first date with the longest feature window of
    history after the first transaction; an unset end is the end of the data."""
    if history.data.snapshot is not None:
        return [pd.Timestamp(history.data.snapshot.date)]
    spec = history.data.cutoffs
    first = history.events["transactions"]["timestamp"].min().normalize()
    start = first + pd.Timedelta(days=history.features.long_window_days)
    cutoffs = list(spec.dates(start, data_end))
    if not cutoffs:
        raise ConfigError(f"data.cutoffs: {spec} gives no dates")
    late = [str(cutoff.date()) for cutoff in cutoffs if cutoff > data_end]
    if late:
        raise ConfigError(
            f"data.cutoffs: {late} lie after the end of the data ({data_end.date()}); "
            "features there would be computed from missing events"
        )
    return cutoffs


def snapshot(
    history: CustomerHistory, plan: FeaturePlan, cutoff: pd.Timestamp, data_end: pd.Timestamp
) -> pd.DataFrame:
    """Feature rows of the customers active at ``cutoff``, with definition and label."""
    definitions = churn_definitions(history)
    rows = np.flatnonzero(active_at(history, cutoff, definitions))
    frames = [family.compute(history, cutoff).iloc[rows] for family in plan.families]
    features = pd.concat(frames, axis=1).reset_index(drop=True)
    if LIFECYCLE in plan.feature_names:
        features[LIFECYCLE] = lifecycle.assign_stage(features, history.features.lifecycle)
    computed = list(features.columns)
    if computed != plan.feature_names:
        raise RuntimeError(f"features {computed} differ from the catalogue {plan.feature_names}")
    keys = pd.DataFrame(
        {
            "customer_id": history.customers["customer_id"].to_numpy()[rows],
            "cutoff": np.full(len(rows), cutoff.to_datetime64()),
        }
    )
    label = churn_label(history, cutoff, definitions, data_end)[rows]
    outcome = pd.DataFrame(
        {
            DEFINITION: definitions[rows],
            LABEL: pd.array(label, dtype="Int8"),
        }
    )
    typed = features.astype({spec.name: spec.dtype for spec in plan.catalogue})
    return pd.concat([keys, typed, outcome], axis=1)
