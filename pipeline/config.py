"""The root configuration: every section's schema, loaded from the composed ``params.yaml``.

``conf/`` (Hydra) is the single source of parameter values; ``make params`` and
``dvc exp run`` compose it into ``params.yaml``, which DVC tracks and every stage reads.
Each package owns the schema of its section (``contract.config``, ``features.config``,
...); this module adds the sections only the stages read (output paths, MLflow) and puts
them together. A misspelt, missing or mistyped key fails at load time with the key's
name, before any stage does work. The dataclasses carry no defaults, so a value can only
come from ``conf/``.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from contract.config import CauseConfig, DataConfig, ValidationConfig
from contract.errors import ConfigError
from features.config import FeaturesConfig
from models.config import ExplainConfig, ModelConfig, TrainingConfig
from scoring.config import ScoringConfig
from simulator.config import SimulatorConfig

DEFAULT_PARAMS = Path("params.yaml")
CONF_DIR = Path("conf")


@dataclass
class PathsConfig:
    """Every location the stages write (conf/paths); dvc.yaml reaches the same keys."""

    simulated_dir: str = MISSING
    ground_truth_dir: str = MISSING
    validated_dir: str = MISSING
    features_dir: str = MISSING
    btyd_dir: str = MISSING
    models_dir: str = MISSING
    explanations_dir: str = MISSING
    retention_dir: str = MISSING
    reports_dir: str = MISSING
    validation_report: str = MISSING
    features_report: str = MISSING
    train_report: str = MISSING
    train_plots: str = MISSING
    explain_report: str = MISSING
    explain_plots: str = MISSING
    allow_outside_repository: bool = MISSING


@dataclass
class SparkConfig:
    """The Spark session of the ``spark`` engine (conf/engine/spark.yaml)."""

    master: str = MISSING
    settings: dict[str, str] = MISSING


@dataclass
class EngineConfig:
    """The engine that computes features and labels (conf/engine)."""

    name: str = MISSING
    threads: int | None = MISSING
    memory_limit: str | None = MISSING
    customer_cutoffs_per_query: int = MISSING
    url_env: str | None = MISSING
    tables: dict[str, str] | None = MISSING
    spark: SparkConfig | None = MISSING

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ConfigError(f"engine.name: {self.name!r} is not one of {ENGINES}")
        if self.customer_cutoffs_per_query <= 0:
            raise ConfigError("engine.customer_cutoffs_per_query must be > 0")
        if self.name == "postgres" and not (self.url_env and self.tables):
            raise ConfigError(
                "engine: postgres needs url_env and tables (conf/engine/postgres.yaml)"
            )
        if self.name == "spark" and self.spark is None:
            raise ConfigError("engine: spark needs its spark section (conf/engine/spark.yaml)")


ENGINES = ("duckdb", "postgres", "spark")


@dataclass
class RegistryConfig:
    model_name: str = MISSING
    alias: str = MISSING


@dataclass
class PromotionConfig:
    """When `make promote` moves the alias (conf/tracking)."""

    candidate: str | None = MISSING
    metric: str = MISSING
    min_improvement: float = MISSING
    confidence: float = MISSING
    bootstrap_samples: int = MISSING


@dataclass
class TrackingConfig:
    """Where MLflow runs go and when the registry alias moves (conf/tracking)."""

    tracking_uri: str = MISSING
    ui_url: str = MISSING
    training_experiment: str = MISSING
    scoring_experiment: str = MISSING
    promotion_experiment: str = MISSING
    registry: RegistryConfig = MISSING
    promotion: PromotionConfig = MISSING


@dataclass
class Config:
    seed: int = MISSING
    n_jobs: int | None = MISSING
    paths: PathsConfig = MISSING
    data: DataConfig = MISSING
    simulator: SimulatorConfig = MISSING
    validation: ValidationConfig = MISSING
    causes: dict[str, CauseConfig] = MISSING
    features: FeaturesConfig = MISSING
    engine: EngineConfig = MISSING
    model: ModelConfig = MISSING
    training: TrainingConfig = MISSING
    explain: ExplainConfig = MISSING
    scoring: ScoringConfig = MISSING
    tracking: TrackingConfig = MISSING

    def __post_init__(self) -> None:
        if self.n_jobs is not None and self.n_jobs < 1:
            raise ConfigError(
                f"n_jobs: {self.n_jobs} threads; set 1 or more, or null for one per core"
            )


def composed(config_dir: Path = CONF_DIR, overrides: list[str] | None = None) -> DictConfig:
    """``config_dir`` composed by Hydra with ``overrides``, interpolations resolved: what
    ``make params`` and ``dvc exp run`` write to params.yaml."""
    with initialize_config_dir(str(config_dir.resolve()), version_base=None):
        config = compose(config_name="config", overrides=overrides or [])
    OmegaConf.resolve(config)
    return config


def load_config(
    path: Path = DEFAULT_PARAMS, overrides: list[str] | None = None, config_dir: Path = CONF_DIR
) -> Config:
    """Read ``path`` (a composed params.yaml), apply Hydra ``overrides`` and check the
    result against the schema.

    ``key.path=value`` changes one value of ``path``; ``group=option`` (``model=logreg``:
    a config group of ``config_dir``) replaces that whole section with the option as Hydra
    composes it. Overrides are parsed by Hydra's own parser, so quoting and lists work as
    they do for ``dvc exp run -S``.
    """
    try:
        parsed = OverridesParser.create().parse_overrides(overrides or [])
    except HydraException as err:
        raise ConfigError(
            f"{' '.join(overrides or [])}: not a Hydra override ({err}); quote a value "
            "with special characters, e.g. data.date_format='%d/%m/%Y'"
        ) from err
    try:
        loaded = OmegaConf.load(path)
        _apply(loaded, parsed, config_dir)
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), loaded))
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"{path} {' '.join(overrides or [])}: {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(
            f"{path}: not valid YAML ({err}); recompose it from conf/ with `make params`"
        ) from err
    return config


def _apply(config: DictConfig, overrides: list[Override], config_dir: Path) -> None:
    """Apply parsed overrides to ``config`` in place: a config group's option replaces the
    group's section, composed by Hydra; any other override sets one value."""
    for override in overrides:
        if override.is_sweep_override() or override.is_delete():
            raise ConfigError(
                f"{override.input_line}: a stage run takes one value per key; sweeps and "
                "deletions are not supported here"
            )
    groups = [o for o in overrides if (config_dir / o.key_or_group).is_dir()]
    if groups:
        options = composed(config_dir, [o.input_line for o in groups])
        for override in groups:
            config[override.key_or_group] = options[override.key_or_group]
    for override in overrides:
        if override not in groups:
            OmegaConf.update(config, override.key_or_group, override.value(), merge=False)


