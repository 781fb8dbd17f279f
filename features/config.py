"""Configuration of the point-in-time features and labels (`features` in conf/)."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from contract.errors import ConfigError

CHURN_DEFINITIONS = ("contractual", "non_contractual")


@dataclass
class LabelConfig:
    horizon_days: int = MISSING
    confirmation_days: int = MISSING
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
        if self.confirmation_days <= 0:
            raise ConfigError(
                "features.label.confirmation_days must be > 0: the non-contractual label is a "
                "silence of that many days after the horizon"
            )

    @property
    def lookahead_days(self) -> int:
        """How far past its cutoff a label looks: the horizon and its confirmation."""
        return self.horizon_days + self.confirmation_days


@dataclass
class LifecycleRulesConfig:
    cultivation_days: int = MISSING
    trend_window_days: int = MISSING
    decline_trend: float = MISSING
    decline_overdue_ratio: float = MISSING
    growth_days: int = MISSING


CUTOFF_SETS = ("split", "all")


@dataclass
class FeaturesConfig:
    observed_until: str | None = MISSING
    cutoffs: str = MISSING
    label: LabelConfig = MISSING
    windows_days: list[int] = MISSING
    trend_windows_days: list[int] = MISSING
    payment_grace_days: int = MISSING
    lifecycle: LifecycleRulesConfig = MISSING
    causes: dict[str, str] = MISSING

    def __post_init__(self) -> None:
        if self.cutoffs not in CUTOFF_SETS:
            raise ConfigError(f"features.cutoffs: use one of {CUTOFF_SETS}, got {self.cutoffs!r}")
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
