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
