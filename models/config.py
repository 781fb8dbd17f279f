"""Configuration of the models, their training and evaluation, and the explanations
(`model`, `training` and `explain` in conf/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from contract.errors import ConfigError

ESTIMATORS = ("lightgbm", "logreg", "rfm_rule")

CALIBRATION_METHODS = ("isotonic", "sigmoid")


@dataclass
class ModelConfig:
    name: str = MISSING
    families: list[str] | None = MISSING
    class_weight: str | None = MISSING
    early_stopping_rounds: int | None = MISSING
    log_every_trees: int | None = MISSING
    params: dict[str, Any] = MISSING

    def __post_init__(self) -> None:
        if self.name not in ESTIMATORS:
            raise ConfigError(f"model.name: {self.name!r} is not one of {ESTIMATORS}")
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(
                f"model.class_weight must be null or 'balanced', got {self.class_weight!r}"
            )


@dataclass
class SplitConfig:
    test_cutoff: str | None = MISSING
    validation_cutoff: str | None = MISSING
    train_cutoffs: int | None = MISSING
    calibration_share: float = MISSING

    def __post_init__(self) -> None:
        if not 0 < self.calibration_share < 1:
            raise ConfigError("training.split.calibration_share must be between 0 and 1")


@dataclass
class CrossValidationConfig:
    folds: int = MISSING
    validation_share: float = MISSING

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ConfigError("training.cross_validation.folds must be at least 2")
        if not 0 < self.validation_share < 1:
            raise ConfigError("training.cross_validation.validation_share must be in (0, 1)")


@dataclass
class EvaluationConfig:
    top_fractions: list[float] = MISSING
    calibration_bins: int = MISSING


@dataclass
class SearchRange:
    low: float = MISSING
    high: float = MISSING
    log: bool = MISSING


@dataclass
class TuningConfig:
    n_trials: int = MISSING
    search_space: dict[str, SearchRange] = MISSING


@dataclass
class TrainingConfig:
    split: SplitConfig = MISSING
    cross_validation: CrossValidationConfig = MISSING
    calibration: str = MISSING
    baselines: dict[str, ModelConfig] = MISSING
    evaluation: EvaluationConfig = MISSING
    drift_bins: int = MISSING
    tuning: TuningConfig = MISSING
    max_training_rows: int | None = MISSING

    def __post_init__(self) -> None:
        if self.calibration not in CALIBRATION_METHODS:
            raise ConfigError(
                f"training.calibration: {self.calibration!r} is not one of {CALIBRATION_METHODS}"
            )
        if self.max_training_rows is not None and self.max_training_rows < 1:
            raise ConfigError(
                f"training.max_training_rows: {self.max_training_rows}; set a positive row "
                "count, or null for every row"
            )


@dataclass
class EvidenceRule:
    """A fact a retention team can repeat: ``text`` (and ``text_zh``), Python format
    strings of ``value``, stated when the customer's ``feature`` lies in [min, max]."""

    feature: str = MISSING
    text: str = MISSING
    text_zh: str = MISSING
    min: float | None = None
    max: float | None = None


@dataclass
class CauseModelConfig:
    min_reasons: int = MISSING
    early_stopping_rounds: int = MISSING
    params: dict[str, Any] = MISSING

    def __post_init__(self) -> None:
        if self.min_reasons < 1:
            raise ConfigError(
                f"explain.cause_model.min_reasons must be at least 1, got {self.min_reasons}"
            )


@dataclass
class ExplainConfig:
    top_causes: int = MISSING
    top_risk_share: float = MISSING
    plot_rows: int = MISSING
    max_rows: int | None = MISSING
    cause_model: CauseModelConfig = MISSING
    context_causes: list[str] = MISSING
    evidence: dict[str, list[EvidenceRule]] = MISSING

    def __post_init__(self) -> None:
        # OmegaConf 2.3 leaves the rules of a dict of lists as plain dicts: typed here.
        self.evidence = {
            cause: [_evidence_rule(cause, rule) for rule in rules]
            for cause, rules in self.evidence.items()
        }
        if self.top_causes < 1:
            raise ConfigError(f"explain.top_causes must be at least 1, got {self.top_causes}")
        if not 0 < self.top_risk_share <= 1:
            raise ConfigError(
                f"explain.top_risk_share must be in (0, 1], got {self.top_risk_share}"
            )
        if self.max_rows is not None and self.max_rows < 1:
            raise ConfigError(f"explain.max_rows must be at least 1 or null, got {self.max_rows}")


def _evidence_rule(cause: str, rule: EvidenceRule | dict) -> EvidenceRule:
    if isinstance(rule, EvidenceRule):
        return rule
    unknown = sorted(set(rule) - {"feature", "text", "text_zh", "min", "max"})
    missing = sorted({"feature", "text", "text_zh"} - set(rule))
    if unknown or missing:
        raise ConfigError(
            f"explain.evidence.{cause}: a rule has unknown keys {unknown} or lacks {missing} "
            f"(feature, text and text_zh are needed; min and max are optional): {dict(rule)}"
        )
    return EvidenceRule(**rule)
