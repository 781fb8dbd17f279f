"""Configuration of batch scoring (`scoring` in conf/): customer value, tiers, the
playbook, the risk threshold, budgets and the drift check."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from contract.config import config_date
from contract.errors import ConfigError

# How a customer's future purchases are valued (scoring/value.py): the purchases a BTYD
# model expects of them if they stay, or the margin of their recent days projected.
FUTURE_VALUE_METHODS = ("btyd", "run_rate")


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
    future: str = MISSING
    run_rate_days: int = MISSING
    horizon_days: int = MISSING
    weights: ValueWeights = MISSING
    margin_per_purchase: float | None = MISSING
    attribute: str | None = MISSING

    def __post_init__(self) -> None:
        if self.future not in FUTURE_VALUE_METHODS:
            raise ConfigError(
                f"scoring.value.future: {self.future!r} is not one of {list(FUTURE_VALUE_METHODS)}"
            )
        if min(self.history_days, self.run_rate_days, self.horizon_days) <= 0:
            raise ConfigError(
                "scoring.value: history_days, run_rate_days, horizon_days must be > 0"
            )
        if self.margin_per_purchase is not None and self.margin_per_purchase < 0:
            raise ConfigError("scoring.value.margin_per_purchase must be >= 0")


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
    content_zh: dict[str, str] = MISSING
    content_needs: dict[str, list[str]] = MISSING
    pairs: list[PairDelivery] = MISSING


@dataclass
class DriftConfig:
    warn_psi: float = MISSING
    refuse_psi: float = MISSING
    exempt: dict[str, str] = MISSING

    def __post_init__(self) -> None:
        unexplained = [pattern for pattern, why in self.exempt.items() if not why]
        if unexplained:
            raise ConfigError(f"scoring.drift.exempt: say why {unexplained} are exempt")
        if not 0 < self.warn_psi <= self.refuse_psi:
            raise ConfigError(
                f"scoring.drift: need 0 < warn_psi <= refuse_psi, got {self.warn_psi} and "
                f"{self.refuse_psi}"
            )


MODEL_SOURCES = ("registry", "pipeline")
WORTH_RETAINING_TIERS = ("vip", "major", "ordinary", "small")
NOT_WORTH_RETAINING = "not_worth_retaining"


@dataclass
class LapsedConfig:
    p_alive_below: float = MISSING
    win_back_tiers: list[str] = MISSING

    def __post_init__(self) -> None:
        if not 0 <= self.p_alive_below <= 1:
            raise ConfigError(
                f"scoring.lapsed.p_alive_below: {self.p_alive_below} is not a probability"
            )
        unknown = sorted(set(self.win_back_tiers) - set(WORTH_RETAINING_TIERS))
        if unknown:
            raise ConfigError(
                f"scoring.lapsed.win_back_tiers: {unknown} are not tiers; use some of "
                f"{list(WORTH_RETAINING_TIERS)}"
            )


@dataclass
class ScoringConfig:
    as_of: str | None = MISSING
    model_source: str = MISSING
    model_version: str | None = MISSING
    value: ValueConfig = MISSING
    not_worth_retaining: NotWorthRetainingConfig = MISSING
    purchase_model: str = MISSING
    purchase_model_fit_customers: int | None = MISSING
    lapsed: LapsedConfig = MISSING
    tiers: dict[str, float] = MISSING
    tier_labels_zh: dict[str, str] = MISSING
    no_action_causes: list[str] = MISSING
    risk_threshold: float = MISSING
    playbook: PlaybookConfig = MISSING
    budgets: dict[str, float | None] = MISSING
    drift: DriftConfig = MISSING
    explain_batch_rows: int = MISSING

    def __post_init__(self) -> None:
        _check_date(self.as_of)
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
        _check_same_keys(
            "scoring.tier_labels_zh",
            self.tier_labels_zh,
            [*WORTH_RETAINING_TIERS, NOT_WORTH_RETAINING],
        )
        _check_same_keys(
            "scoring.playbook.content_zh", self.playbook.content_zh, self.playbook.content
        )
        if not 0 <= self.risk_threshold < 1:
            raise ConfigError(
                f"scoring.risk_threshold must be in [0, 1), got {self.risk_threshold}"
            )


def _check_same_keys(name: str, given: dict[str, str], wanted: list[str] | dict) -> None:
    """Labels in another language: one for each of ``wanted``, and no other."""
    missing, unknown = sorted(set(wanted) - set(given)), sorted(set(given) - set(wanted))
    if missing or unknown:
        raise ConfigError(
            f"{name}: give one for each of {list(wanted)}; missing {missing}, unknown {unknown}"
        )


def _check_date(as_of: str | None) -> None:
    """``scoring.as_of`` is empty or a date (YYYY-MM-DD) without a time."""
    if as_of is None:
        return
    date = config_date("scoring.as_of", as_of)
    if date != date.normalize():
        raise ConfigError(f"scoring.as_of: give a date without a time, got {as_of!r}")
