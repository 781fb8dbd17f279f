"""Typed pipeline configuration, loaded from the composed ``params.yaml``.

``conf/`` (Hydra) is the single source of parameter values; ``make params`` and
``dvc exp run`` compose it into ``params.yaml``, which DVC tracks and every stage reads.
The dataclasses below are the schema: a misspelt, missing or mistyped key fails at load
time with the key's name, before any stage does work. They carry no defaults, so a value
can only come from ``conf/``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

DEFAULT_PARAMS = Path("params.yaml")


class ConfigError(ValueError):
    """The configuration file does not match the schema."""


@dataclass
class PathsConfig:
    raw_dir: str = MISSING
    ground_truth_dir: str = MISSING
    validated_dir: str = MISSING
    features_dir: str = MISSING
    reports_dir: str = MISSING
    models_dir: str = MISSING
    explanations_dir: str = MISSING
    retention_dir: str = MISSING


@dataclass
class DataConfig:
    dir: str = MISSING
    format: str = MISSING
    tables: dict[str, str | None] = MISSING
    loyalty_tiers: list[str] = MISSING
    extra_customer_columns: dict[str, str] = MISSING

    def __post_init__(self) -> None:
        if self.format not in ("parquet", "csv"):
            raise ConfigError(f"data.format must be 'parquet' or 'csv', got {self.format!r}")
        kinds = set(self.extra_customer_columns.values()) - {"numeric", "categorical"}
        if kinds:
            raise ConfigError(
                f"data.extra_customer_columns: kinds must be numeric or categorical, got {kinds}"
            )


@dataclass
class ValidationConfig:
    max_examples: int = MISSING
    reference_date: str | None = MISSING


@dataclass
class TraitsConfig:
    price_sensitivity_beta: list[float] = MISSING
    service_tolerance_beta: list[float] = MISSING
    service_exposure_sigma: float = MISSING
    quality_sensitivity_sigma: float = MISSING
    relocation_sigma: float = MISSING
    credit_risk_beta: list[float] = MISSING
    malicious_credit_risk: list[float] = MISSING
    category_breadth_p: float = MISSING


@dataclass
class CreditScoreConfig:
    at_zero_risk: float = MISSING
    per_unit_risk: float = MISSING
    noise_sd: float = MISSING


@dataclass
class PopulationConfig:
    existing_share: float = MISSING
    prior_tenure_mean_weeks: float = MISSING
    max_prior_tenure_weeks: int = MISSING
    regions: list[str] = MISSING
    acquisition_channels: dict[str, float] = MISSING
    channel_price_sensitivity_shift: dict[str, float] = MISSING
    contract_types: dict[str, float] = MISSING
    loyalty_tiers: dict[str, float] = MISSING
    autopay_share: float = MISSING
    account_manager_top_share: float = MISSING
    credit_score_known_share: float = MISSING
    malicious_share: float = MISSING
    categories: list[str] = MISSING
    traits: TraitsConfig = MISSING
    credit_score: CreditScoreConfig = MISSING


@dataclass
class PurchasesConfig:
    weekly_rate_median: float = MISSING
    weekly_rate_sigma: float = MISSING
    basket_median: float = MISSING
    basket_sigma_customer: float = MISSING
    basket_sigma_purchase: float = MISSING
    promo_share_min: float = MISSING
    promo_share_max: float = MISSING
    discount_min: float = MISSING
    discount_max: float = MISSING
    offer_spend_shift: float = MISSING
    seasonal_amplitude: float = MISSING
    seasonal_peak_day: int = MISSING
    plain_return_probability: float = MISSING
    subscription_fee_median: float = MISSING
    subscription_fee_sigma: float = MISSING


@dataclass
class LifecycleConfig:
    purchase_multiplier: dict[str, float] = MISSING
    mean_weeks: dict[str, float] = MISSING
    decline_recovery_weekly: float = MISSING


@dataclass
class ServiceConfig:
    late_delivery_per_purchase: float = MISSING
    stock_out_per_purchase: float = MISSING
    defect_per_purchase: float = MISSING
    category_defect_multiplier: dict[str, float] = MISSING
    outage_weekly: float = MISSING
    staff_episode_weekly: float = MISSING
    severity_shares: list[float] = MISSING
    satisfaction_mean: float = MISSING
    satisfaction_sd: float = MISSING
    satisfaction_reversion: float = MISSING
    episode_impact: float = MISSING
    defect_memory: float = MISSING
    dissatisfaction_threshold: float = MISSING
    delight_threshold: float = MISSING
    indifferent_hazard: float = MISSING
    survey_weekly: float = MISSING
    survey_noise_sd: float = MISSING


@dataclass
class ComplaintsConfig:
    probability_per_episode: float = MISSING
    propensity_sigma: float = MISSING
    opening_delay_days_max: float = MISSING
    resolution_share: float = MISSING
    resolution_days_median: float = MISSING
    resolution_days_sigma: float = MISSING
    fast_days: float = MISSING
    fast_rating_shares: list[float] = MISSING
    slow_rating_shares: list[float] = MISSING
    recovery_share: float = MISSING
    poor_resolution_residual: float = MISSING
    residual_memory: float = MISSING


@dataclass
class PaymentsConfig:
    period_weeks: int = MISSING
    fail_probability: float = MISSING
    late_probability_autopay: float = MISSING
    late_probability_manual: float = MISSING
    card_expiry_probability: float = MISSING
    credit_risk_fail_boost: float = MISSING
    credit_risk_late_boost: float = MISSING
    on_time_days_max: int = MISSING
    late_days_max: int = MISSING
    failure_memory: float = MISSING


@dataclass
class CompetitionConfig:
    offers_per_region_per_year: float = MISSING
    offer_weeks_min: int = MISSING
    offer_weeks_max: int = MISSING
    offer_discount_min: float = MISSING
    offer_discount_max: float = MISSING
    baseline_exposure: float = MISSING
    sensitivity_exponent: float = MISSING


@dataclass
class ChurnConfig:
    annual_rate: float = MISSING
    cause_shares: dict[str, float] = MISSING
    annual_lock_factor: float = MISSING
    renewal_window_weeks: int = MISSING
    switching_cost_weights: dict[str, float] = MISSING
    tenure_saturation_weeks: int = MISSING
    category_breadth_saturation: int = MISSING
    switching_cost_exponent: float = MISSING
    calibration_customers: int = MISSING
    calibration_rounds: int = MISSING


@dataclass
class CutoffsConfig:
    start: str = MISSING
    end: str = MISSING
    freq: str = MISSING


@dataclass
class GroundTruthConfig:
    cutoffs: CutoffsConfig = MISSING


@dataclass
class CauseConfig:
    label: str = MISSING
    label_zh: str = MISSING
    description: str = MISSING


CHURN_DEFINITIONS = ("contractual", "non_contractual")


@dataclass
class LabelConfig:
    horizon_days: int = MISSING
    definition_by_contract_type: dict[str, str] = MISSING
    active_window_days: int = MISSING

    def __post_init__(self) -> None:
        unknown = set(self.definition_by_contract_type.values()) - set(CHURN_DEFINITIONS)
        if unknown:
            raise ConfigError(
                f"features.label.definition_by_contract_type: {sorted(unknown)} are not "
                f"churn definitions; use one of {CHURN_DEFINITIONS}"
            )
        if self.horizon_days <= 0 or self.active_window_days <= 0:
            raise ConfigError("features.label: horizon_days and active_window_days must be > 0")


@dataclass
class LifecycleRulesConfig:
    cultivation_days: int = MISSING
    trend_window_days: int = MISSING
    decline_trend: float = MISSING
    decline_overdue_ratio: float = MISSING
    growth_days: int = MISSING


@dataclass
class FeaturesConfig:
    cutoffs: CutoffsConfig = MISSING
    observed_until: str | None = MISSING
    label: LabelConfig = MISSING
    windows_days: list[int] = MISSING
    trend_windows_days: list[int] = MISSING
    payment_grace_days: int = MISSING
    lifecycle: LifecycleRulesConfig = MISSING
    causes: dict[str, str] = MISSING

    def __post_init__(self) -> None:
        if not self.windows_days or min(self.windows_days) <= 0:
            raise ConfigError("features.windows_days: give at least one window, each > 0 days")
        if self.lifecycle.trend_window_days not in self.trend_windows_days:
            raise ConfigError(
                f"features.lifecycle.trend_window_days ({self.lifecycle.trend_window_days}) "
                f"must be one of features.trend_windows_days {self.trend_windows_days}"
            )

    @property
    def long_window_days(self) -> int:
        """The window of rates, means and shares: the longest look-back window."""
        return max(self.windows_days)


ESTIMATORS = ("lightgbm", "logreg", "rfm_rule")
CALIBRATION_METHODS = ("isotonic", "sigmoid")


@dataclass
class ModelConfig:
    name: str = MISSING
    families: list[str] | None = MISSING
    class_weight: str | None = MISSING
    early_stopping_rounds: int | None = MISSING
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
class EvaluationConfig:
    top_fractions: list[float] = MISSING
    calibration_bins: int = MISSING


@dataclass
class RegistryConfig:
    model_name: str = MISSING
    alias: str = MISSING
    metric: str = MISSING
    min_improvement: float = MISSING


@dataclass
class MlflowConfig:
    tracking_uri: str = MISSING
    experiment: str = MISSING


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
    calibration: str = MISSING
    baselines: dict[str, ModelConfig] = MISSING
    evaluation: EvaluationConfig = MISSING
    registry: RegistryConfig = MISSING
    mlflow: MlflowConfig = MISSING
    tuning: TuningConfig = MISSING

    def __post_init__(self) -> None:
        if self.calibration not in CALIBRATION_METHODS:
            raise ConfigError(
                f"training.calibration: {self.calibration!r} is not one of {CALIBRATION_METHODS}"
            )


@dataclass
class ExplainConfig:
    top_causes: int = MISSING
    top_risk_share: float = MISSING
    plot_rows: int = MISSING

    def __post_init__(self) -> None:
        if self.top_causes < 1:
            raise ConfigError(f"explain.top_causes must be at least 1, got {self.top_causes}")
        if not 0 < self.top_risk_share <= 1:
            raise ConfigError(
                f"explain.top_risk_share must be in (0, 1], got {self.top_risk_share}"
            )


@dataclass
class ValueWeights:
    historical: float = MISSING
    future: float = MISSING


@dataclass
class ValueConfig:
    gross_margin: float = MISSING
    return_cost: float = MISSING
    subscription_margin: float = MISSING
    history_days: int = MISSING
    run_rate_days: int = MISSING
    horizon_days: int = MISSING
    weights: ValueWeights = MISSING

    def __post_init__(self) -> None:
        if min(self.history_days, self.run_rate_days, self.horizon_days) <= 0:
            raise ConfigError(
                "scoring.value: history_days, run_rate_days, horizon_days must be > 0"
            )


@dataclass
class NotWorthRetainingConfig:
    max_credit_score: float | None = MISSING
    max_customer_value: float = MISSING
    fraud_flag: str | None = MISSING
    causes: list[str] = MISSING


@dataclass
class Delivery:
    """How an action reaches the customer, who owns it, what it costs and how often it
    keeps a churner (save rate)."""

    channel: str | None = None
    team: str | None = None
    cost: float | None = None
    save_rate: float | None = None


@dataclass
class PairDelivery(Delivery):
    """A tier x cause pair's changes to its tier's delivery."""

    tier: str = MISSING
    cause: str = MISSING


@dataclass
class PlaybookConfig:
    tiers: dict[str, Delivery] = MISSING
    content: dict[str, str] = MISSING
    pairs: list[PairDelivery] = MISSING


@dataclass
class DriftConfig:
    bins: int = MISSING
    warn_psi: float = MISSING
    refuse_psi: float = MISSING
    exempt: list[str] = MISSING

    def __post_init__(self) -> None:
        if not 0 < self.warn_psi <= self.refuse_psi:
            raise ConfigError(
                f"scoring.drift: need 0 < warn_psi <= refuse_psi, got {self.warn_psi} and "
                f"{self.refuse_psi}"
            )


MODEL_SOURCES = ("registry", "pipeline")
WORTH_RETAINING_TIERS = ("vip", "major", "ordinary", "small")
NOT_WORTH_RETAINING = "not_worth_retaining"


@dataclass
class ScoringConfig:
    as_of: str | None = MISSING
    model_source: str = MISSING
    model_version: str | None = MISSING
    value: ValueConfig = MISSING
    not_worth_retaining: NotWorthRetainingConfig = MISSING
    tiers: dict[str, float] = MISSING
    no_action_causes: list[str] = MISSING
    risk_threshold: float = MISSING
    playbook: PlaybookConfig = MISSING
    budgets: dict[str, float | None] = MISSING
    drift: DriftConfig = MISSING
    top_causes: int = MISSING
    explain_batch_rows: int = MISSING
    mlflow_experiment: str = MISSING

    def __post_init__(self) -> None:
        if self.model_source not in MODEL_SOURCES:
            raise ConfigError(
                f"scoring.model_source: {self.model_source!r} is not one of {MODEL_SOURCES}"
            )
        if self.model_version is not None and self.model_source != "registry":
            raise ConfigError(
                "scoring.model_version pins a registry version: set model_source=registry"
            )
        if list(self.tiers) != list(WORTH_RETAINING_TIERS):
            raise ConfigError(
                f"scoring.tiers: give the quantile of {list(WORTH_RETAINING_TIERS)}, in this "
                f"order; got {list(self.tiers)}"
            )
        quantiles = list(self.tiers.values())
        if (
            quantiles != sorted(quantiles, reverse=True)
            or not 0 <= quantiles[-1] <= quantiles[0] < 1
        ):
            raise ConfigError(
                f"scoring.tiers: quantiles must fall from the highest tier down, within [0, 1); "
                f"got {self.tiers}"
            )
        unknown = set(self.playbook.tiers) | {pair.tier for pair in self.playbook.pairs}
        unknown -= set(WORTH_RETAINING_TIERS)
        if unknown:
            raise ConfigError(
                f"scoring.playbook: unknown tiers {sorted(unknown)}; "
                f"use {list(WORTH_RETAINING_TIERS)}"
            )
        if "default" not in self.playbook.content:
            raise ConfigError("scoring.playbook.content needs a `default` entry")
        if not 0 <= self.risk_threshold < 1:
            raise ConfigError(
                f"scoring.risk_threshold must be in [0, 1), got {self.risk_threshold}"
            )


@dataclass
class SimulatorConfig:
    n_customers: int = MISSING
    start_date: str = MISSING
    n_weeks: int = MISSING
    block_size: int = MISSING
    population: PopulationConfig = MISSING
    purchases: PurchasesConfig = MISSING
    lifecycle: LifecycleConfig = MISSING
    service: ServiceConfig = MISSING
    complaints: ComplaintsConfig = MISSING
    payments: PaymentsConfig = MISSING
    competition: CompetitionConfig = MISSING
    churn: ChurnConfig = MISSING
    ground_truth: GroundTruthConfig = MISSING


@dataclass
class Config:
    seed: int = MISSING
    paths: PathsConfig = MISSING
    data: DataConfig = MISSING
    simulator: SimulatorConfig = MISSING
    validation: ValidationConfig = MISSING
    causes: dict[str, CauseConfig] = MISSING
    features: FeaturesConfig = MISSING
    model: ModelConfig = MISSING
    training: TrainingConfig = MISSING
    explain: ExplainConfig = MISSING
    scoring: ScoringConfig = MISSING


def load_config(path: Path = DEFAULT_PARAMS, overrides: list[str] | None = None) -> Config:
    """Read ``path`` (a composed params.yaml), apply ``overrides`` (``key.path=value``)
    and check the result against the schema."""
    try:
        loaded = OmegaConf.load(path)
        changes = OmegaConf.from_dotlist(overrides or [])
        merged = OmegaConf.merge(OmegaConf.structured(Config), loaded, changes)
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{path} {' '.join(overrides or [])}: {err}") from err
    return config


def config_from_cli(description: str, shorthands: dict[str, str] | None = None) -> Config:
    """Parse a stage's command line (``--params``, then ``key.path=value`` overrides) and
    load the configuration. ``shorthands`` maps short keys to full ones (as_of ->
    scoring.as_of)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params",
        type=Path,
        default=DEFAULT_PARAMS,
        help="composed configuration to read (default: params.yaml)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="override a value of the configuration, e.g. paths.retention_dir=/srv/lists",
    )
    args = parser.parse_args()
    overrides = [_expand(override, shorthands or {}) for override in args.overrides]
    return load_config(args.params, overrides)


def _expand(override: str, shorthands: dict[str, str]) -> str:
    key, sep, value = override.partition("=")
    if not sep:
        raise ConfigError(f"{override!r}: overrides look like key=value")
    return f"{shorthands.get(key, key)}={value}"
