"""The validate stage: typed tables and a report, or nothing written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contract.customers import complete_customers
from contract.errors import ConfigError
from contract.validation import ContractViolation, validate_tables
from features.history import ROW_TIME
from pipeline import validate
from tests.contractdata import TABLE_STEMS, VALIDATION, data_config, valid_tables, write_raw
from tests.engines import TemporaryPostgres
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


def test_a_reason_code_without_a_cause_stops_the_stage_and_a_mapped_one_passes(tmp_path):
    cfg = compose_config(tmp_path, "validation.reference_date=2025-06-30")
    tables = valid_tables()
    tables["churn_reasons"]["reason"] = ["MOVED_AWAY"]
    write_raw(tables, Path(cfg.data.dir), "parquet")
    with pytest.raises(ConfigError, match=r"'MOVED_AWAY' \(1 rows\).*data\.reason_causes"):
        validate.run(cfg)
    assert not Path(cfg.paths.validated_dir).exists()
    mapped = compose_config(
        tmp_path, "validation.reference_date=2025-06-30", "+data.reason_causes.MOVED_AWAY=natural"
    )
    validate.run(mapped)
    written = pd.read_parquet(Path(mapped.paths.validated_dir) / "churn_reasons.parquet")
    assert written["reason"].tolist() == ["MOVED_AWAY"]  # the code as given, mapped when read


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_chunks_give_the_tables_one_read_gives(tmp_path, fmt):
    """Read, checked and written a chunk at a time, the tables are the same."""
    tables = {}
    for chunk_rows in (1, 1000):
        cfg = compose_config(
            tmp_path / str(chunk_rows),
            "validation.reference_date=2025-06-30",
            f"validation.chunk_rows={chunk_rows}",
            f"data.format={fmt}",
        )
        write_raw(valid_tables(), Path(cfg.data.dir), fmt)
        validate.run(cfg)
        out = Path(cfg.paths.validated_dir)
        tables[chunk_rows] = {p.stem: pd.read_parquet(p) for p in sorted(out.iterdir())}
    assert tables[1].keys() == set(TABLE_STEMS)
    for name, table in tables[1000].items():
        pd.testing.assert_frame_equal(tables[1][name], table)
        assert pd.api.types.is_datetime64_dtype(
            table[{**ROW_TIME, "customers": "signup_date", "churn_reasons": "stated_at"}[name]]
        )


def test_chunks_report_every_row_by_its_number_in_the_file(tmp_path):
    """Violations in several chunks add up, quoted by row number in the whole file, and a
    row repeating one of another chunk is a duplicate."""
    cfg = compose_config(
        tmp_path,
        "validation.reference_date=2025-06-30",
        "validation.chunk_rows=2",
        "validation.max_examples=5",
    )
    bad = valid_tables()
    transactions = bad["transactions"]
    transactions.loc[[0, 3], "amount"] = -1.0  # the first and the second chunk
    bad["transactions"] = pd.concat([transactions, transactions.iloc[[1]]], ignore_index=True)
    write_raw(bad, Path(cfg.data.dir), "parquet")
    with pytest.raises(ContractViolation) as caught:
        validate.run(cfg)
    found = {(v.column, v.check): v for v in caught.value.violations}
    negative = found[("amount", "greater_than_or_equal_to(0)")]
    assert negative.n_rows == 2
    assert [example.split(" (")[0] for example in negative.examples] == ["row 0", "row 3"]
    duplicate = found[("(all columns)", "no duplicated rows")]
    assert duplicate.n_rows == 1
    assert duplicate.examples[0].startswith("row 4: customer_id=1, timestamp=2024-02-05 11:30")


def test_a_customer_id_repeated_in_another_chunk_is_found(tmp_path):
    """Customers are read in chunks too: uniqueness is checked over the whole table, and
    the other tables are not checked against customers that failed."""
    cfg = compose_config(
        tmp_path, "validation.reference_date=2025-06-30", "validation.chunk_rows=1"
    )
    bad = valid_tables()
    bad["customers"].loc[2, "customer_id"] = 1
    write_raw(bad, Path(cfg.data.dir), "parquet")
    with pytest.raises(ContractViolation) as caught:
        validate.run(cfg)
    (violation,) = caught.value.violations
    assert (violation.table, violation.column, violation.check) == (
        "customers",
        "customer_id",
        "unique values",
    )
    assert violation.examples == ("row 0 (customer_id=1): 1", "row 2 (customer_id=1): 1")


def test_unknown_customers_are_found_in_every_chunk(tmp_path):
    cfg = compose_config(
        tmp_path, "validation.reference_date=2025-06-30", "validation.chunk_rows=1"
    )
    bad = valid_tables()
    bad["transactions"].loc[[0, 3], "customer_id"] = [98, 99]
    write_raw(bad, Path(cfg.data.dir), "parquet")
    with pytest.raises(ContractViolation) as caught:
        validate.run(cfg)
    (violation,) = caught.value.violations
    assert (violation.table, violation.check, violation.n_rows) == (
        "transactions",
        "customer_id exists in customers",
        2,
    )
    assert violation.examples == ("row 0 (customer_id=98): 98", "row 3 (customer_id=99): 99")


@pytest.mark.parametrize("given", ["no customers table", "customers without signup_date"])
def test_customers_and_signup_dates_derive_from_events_read_in_chunks(tmp_path, given):
    """The stage derives what complete_customers derives in memory, from its files."""
    tables = valid_tables()
    data = data_config()
    if given == "no customers table":
        del tables["customers"]
        data = data_config(tables={**TABLE_STEMS, "customers": None})
        overrides = ["data.tables.customers=null"]
    else:
        tables["customers"] = tables["customers"].drop(columns="signup_date")
        overrides = []
    cfg = compose_config(
        tmp_path, "validation.reference_date=2025-06-30", "validation.chunk_rows=1", *overrides
    )
    write_raw(tables, Path(cfg.data.dir), "parquet")
    validate.run(cfg)
    written = pd.read_parquet(Path(cfg.paths.validated_dir) / "customers.parquet")
    expected = complete_customers(validate_tables(tables, data, VALIDATION), data)[0]
    # Files hold times in microseconds; the tables in memory in nanoseconds.
    pd.testing.assert_frame_equal(written, expected["customers"].astype(written.dtypes))
    assert written["signup_date"].notna().all()


@pytest.mark.postgres
def test_database_tables_are_validated_a_chunk_at_a_time(tmp_path, monkeypatch):
    """With engine=postgres the stage reads the tables engine.tables names from a real
    server, two rows at a time: valid tables give what the files give; a bad row is
    reported by table, column and value, and nothing is written."""
    files = compose_config(tmp_path / "files", "validation.reference_date=2025-06-30")
    write_raw(valid_tables(), Path(files.data.dir), "parquet")
    validate.run(files)
    from_files = Path(files.paths.validated_dir)
    server = TemporaryPostgres().start()
    try:
        con = server.connect()
        for path in from_files.glob("*.parquet"):
            con.create_table(path.stem, pd.read_parquet(path))
        monkeypatch.setenv("TEST_CHURN_DATABASE_URL", server.url)
        cfg = compose_config(
            tmp_path / "database",
            "validation.reference_date=2025-06-30",
            "validation.chunk_rows=2",
            "engine=postgres",
            "engine.url_env=TEST_CHURN_DATABASE_URL",
        )
        validate.run(cfg)
        for path in sorted(from_files.glob("*.parquet")):
            expected = pd.read_parquet(path)
            found = pd.read_parquet(Path(cfg.paths.validated_dir) / path.name)
            in_order = found.sort_values(list(found.columns), ignore_index=True)
            expected = expected.sort_values(list(expected.columns), ignore_index=True)
            pd.testing.assert_frame_equal(in_order, expected)
        con.raw_sql("UPDATE transactions SET amount = -5 WHERE customer_id = 2")
        con.disconnect()
        bad = compose_config(
            tmp_path / "bad",
            "validation.reference_date=2025-06-30",
            "validation.chunk_rows=2",
            "engine=postgres",
            "engine.url_env=TEST_CHURN_DATABASE_URL",
        )
        with pytest.raises(ContractViolation) as caught:
            validate.run(bad)
    finally:
        server.stop()
    found = {(v.table, v.column, v.check): v.examples for v in caught.value.violations}
    assert set(found) == {
        ("transactions", "amount", "greater_than_or_equal_to(0)"),
        ("transactions", "discount", "discount not above amount"),
    }
    assert all("customer_id=2" in e and "-5.0" in e for e in sum(found.values(), ()))
    assert not Path(bad.paths.validated_dir).exists()
