"""Stage `generate`: simulate customers and write the contract's tables plus ground truth.

Inputs: the `simulator` config. Outputs: `paths.raw_dir` (one file per contract table
named in `data.tables`, in `data.format`) and `paths.ground_truth_dir` (customers.parquet,
hazards.parquet, calibration.json), both replaced atomically.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from pipeline.config import Config
from pipeline.io import TableWriter, atomic_path, table_path, write_json, write_table
from pipeline.simulator.run import prepare_simulation
from pipeline.simulator.tables import (
    customers_table,
    event_tables,
    truth_customers_table,
    truth_hazards_table,
)
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    simulation = prepare_simulation(cfg.simulator, cfg.seed)
    log.info("hazard scale by cause: %s", simulation.calibration.hazard_scale)
    stems = {name: stem for name, stem in cfg.data.tables.items() if stem is not None}
    with ExitStack() as stack:
        raw = stack.enter_context(atomic_path(Path(cfg.paths.raw_dir)))
        truth = stack.enter_context(atomic_path(Path(cfg.paths.ground_truth_dir)))
        raw.mkdir()
        truth.mkdir()
        writers = {
            name: stack.enter_context(TableWriter(table_path(raw, stem, cfg.data.format)))
            for name, stem in stems.items()
            if name != "competitor_offers"
        }
        truth_customers = stack.enter_context(TableWriter(truth / "customers.parquet"))
        truth_hazards = stack.enter_context(TableWriter(truth / "hazards.parquet"))
        blocks = tqdm(
            simulation.blocks(), total=simulation.n_blocks, desc="simulating", unit="block"
        )
        for block in blocks:
            tables = {"customers": customers_table(block, cfg.simulator, simulation.end_s)}
            tables |= event_tables(block, cfg.simulator)
            for name, writer in writers.items():
                writer.write(tables[name])
            truth_customers.write(truth_customers_table(block))
            truth_hazards.write(truth_hazards_table(block, simulation.cutoffs))
        if "competitor_offers" in stems:
            write_table(
                simulation.market.offers,
                table_path(raw, stems["competitor_offers"], cfg.data.format),
            )
        write_json(asdict(simulation.calibration), truth / "calibration.json")


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
