"""Stage `score`: retention lists as of a date, from the champion model.

    python -m pipeline.score                     # as of the end of the data
    python -m pipeline.score as_of=2026-11-23    # a scheduled run
    python -m pipeline.score as_of=2026-11-23 paths.retention_dir=/srv/retention \
        paths.allow_outside_repository=true

Inputs: the validated tables (`paths.validated_dir`) and the model `scoring.model_source`
names (pipeline/registry.py). For every customer active at the as-of date the run computes
the point-in-time features with the training code, checks them against the model's
signature and the drift reference of its training rows, predicts the calibrated churn
probability, values and tiers the customer, names the candidates' churn causes (by the
cause model trained with it where the data have stated reasons, else by exact TreeSHAP;
models/explain.py) with the evidence behind them, picks the playbook action and keeps
those worth acting on (scoring/). Features, probabilities and purchase summaries are
computed range by range of customer ids (`engine.customer_cutoffs_per_query` customers
each), so the memory a run needs is bounded at any number of customers: only the inputs of
the customers at risk are kept for the explanations. With `engine=spark` the features are
typed and predicted on Spark's executors (scoring/spark.py), so only probabilities, those
inputs and the drift counts reach the driver.

Outputs, in `paths.retention_dir`/<as_of>/: the lists per tier and team, the win-back list
(lapsed customers, scoring/lapsed.py), the excluded customers with their reason, the drift
report and the manifest (file names in pipeline/artifacts.py). The folder is written
elsewhere and swapped in whole at the end, so a failed run leaves the previous lists of
that date as they were. A run refused for drift writes only `<as_of>-refused-drift.csv`
next to the folders. Every run is an MLflow run in `tracking.scoring_experiment`, tagged
with the model version it used.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features.catalogue import assign_causes, cause_patterns
from features.feature_table import observed_until
from features.history import CustomerHistory, customer_ranges
from models.drift import EXEMPT, REFUSE, WARN, drift_table
from models.evidence import evidence
from models.explain import CAUSE_MODEL, SHAP, check_context_causes
from pipeline.artifacts import (
    COLUMNS,
    DRIFT_REPORT,
    EXCLUDED,
    LISTS_DIR,
    MANIFEST,
    WIN_BACK,
    refused_drift_report,
)
from pipeline.config import Config
from pipeline.engine import validated_history
from pipeline.io import (
    atomic_directories,
    atomic_path,
    validated_paths,
    write_json,
    write_parquet_and_csv,
)
from pipeline.registry import ScoringModel, load_scoring_model
from pipeline.stage import Timings, run_stage
from pipeline.tracking import (
    fingerprint,
    git_commit,
    log_artifact,
    log_metric,
    log_scoring_run,
    scoring_run,
)
from scoring.causes import explain_causes
from scoring.errors import DriftRefused
from scoring.export import (
    Labels,
    column_dictionary,
    describe,
    excluded_table,
    for_people,
    list_columns,
    retention_lists,
    win_back_list,
)
from scoring.manifest import manifest
from scoring.outlook import purchase_outlook
from scoring.playbook import action_table, check_playbook
from scoring.population import (
    ScoredPopulation,
    customers_to_decide,
    score_population,
    scoring_date,
)
from scoring.selection import LAPSED, choose_actions, screen

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    # A bad playbook or context cause stops the run first.
    check_playbook(cfg.scoring.playbook, list(cfg.causes))
    check_context_causes(cfg.explain.context_causes, list(cfg.causes))
    with validated_history(cfg) as history:
        _score(cfg, history)


def _score(cfg: Config, history: CustomerHistory) -> None:
    """The scoring run on the validated tables in the engine (``validated_history``)."""
    timings, scoring = Timings(), cfg.scoring
    data_end = observed_until(history)
    as_of = scoring_date(scoring.as_of, data_end)  # a date after the data stops the run here
    day = str(as_of.date())
    retention_dir = Path(cfg.paths.retention_dir)
    _check_lists_are_ours(retention_dir / day)
    with timings.step("load_model"):
        scorer = load_scoring_model(
            scoring.model_source, Path(cfg.paths.models_dir), cfg.tracking, scoring.model_version
        )
    actions = action_table(scoring.playbook, list(cfg.causes), list(scorer.input_types))
    with timings.step("features_and_predict"):
        # One scoring cutoff: a range holds engine.customer_cutoffs_per_query customers.
        ranges = customer_ranges(history, cfg.engine.customer_cutoffs_per_query)
        scored = score_population(
            history,
            list(cfg.causes),
            as_of,
            data_end,
            scorer.model,
            scorer.input_types,
            scorer.drift_reference,
            scoring.risk_threshold,
            scoring.not_worth_retaining.fraud_flag,
            ranges,
        )
    limits = scoring.drift
    drift = drift_table(scored.drift.psi(), limits.warn_psi, limits.refuse_psi, limits.exempt)
    unseen = scored.drift.unseen_categories()
    if unseen:
        log.warning(
            "categories the model never saw in training, scored as missing: %s",
            "; ".join(f"{name}: {values}" for name, values in unseen.items()),
        )
    with scoring_run(cfg.tracking, day, scorer.as_dict()) as run_id:
        _check_drift(
            drift, limits.warn_psi, limits.refuse_psi, refused_drift_report(retention_dir, day)
        )
        decided, thresholds = decide(cfg, scorer, scored, actions, timings)
        with atomic_directories(retention_dir / day) as (out,):
            with timings.step("export"):
                counts, win_back = _export(out, decided, cfg, drift)
            summary = manifest(decided, counts, thresholds, drift)
            summary["counts"]["win_back"] = win_back
            summary["unseen_categories"] = unseen
            summary |= _provenance(cfg, scorer, day, data_end)
            summary["causes_named_by"] = SHAP if scorer.cause_model is None else CAUSE_MODEL
            summary |= {"timings": timings.seconds, "scoring_run_id": run_id}
            write_json(summary, out / MANIFEST)
            log_scoring_run(summary, [out / MANIFEST, out / DRIFT_REPORT])
    listed = summary["counts"]["listed"]
    log.info(
        "%d customers on %d lists, %d on the win-back list, %d excluded; written to %s",
        listed,
        len(counts),
        win_back,
        len(decided) - listed,
        retention_dir / day,
    )


def decide(
    cfg: Config,
    scorer: ScoringModel,
    scored: ScoredPopulation,
    actions: pd.DataFrame,
    timings: Timings,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every customer with probability, value, tier and either an action or the reason
    for none (scoring/selection.py); and the tier thresholds."""
    with timings.step("purchase_outlook"):
        scoring = cfg.scoring
        outlook = purchase_outlook(
            scored.history,
            scored.as_of,
            scoring.purchase_model,
            scoring.value.horizon_days,
            scoring.purchase_model_fit_customers,
            cfg.seed,
            scored.ranges,
        )
    with timings.step("value"):
        fraud_flag = scoring.not_worth_retaining.fraud_flag
        customers = customers_to_decide(scored, outlook, scoring.value, fraud_flag)
    with timings.step("screen"):
        screened, thresholds = screen(customers, actions, cfg.scoring)
    labels = Labels.of(cfg.causes, cfg.scoring)
    with timings.step("explain"):
        candidates = screened["exclusion"].isna().to_numpy()
        explained = scored.at_risk.loc[np.flatnonzero(candidates)]  # candidates are at risk
        patterns = cause_patterns(cfg.features, cfg.data)
        causes_of = assign_causes(scorer.columns, patterns, list(cfg.causes))
        causes = explain_causes(
            scorer.model,
            scorer.cause_model,
            explained[scorer.columns],
            screened["churn_probability"].to_numpy()[candidates],
            causes_of,
            cfg.explain.context_causes,
            cfg.explain.top_causes,
            cfg.scoring.explain_batch_rows,
        )
        rules, context = cfg.explain.evidence, cfg.explain.context_causes
        causes["evidence"] = evidence(explained, causes, rules, labels.causes, "text", context)
        causes["evidence_zh"] = evidence(
            explained, causes, rules, labels.causes_zh, "text_zh", context
        )
        screened = screened.join(causes.set_axis(screened.index[candidates]))
        screened["explained"] = candidates
    with timings.step("actions"):
        decided = choose_actions(screened, actions, cfg.scoring)
    day = str(scored.as_of.date())
    described = describe(decided, labels, cfg.explain.top_causes, day, scorer.name, scorer.version)
    return described, thresholds


