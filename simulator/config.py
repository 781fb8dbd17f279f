"""Configuration of the churn simulator (`simulator` in conf/)."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


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
class ChurnReasonsConfig:
    stated_share: float = MISSING
    misstated_share: float = MISSING
    delay_days_max: int = MISSING


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
    churn_reasons: ChurnReasonsConfig = MISSING
