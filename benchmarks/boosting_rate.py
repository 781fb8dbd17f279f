"""What LightGBM's learning rate and early-stopping patience cost and buy, against seed noise.

Reads the features of a params file (``params.yaml``: the default data as `dvc repro`
wrote them; or the kept data of `make bench-train`) and fits the configured main model
on the train stage's out-of-time split once per (learning rate, patience, seed), each
calibrated as the stage calibrates it. For each setting: the trees early stopping kept,
the seconds of fit and calibration, and the test cutoff's ROC-AUC, PR-AUC and log loss,
as the mean over the seeds with their standard deviation beside the AUCs: a difference
between settings smaller than that spread is seed noise (row and column bagging), not
the setting. Results go to benchmarks/results/boosting_rate.md.

    make bench-boosting                                        # the default data
    make bench-boosting PARAMS=/tmp/bt/100000/params-this.yaml  # bench-train --keep /tmp/bt
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from default_data import split_features

from models.estimators import best_iteration, labels
from models.fit import train_model
from models.metrics import evaluate
from models.split import sample_stayers
from pipeline.config import Config, load_config

RESULTS = Path(__file__).parent / "results" / "boosting_rate.md"


def fit_once(
    cfg: Config,
    catalogue: list[dict],
    parts: dict[str, pd.DataFrame],
    weight: np.ndarray | None,
    rate: float,
    patience: int,
    seed: int,
) -> dict:
    """The main model fitted with ``rate`` and ``patience`` on ``seed``, scored on the
    test cutoff."""
    model = replace(
        cfg.model,
        early_stopping_rounds=patience,
        log_every_trees=None,
        params={**cfg.model.params, "learning_rate": rate},
    )
    started = time.perf_counter()
    trained = train_model(model, parts, catalogue, cfg.training.calibration, seed, weight)
    seconds = time.perf_counter() - started
    evaluation = cfg.training.evaluation
    scores = evaluate(
        labels(parts["test"]),
        trained.test_probability,
        evaluation.top_fractions,
        evaluation.calibration_bins,
    )
    return {
        "learning rate": rate,
        "patience": patience,
        "seed": seed,
        "trees": best_iteration(trained.model),
        "seconds": seconds,
        **{name: scores[name] for name in ("roc_auc", "pr_auc", "log_loss")},
    }


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting: mean trees, seconds and metrics over the seeds, the AUCs' spread."""
    by_setting = runs.groupby(["learning rate", "patience"], sort=False)
    table = by_setting[["trees", "seconds", "roc_auc", "pr_auc", "log_loss"]].mean()
    table["roc_auc sd"] = by_setting["roc_auc"].std(ddof=0)
    table["pr_auc sd"] = by_setting["pr_auc"].std(ddof=0)
    table["seeds"] = by_setting.size()
    columns = ["seeds", "trees", "seconds", "roc_auc", "roc_auc sd", "pr_auc", "pr_auc sd"]
    return table[[*columns, "log_loss"]].round(
        {"trees": 0, "seconds": 1, "log_loss": 5} | dict.fromkeys(columns[3:], 4)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--rates", type=float, nargs="+", default=[0.03, 0.05, 0.1])
    parser.add_argument("--patience", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    cfg = load_config(args.params)
    catalogue, _, parts = split_features(cfg)
    # The training rows the stage fits: within the row budget, as it samples them.
    budget = cfg.training.max_training_rows
    parts["train"], weight = sample_stayers(parts["train"], budget, cfg.seed)
    runs = []
    for rate in args.rates:
        for patience in args.patience:
            for seed in args.seeds:
                runs.append(fit_once(cfg, catalogue, parts, weight, rate, patience, seed))
                print(runs[-1], flush=True)
    table = summary(pd.DataFrame(runs)).reset_index()
    rows = {name: len(part) for name, part in parts.items()}
    text = (
        f"Measured {date.today()} with `{' '.join(['python', *sys.argv])}` on "
        f"{cfg.data.name} data: {rows['train']:,} training rows, {rows['test']:,} test rows.\n\n"
        f"{table.to_markdown(index=False)}\n"
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
