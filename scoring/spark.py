"""Scoring on Spark's executors: the feature rows of a range of customers stay in Spark.

Who is active and each part of the feature rows are computed once and kept on the
executors, then joined there. Each executor types its share of the rows as the feature
table does, predicts with the model (``mapInArrow``) and counts its rows in the drift
profile's bins. Only three things come back to the driver: every customer's keys,
decision columns and probability; the model inputs of the customers at risk (the only
ones explained); and one set of drift counts per partition, added up there. The model
and the code travel to the executors by pickling, so every executor needs this package
and the model's libraries installed, as the driver has them.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterator
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from features import lifecycle
from features.columns import DEFINITION, KEYS, LIFECYCLE
from features.events import cutoff_table
from features.feature_table import FeaturePlan, feature_parts, typed_rows
from features.history import CustomerHistory
from features.labels import active_at
from models.drift import DriftCounts
from models.estimators import model_inputs
from scoring.scorer import PROBABILITY, Scorer


@dataclass(frozen=True)
class _Predict:
    """Executor side: typed feature rows -> the keys, the ``kept`` columns (as the model
    reads them: categories as strings) and the churn probability."""

    plan: FeaturePlan
    categories_of: dict[str, list[str]]
    scorer: Scorer
    kept: list[str]
    schema: pa.Schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = typed_rows(pa.Table.from_batches([batch]), self.plan, self.categories_of)
            scored = model_inputs(rows, [*KEYS, *self.kept])
            scored[PROBABILITY] = self.scorer.probability(rows)
            table = pa.Table.from_pandas(scored, schema=self.schema, preserve_index=False)
            yield from table.to_batches()


@dataclass(frozen=True)
class _CountDrift:
    """Executor side: one partition's model inputs counted in the drift profile's bins,
    as one pickled ``DriftCounts``."""

    plan: FeaturePlan
    categories_of: dict[str, list[str]]
    columns: list[str]
    profile: dict

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        counts = DriftCounts(self.profile)
        for batch in batches:
            rows = typed_rows(pa.Table.from_batches([batch]), self.plan, self.categories_of)
            counts.add(model_inputs(rows, self.columns))
        yield pa.record_batch({"counts": pa.array([pickle.dumps(counts)], pa.binary())})


def score_on_executors(
    history: CustomerHistory,
    plan: FeaturePlan,
    categories_of: dict[str, list[str]],
    as_of: pd.Timestamp,
    data_end: pd.Timestamp,
    scorer: Scorer,
    drift: DriftCounts,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers of ``history`` (a PySpark connection's) active at ``as_of``, scored
    on the executors as ``Scorer.score`` scores them in process, with the same result:
    every customer's keys, decision columns and probability, and the keys and model inputs
    of those at risk, in customer_id order; their drift counts are added to ``drift``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    columns, decided_on = scorer.columns, scorer.decided_on
    kept = list(dict.fromkeys([*decided_on, *columns]))
    with _Kept(ibis.get_backend(history.customers)) as keep:
        rows = _feature_frame(history, plan, as_of, data_end, keep)
        schema = _scored_schema(rows, plan, kept)
        predict = _Predict(plan, categories_of, scorer, kept, schema)
        scored = keep.frame(rows.mapInArrow(predict, from_arrow_schema(schema)))
        everyone = scored.select(*KEYS, *decided_on, PROBABILITY).toArrow()
        risky = scored.filter(scored[PROBABILITY] >= scorer.risk_threshold)
        at_risk = risky.select(*KEYS, *columns).toArrow()
        count = _CountDrift(plan, categories_of, columns, drift.profile)
        counted = scored.select(*columns).mapInArrow(count, "counts binary").toArrow()
    for blob in counted["counts"].to_pylist():
        drift.merge(pickle.loads(blob))
    customers = _in_id_order(typed_rows(everyone, plan, categories_of), everyone)
    customers = customers[[*KEYS, *decided_on, PROBABILITY]]
    inputs = _in_id_order(typed_rows(at_risk, plan, categories_of), at_risk)
    return customers, pd.concat([inputs[list(KEYS)], model_inputs(inputs, columns)], axis=1)


def _feature_frame(
    history: CustomerHistory,
    plan: FeaturePlan,
    as_of: pd.Timestamp,
    data_end: pd.Timestamp,
    keep: _Kept,
):
    """The feature rows of the customers active at ``as_of``, as a Spark DataFrame: who
    is active, then each part of the rows (``feature_parts``), computed once and kept on
    the executors (``keep``), joined on the keys, with the lifecycle stage. Joining the
    parts' queries in one query instead ran out of memory: every part's aggregates and
    sorts ended up in one task."""
    at = cutoff_table([as_of])
    active = keep.table(keep.frame(_spark_frame(active_at(history, at))))
    parts = feature_parts(history, plan, active, at, data_end)
    rows = functools.reduce(
        lambda left, right: left.join(right, list(KEYS)),
        [keep.frame(_spark_frame(part)) for part in parts],
    )
    if LIFECYCLE not in plan.feature_names:
        return rows
    joined = keep.table(rows)
    stage = lifecycle.assign_stage(joined, history.features.lifecycle)
    return _spark_frame(joined.mutate(**{LIFECYCLE: stage}))


class _Kept:
    """Spark DataFrames computed once and kept on the executors (persisted, in memory and
    on disk), so that the queries reading them start from their rows; and temporary views
    of them, for Ibis to read. Everything is released when the block ends."""

    def __init__(self, con) -> None:
        self.con = con
        self.frames, self.views = [], []

    def __enter__(self) -> _Kept:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name in self.views:
            self.con.raw_sql(f"DROP VIEW IF EXISTS {name}")
        for frame in self.frames:
            frame.unpersist()

    def frame(self, frame):
        """``frame``, computed now and kept."""
        frame = frame.persist()
        frame.count()
        self.frames.append(frame)
        return frame

    def table(self, frame) -> ir.Table:
        """``frame`` as an Ibis table of the connection (a temporary view)."""
        name = ibis.util.gen_name("churn_rows")
        frame.createOrReplaceTempView(name)
        self.views.append(name)
        return self.con.table(name)


def _in_id_order(rows: pd.DataFrame, received: pa.Table) -> pd.DataFrame:
    """``rows`` with the probability of ``received`` (where it has one), sorted by
    customer_id (one cutoff: the id is unique)."""
    if PROBABILITY in received.column_names:
        rows[PROBABILITY] = received[PROBABILITY].to_numpy()
    return rows.sort_values("customer_id", kind="stable", ignore_index=True)


def _spark_frame(query: ir.Table):
    """``query`` as a Spark DataFrame of its PySpark connection, not collected."""
    con = ibis.get_backend(query)
    # Registers the in-memory tables the query reads (the cutoffs) with the session, as
    # Ibis 12 does before it runs a query.
    con._run_pre_execute_hooks(query)
    return con.raw_sql(con.compile(query))


def _scored_schema(rows, plan: FeaturePlan, kept: list[str]) -> pa.Schema:
    """What the executors send back for feature ``rows`` (a Spark DataFrame): the keys,
    ``kept`` (float32 features, categories and the definition as strings) and the
    probability."""
    from pyspark.sql.pandas.types import to_arrow_type

    dtypes = {spec.name: spec.dtype for spec in plan.catalogue}
    fields = [
        pa.field("customer_id", to_arrow_type(rows.schema["customer_id"].dataType)),
        pa.field("cutoff", pa.timestamp("us")),
    ]
    for name in kept:
        numeric = name != DEFINITION and dtypes[name] == "float32"
        fields.append(pa.field(name, pa.float32() if numeric else pa.string()))
    fields.append(pa.field(PROBABILITY, pa.float64()))
    return pa.schema(fields)