def config_from_cli(description: str, shorthands: dict[str, str] | None = None) -> Config:
    """Parse a stage's command line (``--params``, then Hydra overrides: ``key.path=value``
    or ``group=option``) and load the configuration. ``shorthands`` maps short keys to full
    ones (as_of -> scoring.as_of)."""
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
        help="Hydra overrides: a value (paths.retention_dir=/srv/lists) or a config group "
        "of conf/ (model=logreg)",
    )
    args = parser.parse_args()
    overrides = [_expand(override, shorthands or {}) for override in args.overrides]
    config = load_config(args.params, overrides)
    check_output_paths(config.paths, Path.cwd())
    return config


def check_output_paths(paths: PathsConfig, repository: Path) -> None:
    """Every location in ``paths`` inside ``repository`` (where the stages run), unless
    ``paths.allow_outside_repository``: a stage replaces what it finds at its outputs, so a
    location elsewhere (a typo like ``../lists``) must be chosen on purpose."""
    if paths.allow_outside_repository:
        return
    root = repository.resolve()
    outside = {
        key: str(Path(value).resolve())
        for key, value in asdict(paths).items()
        if isinstance(value, str) and not Path(value).resolve().is_relative_to(root)
    }
    if outside:
        listed = ", ".join(f"paths.{key}={where}" for key, where in outside.items())
        raise ConfigError(
            f"{listed}: outside the repository {root}, and a stage replaces what is at its "
            "outputs; set paths.allow_outside_repository=true to write there on purpose"
        )


def _expand(override: str, shorthands: dict[str, str]) -> str:
    key, sep, value = override.partition("=")
    if not sep:
        raise ConfigError(f"{override!r}: overrides look like key=value")
    return f"{shorthands.get(key, key)}={value}"
