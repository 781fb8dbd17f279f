"""The input data contract as code: one pandera schema per table.

docs/data-contract.md describes the same tables for people; a test keeps the two in
step. Schemas only say what a valid table looks like; ``contract.validation`` applies
them and adds the checks that need two tables at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.engines.pandas_engine import DateTime

from contract.config import DataConfig


# Naive timestamps; text is parsed as ISO 8601 value by value (a CSV column may mix dates
# and date-times) unless data.date_format names a format.
def timestamp_type(date_format: str | None) -> DateTime:
    return DateTime(unit="ns", to_datetime_kwargs={"format": date_format or "ISO8601"})


CONTRACT_TYPES = ("none", "month_to_month", "annual")
COMPLAINT_CATEGORIES = ("billing", "service", "product", "delivery", "staff")
PAYMENT_STATUSES = ("paid", "late", "failed")
INCIDENT_KINDS = ("late_delivery", "outage", "defect", "stock_out")
SEVERITIES = (1, 2, 3)
SURVEY_SCORE_RANGE = (1, 10)
RESOLUTION_SATISFACTION_RANGE = (1, 5)
CREDIT_SCORE_RANGE = (300, 850)
# The customers table is one row per customer as of the export. These columns (and those
# declared in data.extra_customer_columns) are attributes taken as constant over the
# history: features read their current value at every cutoff. Its dates are read point in
# time: signup_date and churn_date only when before the cutoff, contract_end only through
# its anniversary (tests/logic/test_leakage.py holds the features to both).
CUSTOMER_ATTRIBUTES = (
    "region",
    "acquisition_channel",
    "contract_type",
    "loyalty_tier",
    "autopay",
    "account_manager",
    "credit_score",
)

TABLES = (
    "customers",
    "transactions",
    "complaints",
    "payments",
    "service_incidents",
    "surveys",
    "competitor_offers",
    "churn_reasons",
)


def required_tables(data: DataConfig) -> tuple[str, ...]:
    """transactions (customers derive from it), or customers alone in snapshot mode."""
    return ("customers",) if data.snapshot is not None else ("transactions",)


@dataclass(frozen=True)
class TableContract:
    """A table's schema plus the columns the cross-table checks look at.

    ``event_time`` is the column that must not precede the customer's signup date;
    None for tables without a customer (competitor offers) and for customers itself.
    ``scheduled`` columns hold planned dates (a contract's end), which may lie ahead.
    Every column but the keys and ``event_time`` is optional (docs/data-contract.md says
    what an absent one means).
    """

    name: str
    schema: pa.DataFrameSchema
    event_time: str | None
    scheduled: tuple[str, ...] = ()

    @property
    def has_customer_id(self) -> bool:
        return "customer_id" in self.schema.columns

    @property
    def observed_time_columns(self) -> list[str]:
        """Timestamp columns that record something that happened, so cannot be in the future."""
        return [
            name
            for name, column in self.schema.columns.items()
            if isinstance(column.dtype, DateTime) and name not in self.scheduled
        ]

    @property
    def timestamp_columns(self) -> list[str]:
        return [
            name
            for name, column in self.schema.columns.items()
            if isinstance(column.dtype, DateTime)
        ]

    @property
    def integer_columns(self) -> list[str]:
        return [name for name, column in self.schema.columns.items() if column.dtype == INTEGER]

    @property
    def boolean_columns(self) -> list[str]:
        return [name for name, column in self.schema.columns.items() if column.dtype == BOOLEAN]


BOOLEAN = pandas_engine.Engine.dtype(bool)
INTEGER = pandas_engine.Engine.dtype(int)
# Numbers are finite: an infinite amount would make an infinitely valuable customer.
FINITE = pa.Check(lambda values: ~np.isinf(values), name="finite (not inf)")
# A purchase's amount stays below 10^10: features add amounts as decimals of 18 digits,
# eight after the point (features/events.py: EXACT).
MAX_AMOUNT = 1e10


def _customer_id() -> pa.Column:
    # Integer or string keys are both accepted; the referential check catches a mismatch.
    return pa.Column(None, nullable=False)


def _optional(dtype: object, *checks: pa.Check, nullable: bool = False) -> pa.Column:
    if dtype is float:
        checks = (FINITE, *checks)
    return pa.Column(dtype, list(checks), nullable=nullable, required=False)


def _one_of(values: tuple | list) -> pa.Column:
    return _optional(str, pa.Check.isin(list(values)))


def _not_before(later: str, earlier: str) -> pa.Check:
    """Row check: ``later`` is empty, or either column absent, or not before ``earlier``."""

    def check(frame: pd.DataFrame) -> pd.Series | bool:
        return later not in frame or earlier not in frame or ~(frame[later] < frame[earlier])

    return pa.Check(check, name=f"{later} not before {earlier}", title=later)


def _customers(data: DataConfig, time: DateTime) -> pa.DataFrameSchema:
    # Declared columns must be there: the data config says they are.
    extra = {
        name: pa.Column(float, FINITE, nullable=True)
        if kind == "numeric"
        else pa.Column(str, nullable=True)
        for name, kind in data.extra_customer_columns.items()
    }
    if data.snapshot is not None:
        extra[data.snapshot.label] = pa.Column(BOOLEAN)
    return pa.DataFrameSchema(
        {
            "customer_id": pa.Column(None, nullable=False, unique=True),
            "signup_date": _optional(time),
            "region": _optional(str),
            "acquisition_channel": _optional(str),
            "contract_type": _one_of(CONTRACT_TYPES),
            "contract_end": _optional(time, nullable=True),
            "loyalty_tier": _one_of(data.loyalty_tiers),
            "autopay": _optional(BOOLEAN),
            "account_manager": _optional(BOOLEAN),
            "credit_score": _optional(float, pa.Check.in_range(*CREDIT_SCORE_RANGE), nullable=True),
            "churn_date": _optional(time, nullable=True),
            **extra,
        },
        checks=[
            _not_before("churn_date", "signup_date"),
            _not_before("contract_end", "signup_date"),
        ],
    )


def _events(
    columns: dict[str, pa.Column], checks: list[pa.Check] | None = None, lines: bool = False
) -> pa.DataFrameSchema:
    """Schema of an event table: exact duplicate rows are an error (a double load), unless
    the rows are ``lines`` of larger events (invoice lines), which may repeat."""
    return pa.DataFrameSchema(
        columns,
        checks=checks or [],
        unique=None if lines else list(columns),
        report_duplicates="exclude_first",
    )


def table_contracts(data: DataConfig) -> dict[str, TableContract]:
    """The contract of every table, for the loyalty tiers, extra columns, snapshot label
    and date format in ``data``."""
    time = timestamp_type(data.date_format)
    return {
        "customers": TableContract(
            "customers", _customers(data, time), event_time=None, scheduled=("contract_end",)
        ),
        "transactions": TableContract(
            "transactions",
            _events(
                {
                    "customer_id": _customer_id(),
                    "timestamp": pa.Column(time),
                    "amount": _optional(float, pa.Check.ge(0), pa.Check.lt(MAX_AMOUNT)),
                    "discount": _optional(float, pa.Check.ge(0)),
                    "category": _optional(str),
                    "is_return": _optional(BOOLEAN),
                },
                [
                    pa.Check(
                        lambda t: (
                            "discount" not in t or "amount" not in t or t["discount"] <= t["amount"]
                        ),
                        name="discount not above amount",
                        title="discount",
                    )
                ],
                lines=data.transactions_are_lines,
            ),
            event_time="timestamp",
        ),
        "complaints": TableContract(
            "complaints",
            _events(
                {
                    "customer_id": _customer_id(),
                    "opened_at": pa.Column(time),
                    "resolved_at": _optional(time, nullable=True),
                    "category": _one_of(COMPLAINT_CATEGORIES),
                    "severity": _optional(int, pa.Check.isin(list(SEVERITIES))),
                    "resolution_satisfaction": _optional(
                        float, pa.Check.in_range(*RESOLUTION_SATISFACTION_RANGE), nullable=True
                    ),
                },
                [_not_before("resolved_at", "opened_at")],
            ),
            event_time="opened_at",
        ),
        "payments": TableContract(
            "payments",
            _events(
                {
                    "customer_id": _customer_id(),
                    "due_date": pa.Column(time),
                    "paid_date": _optional(time, nullable=True),
                    "amount": _optional(float, pa.Check.ge(0)),
                    "status": _one_of(PAYMENT_STATUSES),
                },
                [
                    pa.Check(
                        lambda p: (
                            "status" not in p
                            or "paid_date" not in p
                            or (p["status"] == "failed") == p["paid_date"].isna()
                        ),
                        name="paid_date empty exactly when status is failed",
                        title="paid_date",
                    )
                ],
            ),
            event_time="due_date",
        ),
        "service_incidents": TableContract(
            "service_incidents",
            _events(
                {
                    "customer_id": _customer_id(),
                    "timestamp": pa.Column(time),
                    "kind": _one_of(INCIDENT_KINDS),
                    "severity": _optional(int, pa.Check.isin(list(SEVERITIES))),
                }
            ),
            event_time="timestamp",
        ),
        "surveys": TableContract(
            "surveys",
            _events(
                {
                    "customer_id": _customer_id(),
                    "timestamp": pa.Column(time),
                    "score": _optional(int, pa.Check.in_range(*SURVEY_SCORE_RANGE)),
                }
            ),
            event_time="timestamp",
        ),
        "competitor_offers": TableContract(
            "competitor_offers",
            _events(
                {
                    "region": pa.Column(str),
                    "start_date": pa.Column(time),
                    "end_date": pa.Column(time),
                    "discount": pa.Column(
                        float, [FINITE, pa.Check.in_range(0, 1, include_min=False)]
                    ),
                },
                [_not_before("end_date", "start_date")],
            ),
            event_time=None,
            scheduled=("end_date",),
        ),
        "churn_reasons": TableContract(
            "churn_reasons",
            _events(
                {
                    "customer_id": _customer_id(),
                    "stated_at": pa.Column(time),
                    "reason": pa.Column(str, pa.Check.str_length(min_value=1)),
                }
            ),
            event_time="stated_at",
        ),
    }
