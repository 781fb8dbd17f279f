"""Fidelity of the explanations: does the top attributed cause name the true cause?

On simulated data each active customer's weekly churn hazard is a sum of one component
per documented cause (simulator/dynamics.py). The *true dominant cause* of a
row is the largest component at the cutoff; for a customer who already left before the
cutoff (a non-contractual customer still counted active by their purchases) it is the
cause they left for. The explanation's *top attributed cause* is its strongest risk
cause.

Agreement is measured in groups of rows, overall and per churn definition, next to the
best constant answer (naming the group's most frequent true cause for everyone): the
model's top-risk rows (whom the retention lists reach), the rows of highest *true* hazard
(customers who already left count as highest) and the customers who truly churn within the
label horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.causes import CAUSES
from simulator.truth import GroundTruth, hazard_records, true_churn


def true_causes(truth: GroundTruth, rows: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Per row of ``rows`` (customer_id, cutoff, churn_definition): ``true_cause``,
    ``true_hazard`` (weekly, all causes; infinite for a customer who already left) and
    ``truly_churned`` (the customer truly churns within ``horizon_days``)."""
    customers = truth.customers[["customer_id", "churn_time", "churn_cause"]]
    recorded = hazard_records(truth.hazards, rows, ["dominant_cause", "hazard_total"])
    state = pd.concat(
        [rows[["customer_id", "cutoff", "churn_definition"]].reset_index(drop=True), recorded],
        axis=1,
    ).merge(customers[["customer_id", "churn_cause"]], on="customer_id", how="left")
    return pd.DataFrame(
        {
            "true_cause": state["dominant_cause"].fillna(state["churn_cause"]).astype(object),
            "true_hazard": state["hazard_total"].astype(float).fillna(np.inf).to_numpy(),
            "truly_churned": true_churn(state, customers, horizon_days).to_numpy(dtype=bool),
        }
    )


def agreement(true_cause: pd.Series, named: pd.DataFrame) -> dict[str, float | int | str]:
    """How often the first cause of ``named`` (rows x causes in rank order, strongest
    first, as many as the explanations give) is ``true_cause``, and how often any of them
    is, next to the best constant answers: the group's most frequent true cause for
    everyone, and its as many most frequent causes."""
    if true_cause.empty:
        return {"rows": 0}
    counts = true_cause.value_counts()
    true, ranked, k = true_cause.to_numpy(), named.to_numpy(), named.shape[1]
    first = ranked[:, 0] == true
    return {
        "rows": len(true),
        "agreement": float(first.mean()),
        f"within_top_{k}": float((ranked == true[:, None]).any(axis=1).mean()),
        "most_frequent_cause": str(counts.index[0]),
        "most_frequent_guess": float(counts.iloc[0] / len(true)),
        f"most_frequent_{k}_guess": float(counts.iloc[:k].sum() / len(true)),
        # Per true cause, the share of its rows whose first named cause is it.
        "recall": {
            str(cause): float(first[true == cause].mean()) for cause in sorted(counts.index)
        },
    }


def fidelity_report(
    truth: pd.DataFrame,
    named: pd.DataFrame,
    segments: list[pd.Series],
    groups: dict[str, np.ndarray],
) -> dict[str, dict[str, dict]]:
    """Agreement of the causes ``named`` per row (``agreement``) in each group (a boolean
    mask over the rows), overall and per segment (each value of each of ``segments``, a
    label per row such as the churn definition), with the share of the rows that truly
    churn within the label horizon."""
    report = {}
    for group, mask in groups.items():
        mask = np.asarray(mask)
        subsets = {"all": mask}
        for segment in segments:
            for name in sorted(segment.dropna().unique()):
                subsets[name] = mask & (segment == name).to_numpy()
        report[group] = {
            name: {
                **agreement(truth["true_cause"][subset], named[subset]),
                "truly_churned": float(truth["truly_churned"][subset].mean())
                if subset.any()
                else None,
            }
            for name, subset in subsets.items()
        }
    return report


def confusion(true_cause: pd.Series, attributed: pd.Series) -> pd.DataFrame:
    """Counts of rows by true cause (rows) and top attributed cause (columns)."""
    table = pd.crosstab(
        pd.Categorical(true_cause, categories=CAUSES),
        pd.Categorical(attributed, categories=CAUSES),
        dropna=False,
    )
    table.index.name, table.columns.name = "true_cause", "attributed_cause"
    return table
