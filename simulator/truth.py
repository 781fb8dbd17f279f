"""The simulator's ground truth as the oracle and the fidelity check read it, and the
churn label it implies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The columns of the ground-truth tables (simulator/tables.py) that the checks read.
HAZARD_COLUMNS = ["customer_id", "cutoff", "stage", "hazard_total", "dominant_cause"]
CUSTOMER_COLUMNS = ["customer_id", "purchase_rate", "churn_time", "churn_cause"]


@dataclass(frozen=True)
class GroundTruth:
    """Per customer and cutoff, the true weekly hazard, stage and dominant cause
    (``hazards``); per customer, the true purchase rate, churn time and cause
    (``customers``)."""

    hazards: pd.DataFrame
    customers: pd.DataFrame


def hazard_records(
    hazards: pd.DataFrame, rows: pd.DataFrame, columns: list[str], latest: bool = False
) -> pd.DataFrame:
    """Per row of ``rows`` (customer_id, cutoff), in their order and indexed 0..n-1,
    ``columns`` of the customer's hazard record at the row's cutoff, missing without one;
    with ``latest``, of their latest record at or before it (a customer who left has none
    after).

    A binary search over the records in (customer_id, cutoff) order, the order the
    simulator writes them: joining the rows with millions of records, by pandas' merge
    or merge_asof, cost the train stage 35 s at a million customers."""
    records = _in_customer_order(hazards)
    ids = records["customer_id"].to_numpy()
    found = np.zeros(len(rows), dtype=bool)
    position = np.zeros(len(rows), dtype=np.int64)
    if len(ids):
        days = _days(records["cutoff"])
        cutoffs = np.union1d(pd.unique(days), pd.unique(_days(rows["cutoff"])))
        # Each record's key orders it by customer, then cutoff: the customer's rank
        # among the records' customers times the number of cutoffs, plus the cutoff's.
        rank = np.concatenate([[0], np.cumsum(ids[1:] != ids[:-1])])
        keys = rank * len(cutoffs) + np.searchsorted(cutoffs, days)
        row_ids = rows["customer_id"].to_numpy()
        first = np.minimum(np.searchsorted(ids, row_ids), len(ids) - 1)
        row_keys = rank[first] * len(cutoffs) + np.searchsorted(cutoffs, _days(rows["cutoff"]))
        position = np.searchsorted(keys, row_keys, side="right") - 1
        found = (ids[first] == row_ids) & (position >= first)
        if not latest:
            found &= keys[np.maximum(position, 0)] == row_keys
    state = records[columns].iloc[position[found]].set_axis(np.flatnonzero(found))
    return state.reindex(pd.RangeIndex(len(rows)))


def _in_customer_order(hazards: pd.DataFrame) -> pd.DataFrame:
    """``hazards`` in (customer_id, cutoff) order: as they are when already so."""
    ids, days = hazards["customer_id"].to_numpy(), _days(hazards["cutoff"])
    same = ids[1:] == ids[:-1]
    if np.all(ids[1:] >= ids[:-1]) and np.all(~same | (days[1:] > days[:-1])):
        return hazards
    return hazards.sort_values(["customer_id", "cutoff"], kind="stable")


def _days(cutoffs: pd.Series) -> np.ndarray:
    """Cutoffs as datetime64[ns], whatever unit the table stored them in."""
    return cutoffs.to_numpy(dtype="datetime64[ns]")


def true_churn(rows: pd.DataFrame, truth: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Whether each (customer_id, cutoff, churn_definition) row truly churned.

    Contractual: the true churn day falls in [cutoff, cutoff + horizon), as churn_date
    does (the cutoff is the instant that starts its day). Non-contractual: the customer is
    gone by the end of the horizon; that includes those who left silently before the
    cutoff but were still active by their purchases.
    """
    churn_time = (
        rows[["customer_id"]]
        .merge(truth[["customer_id", "churn_time"]], on="customer_id", how="left")["churn_time"]
        .to_numpy()
    )
    churn_time = pd.Series(churn_time, index=rows.index)
    horizon_end = rows["cutoff"] + pd.Timedelta(days=horizon_days)
    churn_day = churn_time.dt.normalize()
    contractual = (churn_day >= rows["cutoff"]) & (churn_day < horizon_end)
    gone = churn_time < horizon_end
    return contractual.where(rows["churn_definition"] == "contractual", gone)


def label_agreement(rows: pd.DataFrame, truth: pd.DataFrame, horizon_days: int) -> dict:
    """Per churn definition, how the labels of ``rows`` (customer_id, cutoff,
    churn_definition, label ``churned``; labelled rows only) agree with true churn:
    accuracy, recall of true churners, precision, and the row count."""
    truly = true_churn(rows, truth, horizon_days).astype(bool).to_numpy()
    labelled = rows["churned"].astype(bool).to_numpy()
    report = {}
    for definition in sorted(rows["churn_definition"].astype(str).unique()):
        part = (rows["churn_definition"] == definition).to_numpy()
        label, true = labelled[part], truly[part]
        report[definition] = {
            "accuracy": float((label == true).mean()),
            "recall": float(label[true].mean()) if true.any() else float("nan"),
            "precision": float(true[label].mean()) if label.any() else float("nan"),
            "rows": int(part.sum()),
        }
    return report


def true_churn_ranking(
    rows: pd.DataFrame, scores: dict[str, np.ndarray], truth: pd.DataFrame, horizon_days: int
) -> dict:
    """Per churn definition, each score's ROC-AUC against true churn (not the label) on
    ``rows`` (customer_id, cutoff, churn_definition), with the true churn rate."""
    # Imported here: every stage reads the truth's column names from this module, and
    # scikit-learn takes 2.8 s to import where a stage (featurize) needs none of it.
    from sklearn.metrics import roc_auc_score

    truly = true_churn(rows, truth, horizon_days).astype(bool).to_numpy()
    report = {}
    for definition in sorted(rows["churn_definition"].astype(str).unique()):
        part = (rows["churn_definition"] == definition).to_numpy()
        if len(set(truly[part])) < 2:
            continue
        report[definition] = {
            **{
                f"{name}_roc_auc": float(roc_auc_score(truly[part], score[part]))
                for name, score in scores.items()
            },
            "true_churn_rate": float(truly[part].mean()),
            "rows": int(part.sum()),
        }
    return report
