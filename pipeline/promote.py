"""`make promote`: move the registry alias (``champion``) to a candidate version, on purpose.

    python -m pipeline.promote              # the version the train stage registered last
    python -m pipeline.promote version=7    # any registered version

The candidate takes the alias when it beats the champion on the same held-out rows by
more than ``tracking.promotion.min_improvement`` with ``confidence``: the one-sided lower
bound of a paired bootstrap of the difference (models/comparison.py) must exceed the
margin. Out of time, both versions score the test cutoff of the current features
(``training.split``); a version whose own test cutoff is later has seen that period and
cannot be judged on it. On snapshot data both versions' out-of-fold predictions of the
same rows are compared, which needs both trained on the same features. With no champion
yet, or one that cannot read the current features, the candidate is promoted.

Every decision, promoted or not, is an MLflow run of ``tracking.promotion_experiment``
with its evidence (``make promotions`` lists them); the alias moves after it is recorded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import ConfigError
from features.columns import KEYS, LABEL
from models.comparison import Decision, paired_bootstrap
from models.estimators import labels, model_inputs
from models.metrics import higher_is_better
from pipeline.artifacts import PREDICTIONS, RUN_RECORD
from pipeline.config import Config
from pipeline.feature_rows import read_split
from pipeline.model_file import UnsafeModel
from pipeline.registry import ScoringModel, champion_version, load_scoring_model, move_alias
from pipeline.stage import run_stage
from pipeline.tracking import record_promotion, run_artifact, run_tags, use_tracking_store

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    tracking, rule = cfg.tracking, cfg.tracking.promotion
    if rule.metric not in higher_is_better(cfg.training.evaluation.top_fractions):
        raise ConfigError(
            f"tracking.promotion.metric: {rule.metric!r} is not a higher-is-better metric; use "
            f"one of {higher_is_better(cfg.training.evaluation.top_fractions)}"
        )
    use_tracking_store(tracking, tracking.training_experiment)
    candidate = _candidate_version(cfg)
    champion = champion_version(tracking.registry)
    if champion == candidate:
        log.info("version %s is already the %r: nothing to do", candidate, tracking.registry.alias)
        return
    decision = decide(cfg, candidate, champion)
    record_promotion(tracking, decision)
    if decision.promoted:
        move_alias(tracking.registry, candidate)
    log.info(
        "version %s %s: %s",
        candidate,
        f"is now the {tracking.registry.alias!r}" if decision.promoted else "was not promoted",
        decision.reason,
    )


def _candidate_version(cfg: Config) -> str:
    """``tracking.promotion.candidate``, or the version the train stage registered last."""
    if cfg.tracking.promotion.candidate is not None:
        return str(cfg.tracking.promotion.candidate)
    record = Path(cfg.paths.models_dir) / RUN_RECORD
    if not record.exists():
        raise FileNotFoundError(f"no trained model in {record.parent}: run `dvc repro` first")
    return str(json.loads(record.read_text(encoding="utf-8"))["version"])


def decide(cfg: Config, candidate: str, champion: str | None) -> Decision:
    """Whether ``candidate`` should take the alias from ``champion``, with the evidence."""
    rule = cfg.tracking.promotion
    if champion is None:
        return Decision(candidate, None, True, "no champion yet", "", None)
    try:
        held_out, y, probabilities = _held_out_predictions(cfg, candidate, champion)
    except _ChampionUnusable as err:
        return Decision(candidate, champion, True, str(err), "", None)
    comparison = paired_bootstrap(
        y,
        probabilities[candidate],
        probabilities[champion],
        rule.metric,
        rule.bootstrap_samples,
        rule.confidence,
        cfg.seed,
    )
    promoted = comparison.lower_bound > rule.min_improvement
    verb = "beats" if promoted else "does not beat"
    reason = (
        f"{rule.metric} {comparison.candidate:.4f} vs {comparison.champion:.4f}: the "
        f"difference's {rule.confidence:.0%} lower bound {comparison.lower_bound:+.4f} {verb} "
        f"the margin {rule.min_improvement}"
    )
    return Decision(candidate, champion, promoted, reason, held_out, comparison)


class _ChampionUnusable(Exception):
    """The champion cannot score the held-out rows: the candidate replaces it."""


def _held_out_predictions(
    cfg: Config, candidate: str, champion: str
) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """Which rows, their labels and each version's churn probabilities on them."""
    if cfg.data.snapshot is not None:
        return _out_of_fold(cfg, candidate, champion)
    split, parts = read_split(
        cfg.paths.features_dir, cfg.features.label.lookahead_days, cfg.training.split, cfg.seed
    )
    test, test_cutoff = parts["test"], str(split.test_cutoff.date())
    probabilities = {}
    for version in (candidate, champion):
        model = _registered(cfg, version, is_champion=version == champion)
        seen_until = run_tags(model.run_id).get("test_cutoff", "")
        if seen_until > test_cutoff or not seen_until:
            raise ConfigError(
                f"version {version} was tested on {seen_until or 'no cutoff (cross-validated)'}, "
                f"so it has seen the period of this test cutoff {test_cutoff}: it cannot be "
                "judged on these rows; promote a version trained on the current data"
            )
        if not set(model.columns) <= set(test.columns):
            if version == champion:
                raise _ChampionUnusable("the champion cannot read the current features")
            raise ConfigError(f"version {version} needs features the current table lacks")
        probabilities[version] = model.model.predict_proba(model_inputs(test, model.columns))[:, 1]
    return f"test cutoff {test_cutoff} of the current features", labels(test), probabilities


def _registered(cfg: Config, version: str, is_champion: bool) -> ScoringModel:
    try:
        return load_scoring_model("registry", Path(), cfg.tracking, version)
    except UnsafeModel as err:
        if is_champion:
            raise _ChampionUnusable(f"the champion cannot be loaded safely: {err}") from err
        raise


def _out_of_fold(
    cfg: Config, candidate: str, champion: str
) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """Both versions' logged out-of-fold predictions of the same snapshot rows."""
    runs = {v: _registered(cfg, v, is_champion=v == champion).run_id for v in (candidate, champion)}
    tags = {version: run_tags(run_id) for version, run_id in runs.items()}
    if tags[candidate].get("data_fingerprint") != tags[champion].get("data_fingerprint"):
        raise _ChampionUnusable(
            "the champion was cross-validated on other features, so no rows compare both fairly"
        )
    frames = [
        pd.read_parquet(
            run_artifact(run_id, PREDICTIONS),
            columns=[*KEYS, LABEL, f"probability_{tags[version]['model']}"],
        ).rename(columns={f"probability_{tags[version]['model']}": version})
        for version, run_id in runs.items()
    ]
    joined = frames[0].merge(frames[1], on=[*KEYS, LABEL], validate="1:1")
    probabilities = {version: joined[version].to_numpy() for version in runs}
    y = joined[LABEL].to_numpy(dtype=int)
    return "out-of-fold predictions of the snapshot", y, probabilities


def main() -> None:
    run_stage(run, __doc__.splitlines()[0], shorthands={"version": "tracking.promotion.candidate"})


if __name__ == "__main__":
    main()
