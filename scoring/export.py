"""What a scoring run exports: the retention lists and the excluded customers, as tables.

- one retention list per tier and owner team (``<tier>__<team>``), in the order to act
  (``list_rank``), with readable reasons;
- every scored customer not on a list, with the reason;
- the win-back list: lapsed customers (most likely gone already) of the win-back tiers,
  most valuable first;
- for people, the same tables rounded and safe to open in a spreadsheet (``for_people``);
  systems get full precision and the values as they are;
- beside them, what every column means (``column_dictionary``).

The stage writes them (pipeline/score.py, file names in pipeline/artifacts.py).
"""

from __future__ import annotations

import pandas as pd

CSV_ROUNDING = {
    "churn_probability": 4,
    "customer_value": 2,
    "historical_margin": 2,
    "future_value": 2,
    "action_cost": 2,
    "save_rate": 3,
    "expected_net_value": 2,
    "p_alive": 4,
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
        "reasons_zh",
        "evidence",
        "evidence_zh",
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


WIN_BACK_COLUMNS = [
    "customer_id",
    "as_of",
    "tier",
    "customer_value",
    "p_alive",
    "churn_probability",
    "lifecycle_stage",
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


# What each exported column means, for the dictionary written beside the lists; the
# ranked cause columns (risk_cause_<k>, risk_share_<k>) are described by ``_meaning``.
COLUMN_MEANINGS = {
    "customer_id": "the customer, as in the input data",
    "as_of": "the date the customers were scored as of (data up to the day before)",
    "list_rank": "the order to act on this list: 1 first (highest expected net value, "
    "ties by customer_id)",
    "churn_probability": "calibrated probability that the customer churns within the "
    "label horizon after as_of",
    "tier": "value tier: vip, major, ordinary, small or not_worth_retaining",
    "customer_value": "what the customer is worth: a weighted sum of past margin and "
    "expected future value (scoring.value), in the currency of the playbook's costs",
    "reasons": "the strongest risk causes with their shares, in English",
    "reasons_zh": "the same in Chinese (causes.<cause>.label_zh)",
    "evidence": "facts from the customer's own data behind each named risk cause, to say "
    "on the phone (explain.evidence)",
    "evidence_zh": "the same in Chinese",
    "lifecycle_stage": "lifecycle stage as of as_of (domain.md, section 3)",
    "action": "what to offer or do, by tier and strongest risk cause (the playbook)",
    "channel": "how to reach the customer",
    "team": "the team that acts on this list",
    "action_cost": "the action's cost per customer",
    "save_rate": "the share of such customers the action is expected to keep",
    "expected_net_value": "churn_probability x save_rate x customer_value - action_cost",
    "model_name": "the registered model that scored the customer",
    "model_version": "its version",
    "p_alive": "probability the customer is still a customer (BG/NBD); low: most likely "
    "gone already",
    "exclusion": "why the customer is on no list",
    "exclusion_detail": "more on the exclusion (the rule or threshold it met)",
}
RANKED_MEANINGS = {
    "risk_cause": "the documented churn cause ranked {rank} by its push on the risk",
    "risk_share": "its share of the risk causes' total push, as SHAP values sum on the "
    "log-odds scale (not a probability)",
}


def _meaning(column: str) -> str:
    stem, _, rank = column.rpartition("_")
    if stem in RANKED_MEANINGS and rank.isdigit():
        return RANKED_MEANINGS[stem].format(rank=rank)
    return COLUMN_MEANINGS[column]


def column_dictionary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per column of the exported ``tables`` (name -> table): its meaning and the
    tables that have it, in the order the columns first appear. A column without a
    meaning is a KeyError: every exported column is described."""
    where: dict[str, list[str]] = {}
    for name, table in tables.items():
        for column in table.columns:
            where.setdefault(column, []).append(name)
    return pd.DataFrame(
        {
            "column": list(where),
            "meaning": [_meaning(column) for column in where],
            "in": [" ".join(names) for names in where.values()],
        }
    )


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


def describe(
    decided: pd.DataFrame,
    labels: dict[str, str],
    labels_zh: dict[str, str],
    top_causes: int,
    as_of: str,
    model_name: str,
    model_version: str,
) -> pd.DataFrame:
    """Add what a reader of the lists needs: readable reasons (in English and Chinese),
    the date and the model."""
    listed = decided["exclusion"].isna()
    text = reasons(decided[listed], labels, top_causes)
    text_zh = reasons(decided[listed], labels_zh, top_causes)
    return decided.assign(
        reasons=text.reindex(decided.index),
        reasons_zh=text_zh.reindex(decided.index),
        as_of=as_of,
        model_name=model_name,
        model_version=model_version,
    )


def list_name(tier: str, team: str) -> str:
    return f"{tier}__{team}"


def retention_lists(listed: pd.DataFrame, columns: list[str]) -> dict[str, pd.DataFrame]:
    """One table per tier and team (by ``list_name``), rows in act-first order."""
    lists = {}
    for (tier, team), rows in listed.groupby(["tier", "team"], observed=True, sort=True):
        ordered = rows.sort_values("list_rank", kind="stable")[columns]
        lists[list_name(str(tier), str(team))] = ordered.reset_index(drop=True)
    return lists


def win_back_list(lapsed: pd.DataFrame, tiers: list[str]) -> pd.DataFrame:
    """The lapsed customers of ``tiers``, most valuable first (ties by customer id)."""
    chosen = lapsed[lapsed["tier"].astype(str).isin(tiers)]
    ordered = chosen.sort_values(
        ["customer_value", "customer_id"], ascending=[False, True], kind="stable"
    )
    return ordered[WIN_BACK_COLUMNS].reset_index(drop=True)


def excluded_table(excluded: pd.DataFrame) -> pd.DataFrame:
    """The excluded customers by customer id, with the reason."""
    ordered = excluded.sort_values("customer_id", kind="stable")[EXCLUDED_COLUMNS]
    return ordered.reset_index(drop=True)


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """The CSV a team reads: money to cents, probabilities and shares to a few digits, and
    text that a spreadsheet would run as a formula (a customer id ``=HYPERLINK(...)``)
    escaped with a leading apostrophe, which spreadsheets show as text."""
    rounding = {k: v for k, v in CSV_ROUNDING.items() if k in frame}
    rounding |= {name: 3 for name in frame if name.startswith("risk_share_")}
    rounded = frame.round(rounding)
    text = [
        name
        for name, dtype in rounded.dtypes.items()
        if pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ]
    return rounded.assign(**{name: _formula_safe(rounded[name].astype(object)) for name in text})


# Cell starts a spreadsheet runs as a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formula_safe(column: pd.Series) -> pd.Series:
    """Each distinct risky text once, not each cell: a column holds few distinct values
    (tiers, reasons, dates) or, for ids, values cheap to check once each."""
    risky = [
        value
        for value in column.dropna().unique()
        if isinstance(value, str) and value.startswith(FORMULA_STARTS)
    ]
    return column.replace({value: "'" + value for value in risky}) if risky else column
