"""Shared entry-point behaviour of the pipeline's stages."""

from __future__ import annotations

import errno
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from contract.errors import UserError
from pipeline.config import Config, config_from_cli

log = logging.getLogger("pipeline")

# Errors a user can fix from the message alone: no traceback, exit code 1.
USER_ERRORS = (UserError, FileNotFoundError)
# Writing an output failed for a reason outside the pipeline: a full disk or quota, a
# read-only or forbidden folder.
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """One format for the pipeline, MLflow, LightGBM (its training progress) and Python
    warnings, on standard error."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.captureWarnings(True)
    # MLflow's database migrations announce every step of an unchanged schema at INFO.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # LightGBM's log goes to ours in the stages that import it (train, explain, score);
    # importing it here would cost every other stage 1.3 s.
    lightgbm = sys.modules.get("lightgbm")
    if lightgbm is not None:
        lightgbm.register_logger(logging.getLogger("lightgbm"))


class Timings:
    """Seconds per step of a stage's run, for its record and MLflow."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        log.info("%s: %.1f s", name, self.seconds[name])


def run_stage(
    run: Callable[[Config], None], description: str, shorthands: dict[str, str] | None = None
) -> None:
    """Parse the command line, load the config, run the stage and time it, with the BLAS
    and OpenMP pools of the process held to ``n_jobs`` threads (None: one per core)."""
    configure_logging()
    started = time.perf_counter()
    try:
        cfg = config_from_cli(description, shorthands)
        with threadpool_limits(limits=cfg.n_jobs):
            run(cfg)
    except USER_ERRORS as err:
        log.error("%s", err)
        sys.exit(1)
    except OSError as err:
        if err.errno not in WRITE_ERRORS:
            raise
        # Outputs are replaced atomically: a failed write leaves the previous ones.
        log.error(
            "cannot write %s: %s; free space or fix the folder's permissions and run again "
            "(the previous outputs are unchanged)",
            err.filename or "an output",
            err.strerror,
        )
        sys.exit(1)
    log.info("done in %.1f s", time.perf_counter() - started)
