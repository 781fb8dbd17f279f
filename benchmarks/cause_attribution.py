"""Which way of naming a customer's churn causes names the true ones: candidates side by side.

Reads `data/` as written by `dvc repro` (the trained model, the features and the
simulator's ground truth) and ranks the causes of every test-cutoff row by each candidate,
then measures, in the model's top-risk decile, how often the first named cause is the true
dominant cause (top-1) and how often it is among the first three (top-3), next to the best
constant answers (simulator/fidelity.py: ``agreement``), and how many rows per second each
candidate explains. Candidates:

- ``path SHAP``: today's explanations, LightGBM's path-dependent TreeSHAP summed per cause
  (models/explain.py); the reference is the average training row.
- ``path SHAP, structural as context``: the same without ``low_switching_cost`` (contract,
  renewal timing, tenure, memberships) among the causes named.
- ``path SHAP centred by definition``: each cause's contribution minus its mean over the
  rows of the same churn definition (contract type).
- ``interventional SHAP against retained peers``: shap's interventional TreeExplainer with
  50 training rows of the same churn definition that did not churn as the reference: what
  makes this customer riskier than a peer who stayed.
- ``cause model``: competing risks. A multiclass LightGBM on the model's features predicts
  the cause the training cutoffs' churners said they left for, P(cause | x, churn);
  ranking by it ranks P(churn by cause | x) = P(churn | x) P(cause | x, churn). The
  reasons come from the data's ``churn_reasons`` table (models/reasons.py), which the
  simulator writes for half of its churners with a fifth of them wrong
  (``simulator.churn_reasons``), as real reason codes are incomplete and noisy; and, for
  reference, from every churner's true cause.
- ``probe``: a multiclass model trained on the true dominant cause of every training row.
  It needs the truth of every row, so it cannot ship; it shows what the features carry.

    python benchmarks/cause_attribution.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap
from default_data import ground_truth, split_features

from contract.reasons import reason_causes
from models.estimators import model_inputs
from models.explain import cause_contributions, tree_parts
from models.reasons import stated_causes
from pipeline.config import load_config
from pipeline.explain import explain_with_truth
from pipeline.registry import load_model
from simulator.fidelity import fidelity_report, true_causes
from simulator.truth import true_churn

RESULTS = Path(__file__).parent / "results" / "cause_attribution.md"
TOP = 3  # causes named per row
PEERS = 50  # reference rows per churn definition for interventional SHAP
STRUCTURAL = "low_switching_cost"


def ranked(scores: pd.DataFrame) -> pd.DataFrame:
    """The ``TOP`` causes of each row by score, highest first."""
    order = np.argsort(-scores.to_numpy(), axis=1, kind="stable")[:, :TOP]
    names = np.asarray(scores.columns)[order]
    return pd.DataFrame(names, columns=[f"risk_cause_{i + 1}" for i in range(TOP)])


def cause_classifier(inputs: pd.DataFrame, causes: np.ndarray, names: list[str], seed: int):
    """A multiclass LightGBM of ``causes`` (names) on ``inputs``: a function of encoded
    rows that gives rows x causes probabilities."""
    codes = pd.Categorical(causes, categories=names).codes
    model = lgb.LGBMClassifier(
        objective="multiclass",
        n_estimators=200,
        learning_rate=0.05,
        num_leaves=15,
        random_state=seed,
        n_jobs=2,
        verbose=-1,
    )
    model.fit(inputs, codes)

    def probabilities(rows: pd.DataFrame) -> pd.DataFrame:
        scores = pd.DataFrame(0.0, index=range(len(rows)), columns=names)
        scores.iloc[:, model.classes_] = model.predict_proba(rows)
        return scores

    return probabilities


def timed(candidate: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    scores = candidate()
    return scores, time.perf_counter() - started


def main() -> None:
    cfg = load_config()
    names = list(cfg.causes)
    _, split, parts = split_features(cfg)
    model = load_model(Path(cfg.paths.models_dir))
    train, test = (parts[name].reset_index(drop=True) for name in ("train", "test"))
    explained, truth = explain_with_truth(cfg, model, None, test)
    encoder, classifier = tree_parts(model)
    columns = list(encoder.feature_names_in_)
    encoded_train = encoder.transform(model_inputs(train, columns))
    encoded_test = encoder.transform(model_inputs(test, columns))
    definition = test["churn_definition"].to_numpy()

    def interventional() -> pd.DataFrame:
        rng = np.random.default_rng(cfg.seed)
        retained = (train["churned"] == 0).to_numpy()
        values = pd.DataFrame(0.0, index=range(len(test)), columns=columns)
        for kind in np.unique(definition):
            peers = np.flatnonzero(retained & (train["churn_definition"] == kind).to_numpy())
            reference = encoded_train.iloc[rng.choice(peers, PEERS, replace=False)]
            explainer = shap.TreeExplainer(
                classifier.booster_, data=reference, feature_perturbation="interventional"
            )
            rows = definition == kind
            values.loc[rows] = explainer.shap_values(encoded_test[rows], check_additivity=False)
        return cause_contributions(values, explained.causes_of)

    path = explained.by_cause.reset_index(drop=True)
    centred = path.copy()
    for kind in np.unique(definition):
        rows = definition == kind
        centred.loc[rows] -= centred.loc[rows].mean()
    candidates = {
        "path SHAP (today)": (path, explained.seconds),
        "path SHAP, structural as context": (path.drop(columns=STRUCTURAL), None),
        "path SHAP centred by definition": (centred, None),
        "interventional SHAP against retained peers": timed(interventional),
    }

    horizon = cfg.features.label.horizon_days
    window = horizon + cfg.features.label.confirmation_days  # what the label waits for
    reasons = pd.read_parquet(Path(cfg.paths.validated_dir) / "churn_reasons.parquet")
    reasons["cause"] = reason_causes(reasons, dict(cfg.data.reason_causes), names)
    simulated_truth = ground_truth(cfg)
    churners = simulated_truth.customers[["customer_id", "churn_time", "churn_cause"]]
    churned = (train["churned"] == 1).to_numpy()
    true_cause = train[["customer_id"]].merge(churners, on="customer_id", how="left")
    labels = {
        "the data's churn_reasons": stated_causes(train, reasons, window).where(churned),
        "every churner's true cause": true_cause["churn_cause"].where(
            churned & true_churn(train, churners, horizon).to_numpy()
        ),
    }
    for label, causes in labels.items():
        known = causes.notna().to_numpy()
        probabilities = cause_classifier(
            encoded_train[known], causes[known].to_numpy(), names, cfg.seed
        )
        scores, seconds = timed(lambda p=probabilities: p(encoded_test))
        candidates[f"cause model, {label} ({known.sum():,} rows)"] = (scores, seconds)

    dominant = true_causes(simulated_truth, train, horizon)["true_cause"].to_numpy()
    probe = cause_classifier(encoded_train, dominant, names, cfg.seed)
    candidates["probe: trained on every row's true cause (cannot ship)"] = (
        probe(encoded_test),
        None,
    )

    records = []
    for name, (scores, seconds) in candidates.items():
        report = fidelity_report(
            truth, ranked(scores), [test["churn_definition"]], {"top_risk": explained.top_risk}
        )["top_risk"]
        record = {"candidate": name}
        for subset in ("all", "non_contractual", "contractual"):
            values = report[subset]
            record[f"{subset} top-1"] = values["agreement"]
            record[f"{subset} top-3"] = values[f"within_top_{TOP}"]
        record["rows/s"] = round(len(test) / seconds) if seconds else None
        records.append(record)
    constants = "; ".join(
        f"{subset} {values['most_frequent_guess']:.3f} / {values[f'most_frequent_{TOP}_guess']:.3f}"
        for subset, values in report.items()
    )
    sections = [
        f"Test cutoff {split.test_cutoff.date()}, {len(test):,} rows; the model's top-risk "
        f"decile: {report['all']['rows']:,} rows ({report['non_contractual']['rows']:,} "
        "non-contractual). Top-1: the first named cause is the true dominant cause; top-3: "
        "it is among the first three.",
        "",
        pd.DataFrame(records).round(3).to_markdown(index=False),
        "",
        "Best constant answers (the group's most frequent true cause; its three most "
        f"frequent): {constants}.",
    ]
    text = "\n".join(sections) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
