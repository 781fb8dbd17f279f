"""Stated churn reasons (the ``churn_reasons`` table) in the documented causes'
vocabulary: a reason code is a cause's name or a code ``data.reason_causes`` maps to one."""

from __future__ import annotations

import pandas as pd

from contract.errors import ConfigError

EXAMPLES = 5  # codes named in an error


def reason_causes(reasons: pd.DataFrame, codes: dict[str, str], causes: list[str]) -> pd.Series:
    """The documented cause of each row of ``reasons``: its ``reason`` if that is a cause's
    name, else the cause ``codes`` (``data.reason_causes``) maps it to; a ConfigError naming
    the codes that are neither, with their counts."""
    wrong_targets = sorted({cause for cause in codes.values() if cause not in causes})
    if wrong_targets:
        raise ConfigError(
            f"data.reason_causes maps reason codes to {wrong_targets}, which are not "
            f"documented causes (the keys of `causes`: {causes})"
        )
    mapped = reasons["reason"].map(lambda code: code if code in causes else codes.get(code))
    unknown = reasons.loc[mapped.isna(), "reason"].value_counts()
    if not unknown.empty:
        shown = ", ".join(f"{code!r} ({count} rows)" for code, count in unknown[:EXAMPLES].items())
        raise ConfigError(
            "table 'churn_reasons', column 'reason': codes that are neither a documented "
            f"cause nor mapped to one ({len(unknown)}): {shown}. Map each to a key of "
            "`causes` in data.reason_causes."
        )
    return mapped
