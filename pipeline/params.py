"""Compose ``conf/`` into ``params.yaml`` exactly as ``dvc exp run`` does.

``dvc repro`` never composes the Hydra config: it reads ``params.yaml`` as committed.
``make params`` runs this module after every edit of ``conf/``, and a test fails when
the committed file is stale. The YAML is produced with the same calls DVC makes
(Hydra ``compose``, ``OmegaConf.resolve``, ``OmegaConf.to_yaml``), so DVC and this
module write identical bytes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.config import CONF_DIR, DEFAULT_PARAMS, composed, load_config
from pipeline.io import atomic_path
from pipeline.stage import configure_logging

log = logging.getLogger(__name__)


def compose_params(config_dir: Path = CONF_DIR, overrides: list[str] | None = None) -> str:
    """Return the YAML text of the composed configuration."""
    return OmegaConf.to_yaml(composed(config_dir, overrides))


def write_params(output: Path, text: str) -> None:
    """Write ``text`` to ``output`` after checking it against the config schema."""
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
        load_config(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. simulator.n_customers=5000"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_PARAMS)
    args = parser.parse_args()
    configure_logging()
    write_params(args.output, compose_params(overrides=args.overrides))
    log.info("composed %s into %s", CONF_DIR, args.output)


if __name__ == "__main__":
    main()
