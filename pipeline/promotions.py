"""`make promotions`: the audit trail of the registry alias, newest first.

Every `make promote` decision, promoted or kept, with the versions compared, their scores
on the same held-out rows, the bootstrap lower bound of the difference and the reason
(the runs of ``tracking.promotion_experiment``).
"""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.config import Config
from pipeline.stage import run_stage
from pipeline.tracking import promotion_history

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    history = promotion_history(cfg.tracking)
    if history.empty:
        experiment = cfg.tracking.promotion_experiment
        log.info("no promotion recorded yet in %r: run make promote", experiment)
        return
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(history.to_string(index=False))  # the listing is this command's output


def main() -> None:
    run_stage(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
