"""Which non-contractual churn label to train on, measured against the simulator's truth.

True churn of a customer without a contract: gone by the end of the horizon
(simulator/truth.py). Candidates, each on the non-contractual rows of the feature table
`dvc repro` wrote (contractual labels are left as they are):

- "no purchase in the horizon": the label before issue 15;
- confirmed, F days: no purchase in [cutoff + horizon, cutoff + horizon + F), the
  pipeline's label (features.label.confirmation_days), for several F;
- silent for the customer's own rhythm: no purchase in [cutoff + horizon, cutoff +
  horizon + S), S three of the customer's mean inter-purchase gaps before the cutoff
  (a Poisson buyer still there buys within it 95% of the time), between 30 and 270 days;
- BTYD-confirmed: confirmed over 180 days and MBG/NBD's P(alive) at the end of those
  days, fitted on the purchases before it, below 0.5 (a light buyer's long silence is
  not enough).

For each: how the label agrees with true churn over every labelled cutoff (accuracy,
recall of true churners, precision), then the configured model trained on it (the train
stage's out-of-time split with the candidate's look-ahead, one common test cutoff) and
its ROC-AUC against *true* churn on the test rows, beside the two oracles of true churn
(simulator/oracle.py: the one that knows who has already left, and the observable one
that sees only the silence), and its difference from the model trained on the first
candidate with a 95% paired bootstrap interval over the test rows.

    python benchmarks/labels_vs_truth.py

Each look-ahead has its own split, so the feature table must hold every cutoff: run
`dvc exp run -S features.cutoffs=all` first (by default featurize computes only the
cutoffs of the configured label's split).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from default_data import ground_truth
from sklearn.metrics import roc_auc_score

from features import events as ev
from features.columns import DEFINITION, LABEL
from features.feature_table import cutoff_dates, observed_until
from features.history import CustomerHistory
from features.labels import churn_label
from models.btyd import fit_btyd, forecast, purchase_summary
from models.fit import train_model
from models.split import plan_split, split_rows
from pipeline.config import Config, load_config
from pipeline.engine import validated_history
from pipeline.io import read_feature_table
from simulator.oracle import observable_churn_probability, true_churn_probability
from simulator.truth import label_agreement, true_churn

RESULTS = Path(__file__).parent / "results" / "labels_vs_truth.md"
CONFIRMATION_DAYS = (90, 180, 270)
RHYTHM_GAPS, RHYTHM_DAYS = 3, (30, 270)
BTYD_CONFIRMATION_DAYS, BTYD_P_ALIVE_BELOW = 180, 0.5
BOOTSTRAP_SAMPLES = 500


def paired_difference(
    truly: np.ndarray, score: np.ndarray, reference: np.ndarray, seed: int
) -> tuple[float, float, float]:
    """ROC-AUC of ``score`` minus that of ``reference`` on the same rows, with the 2.5th
    and 97.5th percentiles of the difference over bootstrap resamples of the rows."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(BOOTSTRAP_SAMPLES):
        sample = rng.integers(0, len(truly), len(truly))
        if truly[sample].all() or not truly[sample].any():
            continue
        differences.append(
            roc_auc_score(truly[sample], score[sample])
            - roc_auc_score(truly[sample], reference[sample])
        )
    low, high = np.percentile(differences, [2.5, 97.5])
    return roc_auc_score(truly, score) - roc_auc_score(truly, reference), low, high


@dataclass(frozen=True)
class Purchases:
    """Every purchase with its customer's code: the customer's position in ``ids``."""

    ids: pd.Series
    transactions: pd.DataFrame

    @classmethod
    def of(cls, history: CustomerHistory) -> Purchases:
        ids = history.customers.select("customer_id").order_by("customer_id").to_pandas()
        ids = ids["customer_id"]
        tx = history.events["transactions"].select("customer_id", "timestamp").to_pandas()
        return cls(ids, tx.assign(customer=pd.Index(ids).get_indexer(tx["customer_id"])))


def no_purchase_in_horizon(purchases: Purchases, horizon_days: int, cutoff: pd.Timestamp):
    """The label before issue 15, per customer code: no purchase in [cutoff, cutoff + H)."""
    tx = purchases.transactions
    end = cutoff + pd.Timedelta(days=horizon_days)
    inside = ((tx["timestamp"] >= cutoff) & (tx["timestamp"] < end)).to_numpy()
    bought = np.bincount(tx["customer"].to_numpy()[inside], minlength=len(purchases.ids))
    return (bought == 0).astype(float)


