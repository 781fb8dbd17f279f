"""The input data contract as code: one pandera schema per table.

docs/data-contract.md describes the same tables for people; a test keeps the two in
step. Schemas only say what a valid table looks like; ``contract.validation`` applies
them and adds the checks that need two tables at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.engines.pandas_engine import DateTime

from contract.config import DataConfig

# Naive timestamps; text is parsed as ISO 8601 value by value, so a CSV column may mix
# dates and date-times.
TIMESTAMP = DateTime(unit="ns", to_datetime_kwargs={"format": "ISO8601"})

CONTRACT_TYPES = ("none", "month_to_month", "annual")
COMPLAINT_CATEGORIES = ("billing", "service", "product", "delivery", "staff")
PAYMENT_STATUSES = ("paid", "late", "failed")
INCIDENT_KINDS = ("late_delivery", "outage", "defect", "stock_out")
SEVERITIES = (1, 2, 3)
SURVEY_SCORE_RANGE = (1, 10)
RESOLUTION_SATISFACTION_RANGE = (1, 5)
CREDIT_SCORE_RANGE = (300, 850)

MANDATORY_TABLES = ("customers", "transactions")
OPTIONAL_TABLES = ("complaints", "payments", "service_incidents", "surveys", "competitor_offers")


@dataclass(frozen=True)
class TableContract:
    """A table's schema plus the columns the cross-table checks look at.

    ``event_time`` is the column that must not precede the customer's signup date;
    None for tables without a customer (competitor offers) and for customers itself.
    ``scheduled`` columns hold planned dates (a contract's end), which may lie ahead.
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
            if column.dtype == TIMESTAMP and name not in self.scheduled
        ]


def _customer_id() -> pa.Column:
    # Integer or string keys are both accepted; the referential check catches a mismatch.
    return pa.Column(None, nullable=False)


def _time(nullable: bool = False, required: bool = True) -> pa.Column:
    return pa.Column(TIMESTAMP, nullable=nullable, required=required)


def _one_of(values: tuple | list) -> pa.Column:
    return pa.Column(str, pa.Check.isin(list(values)))


def _not_before(later: str, earlier: str) -> pa.Check:
    """Row check: ``later`` is empty, absent (optional column) or not before ``earlier``."""

    def check(frame: pd.DataFrame) -> pd.Series | bool:
        return later not in frame or ~(frame[later] < frame[earlier])

    return pa.Check(check, name=f"{later} not before {earlier}", title=later)


def _customers(data: DataConfig) -> pa.DataFrameSchema:
    extra = {
        name: pa.Column(float if kind == "numeric" else str, nullable=True)
        for name, kind in data.extra_customer_columns.items()
    }
    return pa.DataFrameSchema(
        {
            "customer_id": pa.Column(None, nullable=False, unique=True),
            "signup_date": _time(),
            "region": pa.Column(str),
            "acquisition_channel": pa.Column(str),
            "contract_type": _one_of(CONTRACT_TYPES),
            "contract_end": _time(nullable=True),
            "loyalty_tier": _one_of(data.loyalty_tiers),
            "autopay": pa.Column(bool),
            "account_manager": pa.Column(bool),
            "credit_score": pa.Column(
                float, pa.Check.in_range(*CREDIT_SCORE_RANGE), nullable=True, required=False
            ),
            "churn_date": _time(nullable=True, required=False),
            **extra,
        },
        checks=[
            _not_before("churn_date", "signup_date"),
            _not_before("contract_end", "signup_date"),
        ],
    )


def _events(
    columns: dict[str, pa.Column], checks: list[pa.Check] | None = None
) -> pa.DataFrameSchema:
    """Schema of an event table: exact duplicate rows are always an error."""
    return pa.DataFrameSchema(
        columns,
        checks=checks or [],
        unique=list(columns),
        report_duplicates="exclude_first",
    )


def table_contracts(data: DataConfig) -> dict[str, TableContract]:
    """The contract of every table, for the loyalty tiers and extra columns in ``data``."""
    return {
        "customers": TableContract(
            "customers", _customers(data), event_time=None, scheduled=("contract_end",)
        ),
        "transactions": TableContract(
            "transactions",
            _events(
                {
                    "customer_id": _customer_id(),
                    "timestamp": _time(),
                    "amount": pa.Column(float, pa.Check.ge(0)),
                    "discount": pa.Column(float, pa.Check.ge(0)),
                    "category": pa.Column(str),
                    "is_return": pa.Column(bool),
                },
                [
                    pa.Check(
                        lambda t: t["discount"] <= t["amount"],
                        name="discount not above amount",
                        title="discount",
                    )
                ],
            ),
            event_time="timestamp",
        ),
        "complaints": TableContract(
            "complaints",
            _events(
                {
                    "customer_id": _customer_id(),
                    "opened_at": _time(),
                    "resolved_at": _time(nullable=True),
                    "category": _one_of(COMPLAINT_CATEGORIES),
                    "severity": pa.Column(int, pa.Check.isin(list(SEVERITIES))),
                    "resolution_satisfaction": pa.Column(
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
                    "due_date": _time(),
                    "paid_date": _time(nullable=True),
                    "amount": pa.Column(float, pa.Check.ge(0)),
                    "status": _one_of(PAYMENT_STATUSES),
                },
                [
                    pa.Check(
                        lambda p: (p["status"] == "failed") == p["paid_date"].isna(),
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
                    "timestamp": _time(),
                    "kind": _one_of(INCIDENT_KINDS),
                    "severity": pa.Column(int, pa.Check.isin(list(SEVERITIES))),
                }
            ),
            event_time="timestamp",
        ),
        "surveys": TableContract(
            "surveys",
            _events(
                {
                    "customer_id": _customer_id(),
                    "timestamp": _time(),
                    "score": pa.Column(int, pa.Check.in_range(*SURVEY_SCORE_RANGE)),
                }
            ),
            event_time="timestamp",
        ),
        "competitor_offers": TableContract(
            "competitor_offers",
            _events(
                {
                    "region": pa.Column(str),
                    "start_date": _time(),
                    "end_date": _time(),
                    "discount": pa.Column(float, pa.Check.in_range(0, 1, include_min=False)),
                },
                [_not_before("end_date", "start_date")],
            ),
            event_time=None,
            scheduled=("end_date",),
        ),
    }
