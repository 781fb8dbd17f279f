"""The evidence behind each named risk cause: facts from the customer's own features that a
retention team can repeat ("2 open complaints", "3 late deliveries in 90 days").

Per cause, ``explain.evidence`` lists rules in order: a rule states its text when the
customer has its feature and its value lies within the rule's bounds. A feature the
model lacks (the data had no such table) gives no evidence; nothing is invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from models.config import EvidenceRule

SEPARATOR = "; "


def cause_evidence(features: pd.DataFrame, rules: list[EvidenceRule], language: str) -> pd.Series:
    """Per row of ``features``, the texts (``language``: ``text`` or ``text_zh``) of the
    ``rules`` that hold, joined by commas; empty where none does."""
    evidence = pd.Series("", index=features.index, dtype="string")
    for rule in rules:
        if rule.feature not in features:
            continue
        column = features[rule.feature]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            raise ConfigError(
                f"explain.evidence: feature {rule.feature!r} is {column.dtype}, not a number; "
                "a rule compares numbers"
            )
        values = column.astype(float)
        holds = values.notna()
        if rule.min is not None:
            holds &= values >= rule.min
        if rule.max is not None:
            holds &= values <= rule.max
        template = getattr(rule, language)
        # Each distinct value formatted once: most are small counts shared by many rows.
        texts = {value: template.format(value=value) for value in values[holds].unique()}
        stated = values[holds].map(texts).astype("string")
        joiner = evidence[holds].mask(evidence[holds] != "", ", ").fillna("")
        evidence.loc[holds] = evidence[holds] + joiner + stated
    return evidence


def evidence(
    features: pd.DataFrame,
    causes: pd.DataFrame,
    rules: dict[str, list[EvidenceRule]],
    labels: dict[str, str],
    language: str,
    context_causes: list[str],
) -> pd.Series:
    """Per row, the evidence of each risk cause it names (``causes``: ``risk_cause_1``,
    ... aligned with ``features``) in rank order, then of each of ``context_causes`` it
    does not name (the customer's situation), each behind the cause's label:
    "Unresolved complaint: 2 open complaints, the oldest open 41 days; Poor service: ...".
    A cause without evidence that holds is left out; empty if none has."""
    unknown = sorted(set(rules) - set(labels))
    if unknown:
        raise ConfigError(f"explain.evidence: {unknown} are not documented causes (`causes`)")
    features = features.reset_index(drop=True)
    named = causes.filter(regex=r"^risk_cause_\d+$").reset_index(drop=True)
    for k, cause in enumerate(context_causes):
        unnamed = ~named.filter(regex=r"^risk_cause_").eq(cause).any(axis=1)
        named[f"context_{k}"] = pd.Series(cause, index=named.index, dtype=object).where(unnamed)
    found = pd.DataFrame(index=features.index)
    for cause, cause_rules in rules.items():
        names_it = named.eq(cause).any(axis=1)
        found[cause] = cause_evidence(features[names_it], cause_rules, language).reindex(
            features.index, fill_value=""
        )
    table = found.to_numpy(dtype=object)
    column_of = {cause: j for j, cause in enumerate(found.columns)}
    text = pd.Series("", index=features.index, dtype="string")
    for rank in named:
        cause = named[rank]
        column = cause.map(column_of)
        has_rules = column.notna().to_numpy()
        said = np.full(len(cause), "", dtype=object)
        said[has_rules] = table[np.flatnonzero(has_rules), column[has_rules].astype(int)]
        said = pd.Series(said, index=features.index, dtype="string")
        part = (cause.map(labels).astype("string") + ": " + said).where(said.fillna("") != "")
        joiner = text.mask(text != "", SEPARATOR)
        text = text + (joiner + part).fillna("")
    return text.set_axis(causes.index)
