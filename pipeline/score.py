"""Stage `score`: retention lists as of a date, from the champion model.

    python -m pipeline.score                     # as of the end of the data
    python -m pipeline.score as_of=2026-11-23    # a scheduled run
    python -m pipeline.score as_of=2026-11-23 paths.retention_dir=/srv/retention

Inputs: the validated tables (`paths.validated_dir`) and the model `scoring.model_source`
names (pipeline/scoring/model.py). For every customer active at the as-of date the run
computes the point-in-time features with the training code, checks them against the
model's signature and the drift reference of its training rows, predicts the calibrated
churn probability, values and tiers the customer, explains the candidates by cause (exact
TreeSHAP, models/explain.py), picks the playbook action and keeps those worth acting on
(pipeline/scoring/).

Outputs, in `paths.retention_dir`/<as_of>/: the lists per tier and team, the excluded
customers with their reason, the drift report and `manifest.json`
(pipeline/scoring/export.py). The folder is written elsewhere and swapped in whole at the
end, so a failed run leaves the previous lists of that date as they were. A run refused
for drift writes only `<as_of>-refused-drift.csv` next to the folders. Every run is an
MLflow run in `scoring.mlflow_experiment`, tagged with the model version it used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from tqdm import tqdm

from features.build import KEYS, LIFECYCLE, observed_until, plan_features, snapshot
from features.catalogue import assign_causes
from features.inputs import Inputs, prepare_inputs
from features.value import customer_value
from models.drift import EXEMPT, REFUSE, WARN, drift_table, psi_by_feature
from models.estimators import model_inputs
from models.explain import cause_contributions, ranked_causes, shap_values, top_causes
from models.tracking import fingerprint, git_commit, use_tracking_store
from pipeline.config import Config, ConfigError
from pipeline.io import (
    atomic_directories,
    atomic_path,
    read_validated_tables,
    validated_paths,
    write_json,
)
from pipeline.scoring import DriftRefused
from pipeline.scoring.export import (
    DRIFT_FILE,
    MANIFEST_FILE,
    list_columns,
    reasons,
    write_excluded,
    write_lists,
)
from pipeline.scoring.model import ScoringModel, check_schema, load_scoring_model
from pipeline.scoring.playbook import action_table
from pipeline.scoring.selection import REASONS, choose_actions, screen
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


class Timings:
    """Seconds per step of the run, for the manifest and MLflow."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        log.info("%s: %.1f s", name, self.seconds[name])


@dataclass
class Population:
    """Everyone active at the as-of date: their feature rows and the model's inputs."""

    inputs: Inputs
    rows: pd.DataFrame
    features: pd.DataFrame
    as_of: pd.Timestamp
    data_end: pd.Timestamp

    @property
    def day(self) -> str:
        return str(self.as_of.date())


def run(cfg: Config) -> None:
    timings = Timings()
    actions = action_table(cfg.scoring.playbook, list(cfg.causes))  # checks the playbook first
    with timings.step("load_model"):
        scorer = load_scoring_model(cfg)
    with timings.step("features"):
        population = active_population(cfg, scorer)
    with timings.step("drift"):
        drift = drift_table(
            psi_by_feature(scorer.drift_reference, population.features),
            cfg.scoring.drift.warn_psi,
            cfg.scoring.drift.refuse_psi,
            cfg.scoring.drift.exempt,
        )
    retention_dir = Path(cfg.paths.retention_dir)
    day = population.day
    use_tracking_store(replace(cfg.training.mlflow, experiment=cfg.scoring.mlflow_experiment))
    with mlflow.start_run(run_name=f"score {day}") as scoring_run:
        mlflow.set_tags({"as_of": day, **{f"model.{k}": v for k, v in scorer.as_dict().items()}})
        _check_drift(drift, cfg, retention_dir / f"{day}-refused-drift.csv")
        decided, thresholds = decide(cfg, scorer, population, actions, timings)
        with atomic_directories(retention_dir / day) as (out,):
            with timings.step("export"):
                listed = decided[decided["exclusion"].isna()]
                counts = write_lists(out, listed, list_columns(cfg.scoring.top_causes))
                write_excluded(out, decided[decided["exclusion"].notna()])
                drift.to_csv(out / DRIFT_FILE, index=False, float_format="%.6g")
            manifest = _manifest(cfg, scorer, population, decided, counts, thresholds, drift)
            manifest["timings"] = timings.seconds
            manifest["scoring_run_id"] = scoring_run.info.run_id
            write_json(manifest, out / MANIFEST_FILE)
            _track(manifest, out)
    log.info(
        "%d customers on %d lists, %d excluded; written to %s",
        len(listed),
        len(counts),
        len(decided) - len(listed),
        retention_dir / day,
    )


