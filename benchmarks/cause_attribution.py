"""Which way of naming a customer's churn causes names the true ones: candidates side by side.

Reads `data/` as written by `dvc repro` (the trained model, the features and the
simulator's ground truth) and ranks the causes of every test-cutoff row by each candidate,
then measures, in the model's top-risk decile, how often the first named cause is the true
dominant cause (top-1) and how often it is among the first three (top-3), next to the best
constant answers (simulator/fidelity.py: ``agreement``), and how many rows per second each
candidate explains. Candidates:

- ``path SHAP``: the explanations before the cause model, LightGBM's path-dependent
  TreeSHAP summed per cause (models/explain.py); the reference is the average training row.
- ``path SHAP, structural as context``: the pipeline's fallback without stated reasons,
  the same without ``low_switching_cost`` (contract, renewal timing, tenure, memberships)
  among the causes named.
- ``path SHAP centred by definition``: each cause's contribution minus its mean over the
  rows of the same churn definition (contract type).
- ``interventional SHAP against retained peers``: shap's interventional TreeExplainer with
  50 training rows of the same churn definition that did not churn as the reference: what
  makes this customer riskier than a peer who stayed.
- ``cause model``: competing risks, as the pipeline names causes (models/cause_model.py,
  ``explain.cause_model``). A multiclass LightGBM on the model's features predicts the
  cause the training cutoffs' churners said they left for, P(cause | x, churn), stopped
  early on the validation cutoff's;
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

import numpy as np
import pandas as pd
import shap
from default_data import ground_truth, split_features

from contract.reasons import reason_causes
from models.cause_model import fit_cause_model
from models.estimators import model_inputs
from models.explain import cause_contributions, tree_parts
from models.reasons import stated_causes
from pipeline.config import Config, load_config
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


def cause_classifier(
    train: tuple[pd.DataFrame, pd.Series],
    validation: tuple[pd.DataFrame, pd.Series],
    columns: list[str],
    cfg: Config,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The pipeline's cause model (``explain.cause_model``, models/cause_model.py) of the
    causes of ``train`` (rows, cause or NaN), stopped early on ``validation``'s: a function
    of feature rows that gives rows x causes probabilities."""
    model = fit_cause_model(train, validation, columns, cfg.explain.cause_model, cfg.seed)
    names = list(cfg.causes)
    return lambda rows: model.probabilities(rows, names).reset_index(drop=True)


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
        "path SHAP (before the cause model)": (path, explained.seconds),
        "path SHAP, structural as context (the fallback)": (path.drop(columns=STRUCTURAL), None),
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
    validation = pd.concat([parts["early_stopping"], parts["calibration"]]).reset_index(drop=True)
    validation_churned = (validation["churned"] == 1).to_numpy()
    validation_truth = validation[["customer_id"]].merge(churners, on="customer_id", how="left")
    validation_labels = {
        "the data's churn_reasons": stated_causes(validation, reasons, window).where(
            validation_churned
        ),
        "every churner's true cause": validation_truth["churn_cause"].where(
            validation_churned & true_churn(validation, churners, horizon).to_numpy()
        ),
    }
    for label, causes in labels.items():
        probabilities = cause_classifier(
            (train, causes), (validation, validation_labels[label]), columns, cfg
        )
        scores, seconds = timed(lambda p=probabilities: p(test))
        candidates[f"cause model, {label} ({causes.notna().sum():,} rows)"] = (scores, seconds)

    dominant = true_causes(simulated_truth, train, horizon)["true_cause"]
    validation_dominant = true_causes(simulated_truth, validation, horizon)["true_cause"]
    probe = cause_classifier((train, dominant), (validation, validation_dominant), columns, cfg)
    candidates["probe: trained on every row's true cause (cannot ship)"] = (probe(test), None)

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
