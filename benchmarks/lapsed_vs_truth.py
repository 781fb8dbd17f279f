"""Who is already gone: the prevention lists and the win-back list against the truth.

Simulated data only. The pipeline's model (data/models, from `make repro`) scores the
customers as of the test cutoff twice, with the lapsed rule (scoring.lapsed) as
configured and switched off (p_alive_below 0). The simulator's ground truth says who had
truly left before that date. Reported: how many customers on the prevention lists had
already left, how long before, and how precise the lapsed flag and the win-back list are;
then, for other thresholds, how many of those already gone would stay on the prevention
lists and how many customers still there the flag would take off them (exact without
budgets: the rule takes customers off the lists and changes nobody else's rank), with the
purchase model's P(alive) and with the best one a purchase log allows, from the
customers' true rates (simulator/oracle.py, observable_gone_probability).
Results go to benchmarks/results/lapsed_vs_truth.md.

    python benchmarks/lapsed_vs_truth.py
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from value_at_risk import scored_customers

from features.columns import DEFINITION, KEYS
from features.history import customer_ranges
from pipeline import score
from pipeline.artifacts import (
    EXCLUDED,
    FEATURES,
    PREDICTIONS,
    TRUTH_CUSTOMERS,
    WIN_BACK,
    ground_truth_dir,
)
from pipeline.config import Config, load_config
from pipeline.engine import validated_history
from pipeline.io import read_ground_truth
from scoring.outlook import purchase_outlook
from simulator.oracle import observable_gone_probability

RESULTS = Path(__file__).parent / "results" / "lapsed_vs_truth.md"


def score_as_of(cfg: Config, day: str, p_alive_below: float, workdir: Path) -> Path:
    """Score as of ``day`` with the pipeline's model; returns the run's folder."""
    retention_dir = workdir / f"p_alive_below-{p_alive_below}"
    lapsed = replace(cfg.scoring.lapsed, p_alive_below=p_alive_below)
    run_cfg = replace(
        cfg,
        paths=replace(cfg.paths, retention_dir=str(retention_dir)),
        scoring=replace(cfg.scoring, as_of=day, model_source="pipeline", lapsed=lapsed),
        tracking=replace(cfg.tracking, tracking_uri=f"sqlite:///{workdir}/mlflow.db"),
    )
    score.run(run_cfg)
    return retention_dir / day


def gone_on(customers: pd.DataFrame) -> dict[str, float]:
    """How many of ``customers`` had truly left, and the median days since."""
    gone = customers["days_gone"].notna()
    return {
        "customers": len(customers),
        "truly gone before the date": int(gone.sum()),
        "share": float(gone.mean()) if len(customers) else float("nan"),
        "median days since leaving": float(customers.loc[gone, "days_gone"].median()),
    }


SWEEP = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def threshold_sweep(listed: pd.DataFrame, alive: np.ndarray) -> pd.DataFrame:
    """For each threshold on ``alive`` (P(alive) of each ``listed`` row): the customers of
    ``listed`` (the lists without the rule) it flags, those already gone it leaves on the
    lists and those still there it takes off."""
    non_contractual = (listed["churn_definition"] == "non_contractual").to_numpy()
    gone = listed["days_gone"].notna().to_numpy()
    rows = []
    for threshold in SWEEP:
        flagged = non_contractual & (alive < threshold)
        rows.append(
            {
                "p_alive_below": threshold,
                "flagged": int(flagged.sum()),
                "gone, left on the lists": int((gone & ~flagged).sum()),
                "share of the lists": float((gone & ~flagged).sum() / max((~flagged).sum(), 1)),
                "still there, taken off": int((flagged & ~gone).sum()),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    cfg = load_config()
    truth_dir = ground_truth_dir(cfg.paths.ground_truth_dir, cfg.data)
    if truth_dir is None:
        raise SystemExit("needs the simulator's data and ground truth: run `make repro` first")
    as_of = pd.read_parquet(Path(cfg.paths.models_dir) / PREDICTIONS)["cutoff"].iloc[0]
    day = str(as_of.date())
    truth = pd.read_parquet(truth_dir / TRUTH_CUSTOMERS, columns=["customer_id", "churn_time"])
    left = truth["churn_time"] < as_of
    truth["days_gone"] = ((as_of - truth["churn_time"]).dt.days).where(left)
    with tempfile.TemporaryDirectory(prefix="lapsed-") as workdir:
        unflagged = score_as_of(cfg, day, 0.0, Path(workdir))
        without = scored_customers(unflagged).merge(truth, on="customer_id")
        folder = score_as_of(cfg, day, cfg.scoring.lapsed.p_alive_below, Path(workdir))
        scored = scored_customers(folder).merge(truth, on="customer_id")
        excluded = pd.read_parquet(folder / f"{EXCLUDED}.parquet")
        lapsed = excluded[excluded["exclusion"] == "lapsed"].merge(truth, on="customer_id")
        win_back = pd.read_parquet(folder / f"{WIN_BACK}.parquet").merge(truth, on="customer_id")
    table = {
        "prevention lists, without the lapsed rule": gone_on(without[without["listed"]]),
        "prevention lists, with it": gone_on(scored[scored["listed"]]),
        "lapsed (excluded from prevention)": gone_on(lapsed),
        "win-back list": gone_on(win_back),
        "every scored customer": gone_on(scored),
    }
    frame = pd.DataFrame(table).T
    with validated_history(cfg) as history:
        scoring = cfg.scoring
        outlook = purchase_outlook(
            history,
            as_of,
            scoring.purchase_model,
            1,
            scoring.purchase_model_fit_customers,
            cfg.seed,
            customer_ranges(history, cfg.engine.customer_cutoffs_per_query),
        )
    features = pd.read_parquet(
        Path(cfg.paths.features_dir) / FEATURES,
        columns=[*KEYS, DEFINITION, "recency_days", "tenure_days"],
        filters=[("cutoff", "==", as_of)],
    )
    listed = without[without["listed"]].merge(features, on="customer_id")
    btyd_alive = outlook["p_alive"].reindex(listed["customer_id"].to_numpy()).to_numpy()
    true_state = read_ground_truth(truth_dir)
    oracle_alive = 1 - observable_gone_probability(true_state, listed, cfg.simulator)
    sweep = pd.concat(
        {
            f"{cfg.scoring.purchase_model} P(alive)": threshold_sweep(listed, btyd_alive),
            "oracle P(alive), true rates": threshold_sweep(listed, oracle_alive),
        },
        names=["P(alive) from"],
    ).reset_index(level=0)
    gone = int(scored["days_gone"].notna().sum())
    text = (
        f"As of {day} (the test cutoff), lapsed rule `{cfg.scoring.purchase_model}` P(alive) < "
        f"{cfg.scoring.lapsed.p_alive_below}; {gone:,} of the {len(scored):,} scored "
        f"customers had truly left before the date; the lapsed flag catches "
        f"{len(lapsed[lapsed['days_gone'].notna()]) / max(gone, 1):.1%} of them.\n\n"
        + frame.to_markdown(floatfmt=".3f")
        + "\n\nOther thresholds, on the lists without the rule:\n\n"
        + sweep.to_markdown(index=False, floatfmt=".3f")
        + "\n"
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