def silent_for_own_rhythm(
    purchases: Purchases, horizon_days: int, cutoff: pd.Timestamp
) -> np.ndarray:
    """No purchase in [cutoff + H, cutoff + H + S), S = RHYTHM_GAPS mean gaps between the
    customer's purchases before the cutoff, clipped to RHYTHM_DAYS (the longest without
    two purchases)."""
    day, n = pd.Timedelta(days=1), len(purchases.ids)
    horizon = horizon_days * day
    tx = purchases.transactions
    before = tx.loc[tx["timestamp"] < cutoff].groupby("customer")["timestamp"]
    span_days = (before.max() - before.min()) / day
    gaps = (span_days / (before.count() - 1)).where(before.count() > 1)
    low, high = RHYTHM_DAYS
    silence = (RHYTHM_GAPS * gaps).clip(low, high).reindex(range(n))
    silence = silence.fillna(high).to_numpy()
    later = tx.loc[tx["timestamp"] >= cutoff + horizon].groupby("customer")["timestamp"].min()
    next_days = ((later - cutoff - horizon) / day).reindex(range(n))
    return ~(next_days.to_numpy() < silence)


def btyd_confirmed(
    purchases: Purchases, horizon_days: int, cutoff: pd.Timestamp, confirmed: np.ndarray
) -> np.ndarray:
    """``confirmed`` (the 180-day confirmation) and MBG/NBD's P(alive) at its end, fitted
    on the purchases before then, below BTYD_P_ALIVE_BELOW."""
    end = cutoff + pd.Timedelta(days=horizon_days + BTYD_CONFIRMATION_DAYS)
    summary = purchase_summary(purchases.transactions[["customer_id", "timestamp"]], end)
    fitted = fit_btyd(summary, "mbgnbd")
    alive = forecast(fitted, summary, purchases.ids, 1)["p_alive"]
    return (confirmed == 1) & (alive.to_numpy() < BTYD_P_ALIVE_BELOW)


def pipeline_label(history: CustomerHistory, cutoff: pd.Timestamp, data_end: pd.Timestamp):
    """The pipeline's label of every customer at ``cutoff`` (customer_id order)."""
    labels = churn_label(history, history.at(ev.cutoff_table([cutoff])), data_end)
    return labels.order_by("customer_id").to_pandas()["churned"].to_numpy(dtype=float)


def candidate_labels(
    cfg: Config, history: CustomerHistory, rows: pd.DataFrame
) -> dict[str, tuple[np.ndarray, int]]:
    """Each candidate's labels for ``rows`` (NaN where censored) and its look-ahead."""
    purchases = Purchases.of(history)
    code = pd.Index(purchases.ids).get_indexer(rows["customer_id"])
    data_end = observed_until(history)
    non_contractual = (rows[DEFINITION] == "non_contractual").to_numpy()
    horizon = cfg.features.label.horizon_days

    def relabelled(per_cutoff, lookahead: int) -> np.ndarray:
        labels = rows[LABEL].astype(float).to_numpy().copy()
        for cutoff in rows["cutoff"].unique():
            here = (rows["cutoff"] == cutoff).to_numpy() & non_contractual
            labels[here] = per_cutoff(pd.Timestamp(cutoff))[code[here]]
        labels[(rows["cutoff"] + pd.Timedelta(days=lookahead) > data_end).to_numpy()] = np.nan
        return labels

    candidates = {
        "no purchase in the horizon": (
            relabelled(lambda c: no_purchase_in_horizon(purchases, horizon, c), horizon),
            horizon,
        )
    }
    for days in CONFIRMATION_DAYS:
        label = replace(cfg.features.label, confirmation_days=days)
        confirmed = replace(history, features=replace(history.features, label=label))
        lookahead = horizon + days
        candidates[f"confirmed, {days} days"] = (
            relabelled(lambda c, h=confirmed: pipeline_label(h, c, data_end), lookahead),
            lookahead,
        )
    rhythm_lookahead = horizon + RHYTHM_DAYS[1]
    candidates["silent for 3 of their own gaps"] = (
        relabelled(
            lambda c: silent_for_own_rhythm(purchases, horizon, c).astype(float),
            rhythm_lookahead,
        ),
        rhythm_lookahead,
    )
    label = replace(cfg.features.label, confirmation_days=BTYD_CONFIRMATION_DAYS)
    confirmed = replace(history, features=replace(history.features, label=label))

    def by_btyd(cutoff: pd.Timestamp) -> np.ndarray:
        labels = pipeline_label(confirmed, cutoff, data_end)
        if np.isnan(labels).all():
            return labels
        return btyd_confirmed(purchases, horizon, cutoff, labels).astype(float)

    candidates["BTYD-confirmed, 180 days"] = (
        relabelled(by_btyd, label.lookahead_days),
        label.lookahead_days,
    )
    return candidates


