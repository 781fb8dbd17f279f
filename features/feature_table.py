"""Assemble the feature table: one row per active customer per cutoff, with its label.

Each family is a module with ``describe(history)`` (feature name -> description) and
``compute(history, cutoffs)`` (an Ibis table: ``customer_id``, ``cutoff`` and the
family's features, one row per customer and cutoff of the ``cutoffs`` table). A family
whose tables or columns are absent is left out, and the stage says so. A batch of cutoffs
is one query per family, run by the history's engine; only the feature rows come back.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from contract.errors import ConfigError
from contract.tables import CONTRACT_TYPES
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
from features import events as ev
from features.catalogue import FeatureSpec, assign_causes, cause_patterns
from features.columns import DECLARED_PREFIX, DEFINITION, KEYS, LABEL, LIFECYCLE
from features.config import CHURN_DEFINITIONS, FeaturesConfig, LifecycleRulesConfig
from features.history import ROW_TIME, CustomerHistory
from features.labels import active_at, churn_label


def _all_history(features: FeaturesConfig) -> None:
    return None


@dataclass(frozen=True)
class EventReader:
    """How a family reads an event table: ``aggregate`` makes its aggregates per customer
    and cutoff of the table's ``event_rows``. ``lookback_days`` is the longest window it
    needs (None: all history); ``relevant`` keeps the events that can count at some
    cutoff of a batch where a look-back cannot say it (payments settled long ago count
    only as a customer's last); ``derive`` adds columns computed from the events alone,
    ``derive_at_cutoff`` columns of each event at each cutoff (a rank among the events
    before it). Events are aggregated per customer, or per region (``by``) for events
    that concern every customer of a region. The families reading one table share one
    group-by, so an aggregate's name means the same in each of them."""

    table: str
    aggregate: Callable[[CustomerHistory, ir.Table], ev.Aggregates]
    lookback_days: Callable[[FeaturesConfig], int | None] = _all_history
    derive: Callable[[ir.Table], dict[str, ir.Value]] | None = None
    derive_at_cutoff: Callable[[ir.Table], ir.Table] | None = None
    by: str = "customer_id"
    relevant: Callable[[ir.Table, ir.Table, FeaturesConfig], ir.Table] | None = None


@dataclass(frozen=True)
class Family:
    """A feature family and the data it needs: tables ("payments") and columns
    ("transactions.amount"). A family whose needs are not all met is not computed.

    ``compute(history, table)`` gives the family's features (name -> expression) over
    ``table``: the active customers' columns at each cutoff (``cutoff``), with the
    family's aggregates if it ``reads`` an event table (0 counts and NULL others for a
    customer without events)."""

    name: str
    describe: Callable[[CustomerHistory], dict[str, str]]
    compute: Callable[[CustomerHistory, ir.Table], dict[str, ir.Value]]
    needs: tuple[str, ...] = ()
    reads: EventReader | None = None

    def missing(self, history: CustomerHistory) -> list[str]:
        return [needed for needed in self.needs if not history.has(needed)]


# RFM and switching costs compute what the columns present allow (a purchase log with ids
# and timestamps only gets recency, frequency, regularity and tenure); the other families
# need every column they read.
FAMILIES = (
    Family(
        "rfm",
        rfm.describe,
        rfm.compute,
        ("transactions",),
        EventReader("transactions", rfm.aggregate, rfm.lookback_days, rfm.previous_purchase),
    ),
    Family(
        "returns",
        returns.describe,
        returns.compute,
        ("transactions.is_return",),
        EventReader("transactions", returns.aggregate, returns.lookback_days),
    ),
    Family(
        "price",
        price.describe,
        price.compute,
        ("transactions.amount", "transactions.discount"),
        EventReader("transactions", price.aggregate, price.lookback_days),
    ),
    Family(
        "switching_cost",
        switching.describe,
        switching.compute,
        reads=EventReader(
            "transactions",
            switching.aggregate,
            switching.lookback_days,
            switching.previous_in_category,
        ),
    ),
    Family(
        "complaints",
        complaints.describe,
        complaints.compute,
        (
            "complaints.category",
            "complaints.resolved_at",
            "complaints.resolution_satisfaction",
        ),
        EventReader("complaints", complaints.aggregate, derive=complaints.repeats),
    ),
    Family(
        "service",
        service.describe,
        service.compute,
        ("service_incidents.kind", "service_incidents.severity"),
        EventReader("service_incidents", service.aggregate, service.lookback_days),
    ),
    Family(
        "satisfaction",
        satisfaction.describe,
        satisfaction.compute,
        ("surveys.score",),
        EventReader(
            "surveys", satisfaction.aggregate, derive_at_cutoff=satisfaction.with_recency_rank
        ),
    ),
    Family(
        "competition",
        competition.describe,
        competition.compute,
        ("competitor_offers", "customers.region"),
        EventReader("competitor_offers", competition.aggregate, by="region"),
    ),
    Family(
        "payments",
        payments.describe,
        payments.compute,
        ("payments.paid_date", "payments.status"),
        EventReader("payments", payments.aggregate, relevant=payments.relevant),
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


def categories(history: CustomerHistory, plan: FeaturePlan) -> dict[str, list[str]]:
    """The categories of each categorical feature: fixed lists, and for a declared
    attribute the sorted values of the customers table (one small query each)."""
    fixed = {
        LIFECYCLE: list(lifecycle.STAGES),
        "contract_type": list(CONTRACT_TYPES),
        "payment_last_status": list(payments.LAST_STATUSES),
    }
    found = {}
    for spec in plan.catalogue:
        if spec.dtype != "category":
            continue
        if spec.name in fixed:
            found[spec.name] = fixed[spec.name]
        else:
            column = spec.name.removeprefix(DECLARED_PREFIX)
            values = history.customers.select(column).distinct()[column].to_pyarrow().to_pylist()
            found[spec.name] = sorted(value for value in values if value is not None)
    return found


def observed_until(history: CustomerHistory) -> pd.Timestamp:
    """End of the observed data: the snapshot date in snapshot mode; else from config, or
    the day after the last transaction."""
    if history.data.snapshot is not None:
        return pd.Timestamp(history.data.snapshot.date)
    if history.features.observed_until is not None:
        return pd.Timestamp(history.features.observed_until)
    last = history.events["transactions"].timestamp.max().to_pyarrow().as_py()
    if last is None:
        raise ConfigError("features.observed_until: no transactions to infer it from; set it")
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def cutoff_dates(history: CustomerHistory, data_end: pd.Timestamp) -> list[pd.Timestamp]:
    """The configured cutoffs, none after the end of the data; the snapshot date alone in
    snapshot mode. An unset start is the first date with the longest feature window of
    history after the first transaction; an unset end is the end of the data."""
    if history.data.snapshot is not None:
        return [pd.Timestamp(history.data.snapshot.date)]
    spec = history.data.cutoffs
    first = pd.Timestamp(history.events["transactions"].timestamp.min().to_pyarrow().as_py())
    first = first.normalize()
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


def feature_parts(
    history: CustomerHistory,
    plan: FeaturePlan,
    active: ir.Table,
    at: ir.Table,
    data_end: pd.Timestamp,
) -> list[ir.Table]:
    """The feature rows of the ``active`` customers (``active_at``) at the cutoffs of
    ``at``, as one query per part, each with the keys, in no order: the definition and
    label; the features of the families reading each event table, whose aggregates are
    one group-by; each other family's features. Every engine runs these well; a single
    query joining all of them made Spark run out of memory (every part's aggregates and
    sorts in one task), so a caller joins what the parts computed."""
    keys = list(KEYS)
    outcome = active.inner_join(churn_label(history, active, data_end), keys)
    queries = [outcome.select(*keys, **{DEFINITION: outcome.definition, LABEL: outcome.churned})]
    customers = active.select(*keys).inner_join(history.customers, "customer_id")
    readers: dict[str, list[Family]] = {}
    others = []
    for family in plan.families:
        if family.reads is not None and history.has(family.reads.table):
            readers.setdefault(family.reads.table, []).append(family)
        else:
            others.append(family)
    if others:
        queries.append(_features(history, others, customers))
    for table, families in readers.items():
        with_aggregates = _with_event_aggregates(history, customers, table, families, at)
        queries.append(_features(history, families, with_aggregates))
    return queries


def _with_event_aggregates(
    history: CustomerHistory,
    customers: ir.Table,
    table: str,
    families: list[Family],
    at: ir.Table,
) -> ir.Table:
    """``customers`` (at each cutoff of ``at``) with the aggregates of every family of
    ``families`` over ``table``'s events before the cutoff, as one group-by; counts and
    sums are 0 without events."""
    readers = [family.reads for family in families]
    lookbacks = [reader.lookback_days(history.features) for reader in readers]
    derives = [reader.derive for reader in readers if reader.derive is not None]

    def derive(events: ir.Table) -> dict[str, ir.Value]:
        derived = {}
        for each in derives:
            derived |= each(events)
        return derived

    lookback = None if None in lookbacks else max(lookbacks)
    on = [readers[0].by, "cutoff"]
    # Events of a customer are joined to the active customers at each cutoff; events of a
    # region, to the cutoffs.
    joined_to = customers.select(*on) if on[0] == "customer_id" else at
    events = history.table(table)
    for reader in readers:
        if reader.relevant is not None:
            events = reader.relevant(events, joined_to, history.features)
    rows = ev.event_rows(events, ROW_TIME[table], joined_to, lookback, derive)
    for reader in readers:
        if reader.derive_at_cutoff is not None:
            rows = reader.derive_at_cutoff(rows)
    zero_filled, others = {}, {}
    for reader in readers:
        aggregates = reader.aggregate(history, rows)
        for name, value in {**aggregates.zero_filled, **aggregates.others}.items():
            known = zero_filled.get(name, others.get(name))
            if known is not None and not known.equals(value):
                raise RuntimeError(f"two families on {table} name different aggregates {name!r}")
        zero_filled |= aggregates.zero_filled
        others |= aggregates.others
    grouped = rows.group_by(on).aggregate(**zero_filled, **others)
    joined = customers.left_join(grouped, on)
    return joined.select(
        *customers.columns,
        **{name: joined[name].coalesce(0) for name in zero_filled},
        **{name: joined[name] for name in others},
    )


def _features(history: CustomerHistory, families: list[Family], table: ir.Table) -> ir.Table:
    """The keys and the features of ``families``, computed over ``table``."""
    features = {}
    for family in families:
        features |= family.compute(history, table)
    return table.select(*KEYS, **features)


def snapshot(
    history: CustomerHistory,
    plan: FeaturePlan,
    cutoffs: pd.Timestamp | list[pd.Timestamp],
    data_end: pd.Timestamp,
    categories_of: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Feature rows of the customers active at ``cutoffs`` (one or several), with
    definition and label, typed as the catalogue says (``categories_of``: from
    ``categories``, computed here if not given)."""
    if isinstance(cutoffs, pd.Timestamp):
        cutoffs = [cutoffs]
    if categories_of is None:
        categories_of = categories(history, plan)
    at = ev.cutoff_table(cutoffs)
    active = active_at(history, at)
    # Who is active is computed once and kept in the engine for every part's query; Ibis
    # 12 cannot cache a query over an in-memory table (the cutoffs) on PySpark, where it
    # is recomputed in each query instead.
    on_spark = ibis.get_backend(history.customers).name == "pyspark"
    with nullcontext(active) if on_spark else active.cache() as kept:
        queries = feature_parts(history, plan, kept, at, data_end)
        parts = [query.order_by(["cutoff", "customer_id"]).to_pyarrow() for query in queries]
    rows = parts[0]
    for part in parts[1:]:
        same_keys = part["customer_id"].equals(rows["customer_id"])
        if not (same_keys and part["cutoff"].equals(rows["cutoff"])):
            raise RuntimeError("a feature family's rows differ from the active customers'")
        for name in part.column_names[2:]:
            rows = rows.append_column(name, part[name])
    if LIFECYCLE in plan.feature_names:
        rows = rows.append_column(LIFECYCLE, _stages(rows, history.features.lifecycle))
    missing = sorted(set(plan.feature_names) - set(rows.column_names))
    if missing:
        raise RuntimeError(f"features {missing} of the catalogue were not computed")
    return typed_rows(rows, plan, categories_of)


def _stages(rows: pa.Table, rules: LifecycleRulesConfig) -> pa.ChunkedArray:
    """The lifecycle stage of each row, by the same Ibis rule, run in process (DuckDB) on
    the features already computed."""
    table = ibis.memtable(rows.select(lifecycle.needs(rules)))
    return table.select(stage=lifecycle.assign_stage(table, rules)).to_pyarrow()["stage"]


def typed_rows(
    rows: pa.Table, plan: FeaturePlan, categories_of: dict[str, list[str]]
) -> pd.DataFrame:
    """The engine's rows as the feature table: keys first, features as float32 or
    categories, the definition a category and the label nullable Int8; of these, the
    columns ``rows`` has (scoring on Spark brings back only some)."""
    present = set(rows.column_names)
    columns = {}
    if "customer_id" in present:
        columns["customer_id"] = rows["customer_id"].to_pandas()
    if "cutoff" in present:
        columns["cutoff"] = _naive_timestamps(rows["cutoff"])
    for spec in plan.catalogue:
        if spec.name not in present:
            continue
        values = rows[spec.name]
        if spec.dtype == "category":
            columns[spec.name] = _categorical(values, categories_of[spec.name])
        else:
            columns[spec.name] = _float32(values)
    if DEFINITION in present:
        columns[DEFINITION] = _categorical(rows[DEFINITION], CHURN_DEFINITIONS)
    if LABEL in present:
        columns[LABEL] = pd.array(rows[LABEL].to_pandas(), dtype="Float64").astype("Int8")
    return pd.DataFrame(columns)


def _float32(values: pa.ChunkedArray) -> pd.Series:
    """Numbers (or booleans) as float32, NULL as NaN: cast in Arrow, through float64 so that
    an integer is rounded once, as pandas would."""
    return pc.cast(pc.cast(values, pa.float64()), pa.float32()).to_pandas()


def _categorical(values: pa.ChunkedArray, categories: list[str]) -> pd.Categorical:
    """Values as a categorical of ``categories``; NULL, and a value not among them, are
    missing (as ``pd.Categorical`` gives them). Coded in Arrow: a few distinct strings are
    looked up instead of every row's."""
    encoded = pc.cast(values, pa.string()).combine_chunks().dictionary_encode()
    positions = pd.Index(categories).get_indexer(encoded.dictionary.to_pylist())
    codes = np.append(positions, -1)[encoded.indices.fill_null(len(positions)).to_numpy()]
    return pd.Categorical.from_codes(codes, categories)


def _naive_timestamps(values: pa.ChunkedArray) -> pd.Series:
    """Timestamps without a time zone, in UTC (Spark gives its timestamps in UTC, the
    session's zone)."""
    if values.type.tz is not None:
        values = pc.cast(values, pa.timestamp(values.type.unit))
    return values.to_pandas().astype("datetime64[ns]")


def feature_template(plan: FeaturePlan, categories_of: dict[str, list[str]]) -> pd.DataFrame:
    """No feature rows, with every feature of the catalogue typed as ``typed_rows`` types
    it: to check a model's signature before any row is computed."""
    empty = pa.table({name: pa.nulls(0) for name in plan.feature_names})
    return typed_rows(empty, plan, categories_of)
