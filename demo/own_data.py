"""`make own-data-demo`: the whole pipeline, through `dvc repro`, on data shaped like exports
we did not make.

From one simulation it derives two datasets in the shapes real data come in, without any
simulator truth, and runs each through DVC in its own copy of the repository, exactly as a
user would with `conf/data/demo_<name>.yaml`:

- `purchase_log`: a two-column CSV (`CustomerID`, `InvoiceDate` as day/month/year), like
  a retailer's invoice lines; no customers table, no amounts.
- `snapshot`: a CRM export, one row per customer as of one date with plan names, Yes/No
  codes, a few activity counts, the CRM's annual margin and a `Churn` label.

Output: ``<out>/<name>/`` is the repository copy (its lists under
``data/retention/<as_of>/lists/``); ``<out>/summary.json`` and the printed table give
each dataset's lists and its test metrics next to the baselines'.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import generate
from pipeline.config import Config, PathsConfig, load_config
from pipeline.params import compose_params

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("purchase_log", "snapshot")
CONTRACT_NAMES = {"none": "No contract", "month_to_month": "Month-to-month", "annual": "One year"}
YEAR = pd.Timedelta(days=365)


@dataclass(frozen=True)
class DemoResult:
    """Where one dataset's lists are, how many customers they hold, and the test metrics."""

    name: str
    lists: Path
    listed: int
    listed_by_action: dict[str, int]
    metrics: dict[str, dict[str, float]]
    split: dict


def run_demo(out: Path, simulator: list[str], pipeline: dict[str, list[str]]) -> list[DemoResult]:
    """Simulate with ``simulator`` overrides, derive both datasets and run each through
    `dvc repro` with its ``pipeline`` overrides (Hydra overrides of conf/, by dataset)."""
    out.mkdir(parents=True, exist_ok=True)
    tables = _simulate(out / "simulation", simulator)
    prepared = {
        name: _prepare(out / name, name, tables, pipeline.get(name, [])) for name in DATASETS
    }
    # The two runs are independent (own copy, own MLflow store): run them side by side.
    with ThreadPoolExecutor(max_workers=len(DATASETS)) as pool:
        runs = [
            pool.submit(_run, sys.executable, "-m", "dvc", "repro", cwd=repo)
            for repo, _ in prepared.values()
        ]
        for run in runs:
            run.result()
    results = [_result(name, repo, paths) for name, (repo, paths) in prepared.items()]
    (out / "summary.json").write_text(
        json.dumps([_as_dict(result) for result in results], indent=2) + "\n", encoding="utf-8"
    )
    return results


def _prepare(
    target: Path, name: str, tables: dict[str, pd.DataFrame], overrides: list[str]
) -> tuple[Path, PathsConfig]:
    """A repository copy with dataset ``name`` derived from ``tables`` in its data folder
    and its params composed with ``overrides``."""
    repo = _repository_copy(target, f"demo_{name}")
    cfg = _config(repo / "conf", overrides, repo / "params.yaml")
    data_dir = repo / cfg.data.dir
    data_dir.mkdir(parents=True)
    if name == "purchase_log":
        purchase_log(tables).to_csv(data_dir / "purchases.csv", index=False)
    else:
        date = pd.Timestamp(cfg.data.snapshot.date)
        horizon = cfg.features.label.horizon_days
        crm_snapshot(tables, date, horizon).to_csv(data_dir / "crm_export.csv", index=False)
    log.info("%s: dvc repro in %s", name, repo)
    return repo, cfg.paths


