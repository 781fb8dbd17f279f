"""Configuration: params.yaml is the composed conf/, and the schema rejects bad keys."""

from __future__ import annotations

import re

import pytest

from contract.errors import ConfigError
from pipeline.config import load_config
from pipeline.params import compose_params
from tests.support import REPO


def test_committed_params_yaml_is_conf_composed():
    committed = (REPO / "params.yaml").read_text(encoding="utf-8")
    assert committed == compose_params(REPO / "conf"), "params.yaml is stale: run `make params`"


def test_composed_config_loads_into_the_schema():
    cfg = load_config(REPO / "params.yaml")
    assert cfg.data.dir == cfg.paths.simulated_dir
    assert sum(cfg.simulator.churn.cause_shares.values()) == pytest.approx(1.0)


def _params_with(tmp_path, old: str, new: str):
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "params.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "  n_customers:", "  n_customer:", "full_key: simulator.n_customer\n", id="misspelt"
        ),
        pytest.param(
            "  n_weeks: 260", "  n_weeks: five years", "full_key: simulator.n_weeks", id="type"
        ),
        pytest.param("seed: 20261123\n", "", "missing mandatory value: seed", id="missing"),
        pytest.param(
            "  format: parquet",
            "  format: xlsx",
            "data.format must be 'parquet' or 'csv'",
            id="format",
        ),
        pytest.param(
            "\nn_jobs: null\n", "\nn_jobs: 0\n", "n_jobs: 0 threads; set 1 or more", id="threads"
        ),
        pytest.param(
            "  max_training_rows: 1000000",
            "  max_training_rows: 0",
            "training.max_training_rows: 0; set a positive row count",
            id="max_training_rows",
        ),
    ],
)
def test_bad_params_fail_naming_the_key(tmp_path, old, new, message):
    path = _params_with(tmp_path, old, new)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)
