"""The files a scoring run exports into its dated folder.

- ``lists/<tier>__<team>.csv`` and ``.parquet``: one retention list per tier and owner
  team, in the order to act (``list_rank``); CSV for people (rounded, with readable
  reasons), Parquet for systems (full precision).
- ``excluded.csv`` and ``.parquet``: every scored customer not on a list, with the reason.
- ``drift.csv``: PSI per feature against the model's training rows.
- ``manifest.json``: what the run did (written by the stage).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LISTS_DIR = "lists"
EXCLUDED = "excluded"
DRIFT_FILE = "drift.csv"
MANIFEST_FILE = "manifest.json"
CSV_ROUNDING = {
    "churn_probability": 4,
    "customer_value": 2,
    "historical_margin": 2,
    "future_value": 2,
    "action_cost": 2,
    "save_rate": 3,
    "expected_net_value": 2,
}


def list_columns(top_causes: int) -> list[str]:
    causes = [
        column
        for rank in range(1, top_causes + 1)
        for column in (f"risk_cause_{rank}", f"risk_share_{rank}")
    ]
    return [
        "customer_id",
        "as_of",
        "list_rank",
        "churn_probability",
        "tier",
        "customer_value",
        *causes,
        "reasons",
        "lifecycle_stage",
        "action",
        "channel",
        "team",
        "action_cost",
        "save_rate",
        "expected_net_value",
        "model_name",
        "model_version",
    ]


EXCLUDED_COLUMNS = [
    "customer_id",
    "as_of",
    "churn_probability",
    "tier",
    "customer_value",
    "exclusion",
    "exclusion_detail",
    "risk_cause_1",
    "model_name",
    "model_version",
]


def reasons(customers: pd.DataFrame, labels: dict[str, str], top_causes: int) -> pd.Series:
    """The top risk causes as one readable text: "Poor service 52%; Payment lapse 30%"."""
    text = pd.Series("", index=customers.index, dtype="string")
    for rank in range(1, top_causes + 1):
        percent = (customers[f"risk_share_{rank}"] * 100).round().astype("Int64")
        part = customers[f"risk_cause_{rank}"].map(labels).astype("string") + " "
        part = part + percent.astype("string") + "%"
        separator = text.mask(text != "", "; ")
        text = text + (separator + part).fillna("")
    return text


def list_name(tier: str, team: str) -> str:
    return f"{tier}__{team}"


def write_lists(directory: Path, listed: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    """One CSV and one Parquet file per tier and team; returns rows per list."""
    lists_dir = directory / LISTS_DIR
    lists_dir.mkdir()
    counts = {}
    for (tier, team), rows in listed.groupby(["tier", "team"], observed=True, sort=True):
        name = list_name(str(tier), str(team))
        ordered = rows.sort_values("list_rank", kind="stable")[columns]
        _write_both(ordered, lists_dir / name)
        counts[name] = len(ordered)
    return counts


def write_excluded(directory: Path, excluded: pd.DataFrame) -> None:
    ordered = excluded.sort_values("customer_id", kind="stable")[EXCLUDED_COLUMNS]
    _write_both(ordered, directory / EXCLUDED)


def _write_both(frame: pd.DataFrame, stem: Path) -> None:
    frame = frame.reset_index(drop=True)
    frame.to_parquet(stem.with_suffix(".parquet"), index=False)
    rounding = {k: v for k, v in CSV_ROUNDING.items() if k in frame}
    rounding |= {name: 3 for name in frame if name.startswith("risk_share_")}
    frame.round(rounding).to_csv(stem.with_suffix(".csv"), index=False)
