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

from dataclasses import dataclass

import pandas as pd

from contract.config import CauseConfig
from scoring.config import ScoringConfig

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
        for column in (f"risk_cause_{rank}", f"risk_points_{rank}")
    ]
    return [
        "customer_id",
        "as_of",
        "list_rank",
        "churn_probability",
        "tier",
        "tier_zh",
        "customer_value",
        *causes,
        "reasons",
        "reasons_zh",
        "evidence",
        "evidence_zh",
        "lifecycle_stage",
        "action",
        "action_zh",
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
    "tier_zh",
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
    "tier_zh",
    "customer_value",
    "exclusion",
    "exclusion_detail",
    "risk_cause_1",
    "model_name",
    "model_version",
]


# What each exported column means, for the dictionary written beside the lists; the
# ranked cause columns (risk_cause_<k>, risk_points_<k>) are described by ``_meaning``.
COLUMN_MEANINGS = {
    "customer_id": "the customer, as in the input data",
    "as_of": "the date the customers were scored as of (data up to the day before)",
    "list_rank": "the order to act on this list: 1 first (highest expected net value, "
    "ties by customer_id)",
    "churn_probability": "calibrated probability that the customer churns within the "
    "label horizon after as_of",
    "tier": "value tier: vip, major, ordinary, small or not_worth_retaining",
    "tier_zh": "the tier in Chinese (scoring.tier_labels_zh)",
    "customer_value": "what the customer is worth: a weighted sum of past margin and "
    "expected future value (scoring.value), in the currency of the playbook's costs",
    "reasons": "the named risk causes with their percentage points, in English",
    "reasons_zh": "the same in Chinese (causes.<cause>.label_zh)",
    "evidence": "facts from the customer's own data behind each named risk cause, then "
    "behind their situation (explain.context_causes), to say on the phone (explain.evidence)",
    "evidence_zh": "the same in Chinese",
    "lifecycle_stage": "lifecycle stage as of as_of (domain.md, section 3)",
    "action": "what to offer or do, by tier and strongest risk cause (the playbook)",
    "action_zh": "the same in Chinese (scoring.playbook.content_zh)",
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
    "risk_cause": "the documented churn cause ranked {rank} by its points (1: the most)",
    "risk_points": "percentage points of churn probability the cause accounts for. Where "
    "the data have stated churn reasons: P(churn) x P(this cause | churn) by the cause "
    "model, so a customer's points over all causes sum to their churn probability. "
    "Otherwise: how far the churn probability would fall without the cause's push on the "
    "model's score (its SHAP values)",
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


UNITS = {"en": "pp", "zh": "个百分点"}


def reasons(
    customers: pd.DataFrame, labels: dict[str, str], top_causes: int, unit: str
) -> pd.Series:
    """The named risk causes as one readable text: "Poor service 12.3 pp; Payment lapse
    4.1 pp" (``unit``: what follows the points)."""
    text = pd.Series("", index=customers.index, dtype="string")
    for rank in range(1, top_causes + 1):
        points = customers[f"risk_points_{rank}"].astype(float).map("{:.1f}".format)
        part = customers[f"risk_cause_{rank}"].map(labels).astype("string") + " "
        part = part + points.astype("string") + " " + unit
        separator = text.mask(text != "", "; ")
        text = text + (separator + part).fillna("")
    return text


@dataclass(frozen=True)
class Labels:
    """What a reader sees for the config's keys: each cause's label in English and
    Chinese, each tier in Chinese, and each playbook content (the English action) in
    Chinese."""

    causes: dict[str, str]
    causes_zh: dict[str, str]
    tiers_zh: dict[str, str]
    actions_zh: dict[str, str]

    @classmethod
    def of(cls, causes: dict[str, CauseConfig], scoring: ScoringConfig) -> Labels:
        content, content_zh = scoring.playbook.content, scoring.playbook.content_zh
        return cls(
            {name: cause.label for name, cause in causes.items()},
            {name: cause.label_zh for name, cause in causes.items()},
            dict(scoring.tier_labels_zh),
            {content[key]: content_zh[key] for key in content},
        )


def describe(
    decided: pd.DataFrame,
    labels: Labels,
    top_causes: int,
    as_of: str,
    model_name: str,
    model_version: str,
) -> pd.DataFrame:
    """Add what a reader of the lists needs: readable reasons (in English and Chinese),
    the tier and action in Chinese, the date and the model."""
    listed = decided["exclusion"].isna()
    text = reasons(decided[listed], labels.causes, top_causes, UNITS["en"])
    text_zh = reasons(decided[listed], labels.causes_zh, top_causes, UNITS["zh"])
    return decided.assign(
        tier_zh=decided["tier"].astype(object).map(labels.tiers_zh),
        reasons=text.reindex(decided.index),
        reasons_zh=text_zh.reindex(decided.index),
        action_zh=decided["action"].map(labels.actions_zh),
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
    """The CSV a team reads: money to cents, probabilities and points to a few digits, and
    text that a spreadsheet would run as a formula (a customer id ``=HYPERLINK(...)``)
    escaped with a leading apostrophe, which spreadsheets show as text."""
    rounding = {k: v for k, v in CSV_ROUNDING.items() if k in frame}
    rounding |= {name: 2 for name in frame if name.startswith("risk_points_")}
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
