"""Optional hyperparameter search for the LightGBM model (`make tune`), tracked in MLflow.

Optuna's TPE sampler (seeded from `seed`) proposes `training.tuning.n_trials` settings
from `training.tuning.search_space`. Each trial fits on the training cutoffs, stops early on
the early-stopping customers, and is scored with `tracking.promotion.metric` on the
calibration customers of the validation cutoff; the test cutoff is never looked at, so the
`train` stage's test metrics stay honest. Every trial is an MLflow run nested under one
`tune` run. The search changes nothing by itself: it prints the `dvc exp run -S ...`
command that trains and evaluates the best setting as an experiment.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import optuna

from contract.errors import ConfigError
from models.config import SearchRange
from models.estimators import best_iteration_of
from models.fit import fit_uncalibrated, model_data
from models.metrics import evaluate
from models.split import sample_stayers
from pipeline.config import Config
from pipeline.feature_rows import read_split
from pipeline.io import read_catalogue
from pipeline.stage import run_stage
from pipeline.tracking import log_metrics, log_params, trial_run, tuning_run

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, name: str, search: SearchRange, current: object) -> float | int:
    """A value for ``name``; integer when the configured value is an integer."""
    if isinstance(current, int):
        return trial.suggest_int(name, int(search.low), int(search.high), log=search.log)
    return trial.suggest_float(name, search.low, search.high, log=search.log)


def run(cfg: Config) -> None:
    if cfg.model.name != "lightgbm":
        raise ConfigError(f"tuning searches LightGBM parameters; model is {cfg.model.name!r}")
    if cfg.data.snapshot is not None:
        raise ConfigError(
            "data.snapshot: tuning scores trials on the validation cutoff of the out-of-time "
            "split, which one snapshot date does not have; tune on event data"
        )
    unknown = sorted(set(cfg.training.tuning.search_space) - set(cfg.model.params))
    if unknown:
        raise ConfigError(f"training.tuning.search_space: {unknown} are not in model.params")
    catalogue = read_catalogue(cfg.paths.features_dir)
    lookahead = cfg.features.label.lookahead_days
    _, parts = read_split(cfg.paths.features_dir, lookahead, cfg.training.split, cfg.seed)
    train, weight = sample_stayers(parts["train"], cfg.training.max_training_rows, cfg.seed)
    data = model_data({**parts, "train": train}, catalogue, cfg.model.families, weight)
    evaluation, metric = cfg.training.evaluation, cfg.tracking.promotion.metric

    def objective(trial: optuna.Trial) -> float:
        proposed = {
            name: suggest(trial, name, search, cfg.model.params[name])
            for name, search in cfg.training.tuning.search_space.items()
        }
        model_cfg = replace(cfg.model, params={**cfg.model.params, **proposed})
        with trial_run(trial.number):
            fitted = fit_uncalibrated(model_cfg, data, cfg.seed)
            probability = fitted.predict_proba(data.inputs["calibration"])[:, 1]
            score = evaluate(
                data.labels["calibration"],
                probability,
                evaluation.top_fractions,
                evaluation.calibration_bins,
            )[metric]
            trees = best_iteration_of(fitted)
            log_params(proposed)
            log_metrics(
                {f"validation.{metric}": score, **({"best_iteration": trees} if trees else {})}
            )
        return score

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed)
    )
    with tuning_run(cfg.tracking, metric):
        study.optimize(objective, n_trials=cfg.training.tuning.n_trials)
        log_params({f"best.{k}": v for k, v in study.best_params.items()})
        log_metrics({f"best.validation.{metric}": study.best_value})
    overrides = " ".join(f"-S model.params.{k}={v:.4g}" for k, v in study.best_params.items())
    log.info(
        "best validation %s %.4f (trial %d)", metric, study.best_value, study.best_trial.number
    )
    log.info("train and evaluate it as an experiment: dvc exp run %s", overrides)


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
