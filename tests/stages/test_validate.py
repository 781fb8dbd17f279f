"""The validate stage: typed tables and a report, or nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.validation import ContractViolation
from pipeline import validate
from tests.contractdata import TABLE_STEMS, valid_tables, write_raw
from tests.support import compose_config


def test_validate_stage_writes_typed_tables_and_report(tmp_path):
    cfg = compose_config(
        tmp_path, "validation.reference_date=2025-06-30", "data.tables.surveys=null"
    )
    write_raw(valid_tables(), Path(cfg.data.dir), "parquet")
    validate.run(cfg)
    assert {p.stem for p in Path(cfg.paths.validated_dir).iterdir()} == set(TABLE_STEMS) - {
        "surveys"
    }
    report = (Path(cfg.paths.reports_dir) / "validation.json").read_text()
    assert '"absent_tables": [\n    "surveys"\n  ]' in report


def test_failed_validation_writes_nothing_and_keeps_previous_output(tmp_path):
    cfg = compose_config(tmp_path, "validation.reference_date=2025-06-30")
    raw = Path(cfg.data.dir)
    write_raw(valid_tables(), raw, "parquet")
    validate.run(cfg)
    before = {p.name: p.read_bytes() for p in Path(cfg.paths.validated_dir).iterdir()}
    bad = valid_tables()
    bad["transactions"].loc[0, "amount"] = -1.0
    write_raw(bad, raw, "parquet")
    with pytest.raises(ContractViolation):
        validate.run(cfg)
    after = {p.name: p.read_bytes() for p in Path(cfg.paths.validated_dir).iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