def purchase_log(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every purchase's customer id and time, as a retailer's invoice export shows them."""
    tx = tables["transactions"]
    return pd.DataFrame(
        {
            "CustomerID": tx["customer_id"].to_numpy(),
            "InvoiceDate": tx["timestamp"].dt.strftime("%d/%m/%Y %H:%M").to_numpy(),
        }
    )


def crm_snapshot(
    tables: dict[str, pd.DataFrame], date: pd.Timestamp, horizon_days: int
) -> pd.DataFrame:
    """The customers of ``date`` as a CRM exports them, with who churned after it.

    The population and label follow the usual definitions: subscribers until they cancel
    (churned: cancelled within the horizon), other customers while they bought in the past
    year (churned: no purchase within the horizon).
    """
    customers, tx = tables["customers"], tables["transactions"]
    horizon = pd.Timedelta(days=horizon_days)
    past_year = tx[(tx["timestamp"] < date) & (tx["timestamp"] >= date - YEAR)]
    bought_after = tx.loc[
        (tx["timestamp"] >= date) & (tx["timestamp"] < date + horizon), "customer_id"
    ]
    churn_date = customers["churn_date"]
    contractual = customers["contract_type"] != "none"
    active = (
        (customers["signup_date"] < date)
        & (churn_date.isna() | (churn_date >= date))
        & (contractual | customers["customer_id"].isin(past_year["customer_id"]))
    )
    cancelled = (churn_date >= date) & (churn_date < date + horizon)
    lapsed = ~customers["customer_id"].isin(bought_after)
    churned = np.where(contractual, cancelled, lapsed)

    purchases = past_year[~past_year["is_return"]]
    by_customer = purchases.groupby("customer_id")
    last_purchase = tx[tx["timestamp"] < date].groupby("customer_id")["timestamp"].max()
    ids = customers["customer_id"]
    spend = ids.map(by_customer["amount"].sum()).fillna(0.0)
    export = pd.DataFrame(
        {
            "Customer": "C" + ids.astype(str).str.zfill(7),
            "CustomerSince": customers["signup_date"].dt.strftime("%Y-%m-%d"),
            "Contract": customers["contract_type"].map(CONTRACT_NAMES),
            "AutoPay": np.where(customers["autopay"], "Yes", "No"),
            "Region": customers["region"],
            "purchases_12m": ids.map(by_customer.size()).fillna(0).astype(int),
            "spend_12m": spend.round(2),
            "days_since_purchase": (date - ids.map(last_purchase)).dt.days,
            "complaints_12m": _counts(tables.get("complaints"), "opened_at", ids, date),
            "failed_payments_12m": _counts(_failed(tables.get("payments")), "due_date", ids, date),
            "annual_margin": (0.35 * spend).round(2),
            "Churn": np.where(churned, "Yes", "No"),
        }
    )
    return export[active.to_numpy()].reset_index(drop=True)


def _counts(
    events: pd.DataFrame | None, time: str, ids: pd.Series, date: pd.Timestamp
) -> pd.Series:
    """Events of each customer in the year before ``date`` (0 without the table)."""
    if events is None:
        return pd.Series(0, index=ids.index)
    year = events[(events[time] < date) & (events[time] >= date - YEAR)]
    return ids.map(year.groupby("customer_id").size()).fillna(0).astype(int)


def _failed(payments: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if payments is None else payments[payments["status"] == "failed"]


def _simulate(folder: Path, overrides: list[str]) -> dict[str, pd.DataFrame]:
    """The simulated tables (the truth is written beside them and never read here)."""
    paths = [
        f"paths.simulated_dir={folder / 'tables'}",
        f"paths.ground_truth_dir={folder / 'truth'}",
    ]
    cfg = _config(REPO / "conf", [*overrides, *paths], folder / "params.yaml")
    generate.run(cfg)
    tables = Path(cfg.paths.simulated_dir)
    return {path.stem: pd.read_parquet(path) for path in sorted(tables.glob("*.parquet"))}


def _config(conf: Path, overrides: list[str], params: Path) -> Config:
    """Compose ``conf`` with ``overrides`` into ``params`` and load it."""
    params.parent.mkdir(parents=True, exist_ok=True)
    params.write_text(compose_params(conf, overrides), encoding="utf-8")
    return load_config(params)


def _repository_copy(target: Path, data: str) -> Path:
    """The repository's tracked files, with ``data`` as the default dataset (as the README
    tells users to set it, so that `dvc exp run -S ...` composes it too), committed in a
    fresh git repository at ``target``; without the lock and the reports of the
    repository's own data."""
    if target.exists():
        shutil.rmtree(target)
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / "dvc.lock").unlink(missing_ok=True)
    shutil.rmtree(target / "reports", ignore_errors=True)
    root = target / "conf" / "config.yaml"
    root.write_text(
        root.read_text(encoding="utf-8").replace("- data: simulated", f"- data: {data}"),
        encoding="utf-8",
    )
    _run("git", "init", "-q", cwd=target)
    _run("git", "add", "-A", cwd=target)
    _run("git", "commit", "-qm", "copy of the repository", cwd=target)
    return target


def _run(*command: str, cwd: Path) -> str:
    """Run ``command`` in ``cwd`` with this Python's tools first on the PATH, the copy's
    own MLflow store and no dependence on a global git identity."""
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env = inherited | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **dict.fromkeys(("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"), "own-data demo"),
        **dict.fromkeys(("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"), "demo@localhost"),
    }
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed in {cwd}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def _result(name: str, repo: Path, paths: PathsConfig) -> DemoResult:
    report = json.loads((repo / paths.train_report).read_text(encoding="utf-8"))
    (day,) = sorted(p for p in (repo / paths.retention_dir).iterdir() if p.is_dir())
    manifest = json.loads((day / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    return DemoResult(
        name,
        day / "lists",
        counts["listed"],
        counts["listed_by_action"],
        report["metrics"],
        report["split"],
    )


def _as_dict(result: DemoResult) -> dict:
    return {
        "dataset": result.name,
        "lists": str(result.lists),
        "listed": result.listed,
        "listed_by_action": result.listed_by_action,
        "split": result.split,
        "metrics": result.metrics,
    }


def metrics_table(results: list[DemoResult], metrics: tuple[str, ...]) -> str:
    """Each dataset's models side by side: the main model first, then the baselines."""
    rows = [
        {"dataset": result.name, "model": model, **{m: values.get(m) for m in metrics}}
        for result in results
        for model, values in result.metrics.items()
    ]
    return pd.DataFrame(rows).to_string(index=False, float_format="%.3f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "own-data-demo")
    parser.add_argument(
        "--simulator", nargs="*", default=[], help="Hydra overrides of the simulation"
    )
    for name in DATASETS:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            nargs="*",
            default=[],
            help=f"Hydra overrides of the {name} run",
        )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pipeline = {name: getattr(args, name) for name in DATASETS}
    results = run_demo(args.out.resolve(), args.simulator, pipeline)
    for result in results:
        print(f"{result.name}: {result.listed:,} customers listed in {result.lists}")
    print(metrics_table(results, ("roc_auc", "pr_auc", "lift_top_10pct")))
    print(f"summary: {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