def _check_lists_are_ours(folder: Path) -> None:
    """A run replaces the folder of its date: refuse one that holds no manifest of ours."""
    if folder.exists() and not (folder / MANIFEST).is_file():
        raise ConfigError(
            f"{folder} exists and has no {MANIFEST}: it is not a folder of retention lists "
            "this pipeline wrote, and a run replaces the folder of its date; move it away "
            "or set paths.retention_dir to another folder"
        )


def _check_drift(drift: pd.DataFrame, warn: float, refuse: float, refused_report: Path) -> None:
    """Warn about drifted features; refuse (after writing the report) above the limit."""
    log_metric("drift.max_psi", float(drift["psi"].max()) if len(drift) else 0.0)
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
        log_artifact(refused_report)
        raise DriftRefused(
            f"feature drift above PSI {refuse}: {_named(refused)}; no lists exported "
            f"(report: {refused_report}). Retrain on recent data, or raise "
            "scoring.drift.refuse_psi if the shift is expected"
        )


def _named(drifted: pd.DataFrame) -> str:
    return ", ".join(f"{row.feature} ({row.psi:.2f})" for row in drifted.itertuples())


def _export(
    out: Path, decided: pd.DataFrame, cfg: Config, drift: pd.DataFrame
) -> tuple[dict[str, int], int]:
    """The lists, the win-back list, the excluded customers and the drift report; returns
    rows per retention list and on the win-back list."""
    (out / LISTS_DIR).mkdir()
    listed = decided[decided["exclusion"].isna()]
    lists = retention_lists(listed, list_columns(cfg.explain.top_causes))
    for name, rows in lists.items():
        write_parquet_and_csv(rows, for_people(rows), out / LISTS_DIR / name)
    excluded = excluded_table(decided[decided["exclusion"].notna()])
    write_parquet_and_csv(excluded, for_people(excluded), out / EXCLUDED)
    lapsed = decided[decided["exclusion"] == LAPSED]
    win_back = win_back_list(lapsed, cfg.scoring.lapsed.win_back_tiers)
    write_parquet_and_csv(win_back, for_people(win_back), out / WIN_BACK)
    drift.to_csv(out / DRIFT_REPORT, index=False, float_format="%.6g")
    exported = lists | {EXCLUDED: excluded, WIN_BACK: win_back}
    column_dictionary(exported).to_csv(out / COLUMNS, index=False)
    return {name: len(rows) for name, rows in lists.items()}, len(win_back)


def _provenance(cfg: Config, scorer: ScoringModel, day: str, data_end: pd.Timestamp) -> dict:
    """Where a scoring run came from: date, data, code, model and scoring config."""
    validated = validated_paths(cfg.paths.validated_dir, cfg.data).values()
    return {
        "as_of": day,
        "data_observed_until": str(data_end.date()),
        "data_fingerprint": fingerprint(*validated),
        "git_commit": git_commit(),
        "model": {**scorer.as_dict(), "source": cfg.scoring.model_source},
        "config": asdict(cfg.scoring),
    }


def main() -> None:
    run_stage(run, __doc__.splitlines()[0], shorthands={"as_of": "scoring.as_of"})


if __name__ == "__main__":
    main()
