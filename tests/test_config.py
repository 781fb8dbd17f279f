"""Configuration: params.yaml is the composed conf/, and the schema rejects bad keys."""

from __future__ import annotations

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.params import compose_params

from .conftest import REPO


def test_committed_params_yaml_is_conf_composed():
    committed = (REPO / "params.yaml").read_text(encoding="utf-8")
    assert committed == compose_params(REPO / "conf"), "params.yaml is stale: run `make params`"


def test_composed_config_loads_into_the_schema():
    cfg = load_config(REPO / "params.yaml")
    assert cfg.data.dir == cfg.paths.raw_dir
    assert sum(cfg.simulator.churn.cause_shares.values()) == pytest.approx(1.0)


def _params_with(tmp_path, old: str, new: str):
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "params.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_misspelt_key_fails_naming_it(tmp_path):
    path = _params_with(tmp_path, "  n_customers:", "  n_customer:")
    with pytest.raises(ConfigError, match="n_customer"):
        load_config(path)


def test_wrong_type_fails_naming_the_key(tmp_path):
    path = _params_with(tmp_path, "  n_weeks: 156", "  n_weeks: three years")
    with pytest.raises(ConfigError, match="n_weeks"):
        load_config(path)


def test_missing_key_fails_naming_it(tmp_path):
    path = _params_with(tmp_path, "seed: 20261123\n", "")
    with pytest.raises(ConfigError, match="seed"):
        load_config(path)


def test_unknown_data_format_is_rejected(tmp_path):
    path = _params_with(tmp_path, "  format: parquet", "  format: xlsx")
    with pytest.raises(ConfigError, match=r"data\.format must be 'parquet' or 'csv'"):
        load_config(path)
