"""A small valid set of contract tables, and the data config that names them, for tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contract.config import CutoffsConfig, DataConfig, ValidationConfig
from pipeline.io import table_path, write_table

TABLE_STEMS = {
    "customers": "customers",
    "transactions": "transactions",
    "complaints": "complaints",
    "payments": "payments",
    "service_incidents": "service_incidents",
    "surveys": "surveys",
    "competitor_offers": "competitor_offers",
    "churn_reasons": "churn_reasons",
}


def data_config(**changes) -> DataConfig:
    settings = {
        "name": "test",
        "simulated": False,
        "dir": "unused",
        "format": "parquet",
        "tables": dict(TABLE_STEMS),
        "transactions_are_lines": False,
        "columns": {},
        "codes": {},
        "date_format": None,
        "loyalty_tiers": ["none", "silver", "gold"],
        "extra_customer_columns": {},
        "attribute_causes": {},
        "reason_causes": {},
        "margin_per_purchase": None,
        "value_attribute": None,
        "cutoffs": CutoffsConfig("2024-10-01", "2025-06-01", "MS"),
        "snapshot": None,
    } | changes
    return DataConfig(**settings)


VALIDATION = ValidationConfig(
    max_examples=2,
    reference_date="2025-06-30",
    earliest_date="1971-01-01",
    chunk_rows=1000,
    memory_limit="512MB",
)


def valid_tables() -> dict[str, pd.DataFrame]:
    """Three customers with one or two events in every table, all within the contract."""
    ts = pd.to_datetime
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": [1, 2, 3],
                "signup_date": ts(["2024-01-01", "2024-02-01", "2024-03-01"]),
                "region": ["north", "south", "north"],
                "acquisition_channel": ["organic", "referral", "partner"],
                "contract_type": ["none", "annual", "month_to_month"],
                "contract_end": ts([None, "2026-02-01", None]),
                "loyalty_tier": ["none", "gold", "silver"],
                "autopay": [False, True, True],
                "account_manager": [False, True, False],
                "credit_score": [700.0, None, 640.0],
                "churn_date": ts([None, None, "2024-09-01"]),
            }
        ),
        "transactions": pd.DataFrame(
            {
                "customer_id": [1, 1, 2, 3],
                "timestamp": ts(
                    ["2024-01-05 10:00", "2024-02-05 11:30", "2024-02-02 00:00", "2024-03-10 00:00"]
                ),
                "amount": [10.0, 25.5, 100.0, 8.0],
                "discount": [0.0, 5.0, 0.0, 1.0],
                "category": ["grocery", "home", "electronics", "grocery"],
                "is_return": [False, False, True, False],
            }
        ),
        "complaints": pd.DataFrame(
            {
                "customer_id": [2, 3],
                "opened_at": ts(["2024-02-10", "2024-04-01"]),
                "resolved_at": ts(["2024-02-12", None]),
                "category": ["delivery", "billing"],
                "severity": [2, 1],
                "resolution_satisfaction": [4.0, None],
            }
        ),
        "payments": pd.DataFrame(
            {
                "customer_id": [2, 3, 3],
                "due_date": ts(["2024-03-01", "2024-04-01", "2024-05-01"]),
                "paid_date": ts(["2024-03-01", "2024-04-15", None]),
                "amount": [30.0, 25.0, 25.0],
                "status": ["paid", "late", "failed"],
            }
        ),
        "service_incidents": pd.DataFrame(
            {
                "customer_id": [2],
                "timestamp": ts(["2024-02-09"]),
                "kind": ["late_delivery"],
                "severity": [2],
            }
        ),
        "surveys": pd.DataFrame(
            {"customer_id": [1, 3], "timestamp": ts(["2024-06-01", "2024-05-01"]), "score": [8, 3]}
        ),
        "competitor_offers": pd.DataFrame(
            {
                "region": ["north"],
                "start_date": ts(["2024-05-01"]),
                "end_date": ts(["2024-05-31"]),
                "discount": [0.2],
            }
        ),
        "churn_reasons": pd.DataFrame(
            {
                "customer_id": [3],
                "stated_at": ts(["2024-09-03"]),
                "reason": ["unresolved_complaint"],
            }
        ),
    }


def write_raw(tables: dict[str, pd.DataFrame], directory: Path, fmt: str) -> None:
    for name, frame in tables.items():
        write_table(frame, table_path(directory, name, fmt))
