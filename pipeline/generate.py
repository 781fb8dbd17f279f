"""Stage `generate`: simulate customers and write the contract's tables plus ground truth.

Inputs: the `simulator` config; the truth is recorded at the feature cutoffs
(`data.cutoffs`). Outputs: `paths.simulated_dir` (one file per contract table named in
`data.tables`, in `data.format`) and `paths.ground_truth_dir` (true customers, hazards per
cutoff and the hazard calibration; file names in pipeline/artifacts.py), both replaced
atomically. With data that is not simulated (`data.simulated: false`) both folders are
left empty: the stage never writes anywhere else, so it cannot touch a user's data.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from pipeline.artifacts import CALIBRATION, TRUTH_CUSTOMERS, TRUTH_HAZARDS
from pipeline.config import Config
from pipeline.io import TableWriter, atomic_directories, table_path, write_json, write_table
from pipeline.stage import run_stage
from simulator.simulation import prepare_simulation
from simulator.tables import (
    churn_reasons_table,
    customers_table,
    event_tables,
    truth_customers_table,
    truth_hazards_table,
)

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    targets = (Path(cfg.paths.simulated_dir), Path(cfg.paths.ground_truth_dir))
    if not cfg.data.simulated:
        log.info("data=%s is not simulated: nothing to simulate, no ground truth", cfg.data.name)
        with atomic_directories(*targets):
            return
    simulation = prepare_simulation(
        cfg.simulator, cfg.seed, cfg.data.cutoffs.dates()
    )  # explicit dates for simulated data
    log.info("hazard scale by cause: %s", simulation.calibration.hazard_scale)
    stems = {name: stem for name, stem in cfg.data.tables.items() if stem is not None}
    with atomic_directories(*targets) as (raw, truth), ExitStack() as stack:
        writers = {
            name: stack.enter_context(TableWriter(table_path(raw, stem, cfg.data.format)))
            for name, stem in stems.items()
            if name != "competitor_offers"
        }
        truth_customers = stack.enter_context(TableWriter(truth / TRUTH_CUSTOMERS))
        truth_hazards = stack.enter_context(TableWriter(truth / TRUTH_HAZARDS))
        blocks = tqdm(
            simulation.blocks(), total=simulation.n_blocks, desc="simulating", unit="block"
        )
        for block in blocks:
            tables = {"customers": customers_table(block, cfg.simulator, simulation.end_s)}
            tables |= event_tables(block, cfg.simulator)
            tables["churn_reasons"] = churn_reasons_table(
                block, cfg.simulator, cfg.seed, simulation.end_s
            )
            for name, writer in writers.items():
                writer.write(tables[name])
            truth_customers.write(truth_customers_table(block))
            truth_hazards.write(truth_hazards_table(block, simulation.cutoffs))
        if "competitor_offers" in stems:
            write_table(
                simulation.market.offers,
                table_path(raw, stems["competitor_offers"], cfg.data.format),
            )
        write_json(asdict(simulation.calibration), truth / CALIBRATION)


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