def main() -> None:
    cfg = load_config()
    rows, catalogue = read_feature_table(cfg.paths.features_dir)
    with validated_history(cfg) as history:
        missing = set(cutoff_dates(history, observed_until(history))) - set(rows["cutoff"])
        if missing:
            raise SystemExit(
                f"{cfg.paths.features_dir} lacks {len(missing)} of the configured cutoffs; "
                "each look-ahead needs its own split: run `dvc exp run -S "
                "features.cutoffs=all` first"
            )
        truth = ground_truth(cfg)
        horizon = cfg.features.label.horizon_days
        candidates = candidate_labels(cfg, history, rows)
    # One test cutoff for all: the latest that the longest look-ahead labels.
    longest_labels, longest = max(candidates.values(), key=lambda candidate: candidate[1])
    labelled_by_all = rows.loc[~np.isnan(longest_labels), "cutoff"]
    test_cutoff = str(pd.Timestamp(labelled_by_all.max()).date())
    table, reference = {}, None
    for name, (labels, lookahead) in candidates.items():
        relabelled = rows.assign(**{LABEL: labels})
        labelled = relabelled[relabelled[LABEL].notna()]
        agreement = label_agreement(labelled, truth.customers, horizon)["non_contractual"]
        split_cfg = replace(cfg.training.split, test_cutoff=test_cutoff)
        cutoffs = list(labelled["cutoff"].unique())
        split = plan_split(cutoffs, lookahead, split_cfg)
        parts = split_rows(relabelled, split, split_cfg.calibration_share, cfg.seed)
        trained = train_model(cfg.model, parts, catalogue, cfg.training.calibration, cfg.seed)
        test = parts["test"].reset_index(drop=True)
        truly = true_churn(test, truth.customers, horizon).astype(bool).to_numpy()
        oracle = true_churn_probability(truth, test, horizon)
        observable = observable_churn_probability(truth, test, cfg.simulator, horizon)
        reference = trained.test_probability if reference is None else reference
        result = {
            "label accuracy": agreement["accuracy"],
            "label recall": agreement["recall"],
            "label precision": agreement["precision"],
            "training cutoffs": len(split.train_cutoffs),
        }
        for definition in ("non_contractual", "contractual"):
            mine = (test[DEFINITION] == definition).to_numpy()
            model_auc = roc_auc_score(truly[mine], trained.test_probability[mine])
            result[f"{definition}: model true-churn ROC-AUC"] = model_auc
            result[f"{definition}: oracle"] = roc_auc_score(truly[mine], oracle[mine])
            result[f"{definition}: observable oracle"] = roc_auc_score(
                truly[mine], observable[mine]
            )
            difference, low, high = paired_difference(
                truly[mine], trained.test_probability[mine], reference[mine], cfg.seed
            )
            interval = f"{difference:+.3f} [{low:+.3f}, {high:+.3f}]"
            result[f"{definition}: vs the first (95% CI)"] = interval
        table[name] = result
        print(name, result, flush=True)
    frame = pd.DataFrame(table).T
    text = (
        f"Default simulated data, non-contractual rows; label accuracy / recall / precision "
        f"over every labelled cutoff of each candidate; test cutoff {test_cutoff} for all "
        f"(the latest the {longest}-day look-ahead labels); model `{cfg.model.name}` as "
        f"configured.\n\n{frame.to_markdown(floatfmt='.4f')}\n"
    )
    print(text)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
