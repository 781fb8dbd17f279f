"""Stage `validate`: check the input tables against the data contract.

Inputs: the tables named in `data.tables`, under `data.dir`, mapped onto the contract by
`data.columns` and `data.values`. Outputs: `paths.validated_dir` (every present table,
typed and restricted to contract columns, as Parquet, plus the customers table derived from
the events when the data has none) and `paths.validation_report` (rows and columns per
table, absent tables, what was derived). On any contract violation it lists them all,
exits non-zero and writes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from contract.customers import complete_customers
from contract.mapping import map_to_contract
from contract.purchases import purchases_from_lines
from contract.validation import validate_tables
from pipeline.config import Config
from pipeline.io import atomic_path, read_input_tables, write_json
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    tables = map_to_contract(read_input_tables(cfg.data), cfg.data)
    absent = sorted(name for name, stem in cfg.data.tables.items() if stem is None)
    if absent:
        log.warning("tables absent: %s; features built from them will be missing", absent)
    validated = validate_tables(tables, cfg.data, cfg.validation)
    derived = []
    if cfg.data.transactions_are_lines and "transactions" in validated:
        validated["transactions"], note = purchases_from_lines(validated["transactions"])
        derived.append(note)
    validated, customers_note = complete_customers(validated, cfg.data)
    derived += customers_note
    for note in derived:
        log.info("%s", note)
    with atomic_path(Path(cfg.paths.validated_dir)) as out:
        out.mkdir()
        for name, frame in validated.items():
            # Microsecond times: what every engine reads (Spark refuses nanoseconds).
            frame.to_parquet(
                out / f"{name}.parquet",
                index=False,
                coerce_timestamps="us",
                allow_truncated_timestamps=True,
            )
    report = {
        "tables": {
            name: {"rows": len(frame), "columns": list(frame.columns)}
            for name, frame in validated.items()
        },
        "absent_tables": absent,
        "derived": derived,
    }
    write_json(report, Path(cfg.paths.validation_report))
    log.info("validated %s", {name: len(frame) for name, frame in validated.items()})


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