def active_population(cfg: Config, scorer: ScoringModel) -> Population:
    """Point-in-time features of every customer active at the as-of date, with the
    training code, checked against the model's signature."""
    inputs = prepare_inputs(
        read_validated_tables(cfg.paths.validated_dir, cfg.data), cfg.features, cfg.data
    )
    data_end = observed_until(inputs)
    as_of = scoring_date(cfg.scoring.as_of, data_end)
    plan = plan_features(inputs, list(cfg.causes))
    rows = snapshot(inputs, plan, as_of, data_end)
    log.info("as of %s: %d active customers", as_of.date(), len(rows))
    unused = check_schema(rows[plan.feature_names], scorer.signature)
    if unused:
        log.warning("features the model does not use (trained before they existed): %s", unused)
    return Population(inputs, rows, model_inputs(rows, scorer.columns), as_of, data_end)


def decide(
    cfg: Config,
    scorer: ScoringModel,
    population: Population,
    actions: pd.DataFrame,
    timings: Timings,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every customer with probability, value, tier and either an action or the reason
    for none (pipeline/scoring/selection.py); and the tier thresholds."""
    rows, features = population.rows, population.features
    with timings.step("predict"):
        probability = scorer.model.predict_proba(features)[:, 1]
    with timings.step("value_and_tiers"):
        customers = _customers(cfg, population, probability)
        screened, thresholds = screen(customers, actions, cfg.scoring)
    with timings.step("explain"):
        candidates = screened["exclusion"].isna().to_numpy()
        causes = explain_causes(cfg, scorer, rows[candidates], features[candidates])
        screened = screened.join(causes.set_axis(screened.index[candidates]))
        screened["explained"] = candidates
    with timings.step("actions"):
        decided = choose_actions(screened, actions, cfg.scoring)
    return _describe(cfg, decided, scorer, population.day), thresholds


def scoring_date(as_of: str | None, data_end: pd.Timestamp) -> pd.Timestamp:
    """The as-of date: the configured one, or the end of the observed data. A date after
    the data would score customers on events that are missing, so it is refused."""
    if as_of is None:
        return data_end
    try:
        date = pd.Timestamp(as_of)
    except ValueError as err:
        raise ConfigError(f"scoring.as_of: {as_of!r} is not a date (YYYY-MM-DD)") from err
    if date != date.normalize():
        raise ConfigError(f"scoring.as_of: give a date without a time, got {as_of!r}")
    if date > data_end:
        raise ConfigError(
            f"scoring.as_of: {date.date()} is after the end of the data ({data_end.date()}); "
            "events up to the as-of date are needed"
        )
    return date


def _check_drift(drift: pd.DataFrame, cfg: Config, refused_report: Path) -> None:
    """Warn about drifted features; refuse (after writing the report) above the limit."""
    mlflow.log_metric("drift.max_psi", float(drift["psi"].max()) if len(drift) else 0.0)
    warn = cfg.scoring.drift.warn_psi
    warned = drift[drift["status"] == WARN]
    if len(warned):
        log.warning("feature drift above PSI %s: %s", warn, _named(warned))
    exempt = drift[drift["status"] == EXEMPT]
    if len(exempt):
        log.info("drift above PSI %s in exempt features (not refused): %s", warn, _named(exempt))
    refused = drift[drift["status"] == REFUSE]
    if len(refused):
        with atomic_path(refused_report) as tmp:
            drift.to_csv(tmp, index=False, float_format="%.6g")
        mlflow.log_artifact(str(refused_report))
        raise DriftRefused(
            f"feature drift above PSI {cfg.scoring.drift.refuse_psi}: {_named(refused)}; no "
            f"lists exported (report: {refused_report}). Retrain on recent data, or raise "
            "scoring.drift.refuse_psi if the shift is expected"
        )


def _named(drifted: pd.DataFrame) -> str:
    return ", ".join(f"{row.feature} ({row.psi:.2f})" for row in drifted.itertuples())


def _customers(cfg: Config, population: Population, probability: np.ndarray) -> pd.DataFrame:
    """One row per scored customer: probability, lifecycle stage, value and the columns
    the not-worth-retaining rule reads."""
    inputs, rows = population.inputs, population.rows
    values = customer_value(inputs, population.as_of, cfg.scoring.value)
    values.insert(0, "customer_id", inputs.customers["customer_id"].to_numpy())
    flags = [
        name
        for name in ("credit_score", cfg.scoring.not_worth_retaining.fraud_flag)
        if name is not None and name in rows
    ]
    customers = rows[["customer_id", LIFECYCLE, *flags]].reset_index(drop=True)
    customers.insert(1, "churn_probability", probability)
    return customers.merge(values, on="customer_id", how="left", validate="one_to_one")


def explain_causes(
    cfg: Config, scorer: ScoringModel, rows: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """The top risk and protective causes of each row, explained in batches."""
    causes_of = assign_causes(scorer.columns, cfg.features.causes, list(cfg.causes))
    keys = rows[list(KEYS)].reset_index(drop=True)
    features = features.reset_index(drop=True)
    batch = cfg.scoring.explain_batch_rows
    parts = []
    starts = range(0, len(rows), batch)
    for start in tqdm(starts, desc="explaining", unit="batch", disable=len(starts) < 2):
        window = slice(start, start + batch)
        contributions = shap_values(scorer.model, features.iloc[window])
        by_cause = cause_contributions(contributions.by_feature, causes_of)
        ranked = ranked_causes(keys.iloc[window], by_cause)
        parts.append(top_causes(ranked, keys.iloc[window], cfg.scoring.top_causes))
    if not parts:
        columns = [
            f"risk_{kind}_{rank}"
            for rank in range(1, cfg.scoring.top_causes + 1)
            for kind in ("cause", "share")
        ]
        return pd.DataFrame(columns=columns)
    explained = pd.concat(parts, ignore_index=True).drop(columns=list(KEYS))
    return explained.loc[:, [c for c in explained if c.startswith("risk_")]]


def _describe(cfg: Config, decided: pd.DataFrame, scorer: ScoringModel, day: str) -> pd.DataFrame:
    """Add what a reader of the lists needs: readable reasons, model and date."""
    labels = {name: cause.label for name, cause in cfg.causes.items()}
    listed = decided["exclusion"].isna()
    text = reasons(decided[listed], labels, cfg.scoring.top_causes)
    return decided.assign(
        reasons=text.reindex(decided.index),
        as_of=day,
        model_name=scorer.name,
        model_version=scorer.version,
    )


def _manifest(
    cfg: Config,
    scorer: ScoringModel,
    population: Population,
    decided: pd.DataFrame,
    counts: dict[str, int],
    thresholds: dict[str, float],
    drift: pd.DataFrame,
) -> dict:
    listed = decided[decided["exclusion"].isna()]
    at_risk = decided["churn_probability"] * decided["customer_value"].clip(lower=0)
    return {
        "as_of": population.day,
        "data_observed_until": str(population.data_end.date()),
        "data_fingerprint": fingerprint(
            *validated_paths(cfg.paths.validated_dir, cfg.data).values()
        ),
        "git_commit": git_commit(),
        "model": {**scorer.as_dict(), "source": cfg.scoring.model_source},
        "counts": {
            "scored": len(decided),
            "explained": int(decided["explained"].sum()),
            "listed": len(listed),
            "by_list": counts,
            "by_tier": _counts(decided["tier"].astype(str)),
            "listed_by_tier": _counts(listed["tier"].astype(str)),
            "listed_by_action": _counts(listed["action"]),
            "listed_by_cause": _counts(listed["risk_cause_1"].fillna("none")),
            "excluded_by_reason": {
                reason: int((decided["exclusion"] == reason).sum()) for reason in REASONS
            },
        },
        "value": {
            "value_at_risk": round(float(at_risk.sum()), 2),
            "value_at_risk_listed": round(float(at_risk[listed.index].sum()), 2),
            "action_cost": round(float(listed["action_cost"].sum()), 2),
            "expected_net_value": round(float(listed["expected_net_value"].sum()), 2),
            "tier_thresholds": {tier: round(value, 2) for tier, value in thresholds.items()},
        },
        "drift": {
            "max_psi": round(float(drift["psi"].max()), 4) if len(drift) else 0.0,
            "warned": drift.loc[drift["status"] == WARN, "feature"].tolist(),
            "exempt": drift.loc[drift["status"] == EXEMPT, "feature"].tolist(),
        },
        "config": asdict(cfg.scoring),
    }


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def _track(manifest: dict, out: Path) -> None:
    """Metrics and the manifest of the run go to its MLflow run."""
    counts, value = manifest["counts"], manifest["value"]
    metrics = {
        "scored": counts["scored"],
        "listed": counts["listed"],
        **{f"excluded.{k}": v for k, v in counts["excluded_by_reason"].items()},
        **{f"listed.{k}": v for k, v in counts["listed_by_tier"].items()},
        **{k: v for k, v in value.items() if k != "tier_thresholds"},
        **{f"seconds.{k}": v for k, v in manifest["timings"].items()},
    }
    mlflow.log_metrics(metrics)
    mlflow.log_params({"as_of": manifest["as_of"], "model_source": manifest["model"]["source"]})
    mlflow.set_tag("data_fingerprint", manifest["data_fingerprint"])
    mlflow.log_artifact(str(out / MANIFEST_FILE))
    mlflow.log_artifact(str(out / DRIFT_FILE))


def main() -> None:
    run_stage(run, __doc__.splitlines()[0], shorthands={"as_of": "scoring.as_of"})


if __name__ == "__main__":
    main()
