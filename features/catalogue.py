"""The feature catalogue: every feature's name, description, family, dtype and churn cause.

The cause comes from ``features.causes`` in config, a map of fnmatch patterns to causes,
and, for the declared customer attributes, ``data.attribute_causes``. Each feature must
match exactly one pattern and the cause must be a documented one, so a
feature can never silently drop out of (or be counted twice in) the explanations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase

from contract.config import DataConfig
from contract.errors import ConfigError
from features.columns import DECLARED_PREFIX
from features.config import FeaturesConfig


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    description: str
    family: str
    dtype: str
    cause: str


def cause_patterns(features: FeaturesConfig, data: DataConfig) -> dict[str, str]:
    """Feature pattern -> cause: ``features.causes`` and the declared attributes' causes."""
    declared = {f"{DECLARED_PREFIX}{name}": cause for name, cause in data.attribute_causes.items()}
    return features.causes | declared


def assign_causes(names: list[str], patterns: dict[str, str], causes: list[str]) -> dict[str, str]:
    """The cause of each feature name, or ConfigError naming every unmapped feature."""
    unknown = {pattern: cause for pattern, cause in patterns.items() if cause not in causes}
    if unknown:
        raise ConfigError(
            f"features.causes: {unknown} map to unknown causes; the causes are {causes}"
        )
    problems = []
    assigned = {}
    for name in names:
        matches = [pattern for pattern in patterns if fnmatchcase(name, pattern)]
        if len(matches) == 1:
            assigned[name] = patterns[matches[0]]
        elif not matches:
            problems.append(f"{name}: matches no pattern")
        else:
            problems.append(f"{name}: matches several patterns {matches}")
    if problems:
        raise ConfigError(
            "features.causes (and data.attribute_causes, for declared attributes) must map "
            "every feature to exactly one cause:\n  - " + "\n  - ".join(problems)
        )
    return assigned


def catalogue_records(specs: list[FeatureSpec]) -> list[dict[str, str]]:
    return [asdict(spec) for spec in specs]
