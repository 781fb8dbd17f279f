"""The pipeline against BG/NBD on a real public purchase log: CDNOW.

CDNOW_master.txt (Fader and Hardie's CDNOW sample: 23,570 customers who first bought in
the first quarter of 1997, their purchases until June 1998) is not shipped here; it comes
with the `lifetimes` package's datasets, among other places. Give its path:

    python benchmarks/cdnow.py path/to/CDNOW_master.txt

The log (customer, date, CDs, dollars) becomes a purchase export mapped onto the data
contract (customer_id, timestamp, amount) as the own-data demo's is, and validate,
featurize, btyd and train run in process on it, in a temporary folder, with the shipped config
and these changes for 18 months of data: monthly cutoffs from April 1997, a 60-day
horizon and a 60-day confirmation. Rows of one customer and day are one purchase
(data.transactions_are_lines, as in the demo log). The train report gives LightGBM and
every baseline, BG/NBD included, on the same test rows.
Results go to benchmarks/results/cdnow.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

from pipeline import btyd, featurize, train, validate
from pipeline.config import load_config
from pipeline.params import compose_params, write_params

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "cdnow.md"
OVERRIDES = [
    "data=demo_purchase_log",
    "data.name=cdnow",
    "data.date_format=%Y%m%d",
    "+data.columns.transactions.amount=Amount",
    "data.margin_per_purchase=null",
    "data.cutoffs.start=1997-04-01",
    "features.label.horizon_days=60",
    "features.label.confirmation_days=60",
]
SHOWN = ["roc_auc", "pr_auc", "lift_top_10pct", "churn_rate", "rows"]


def purchases(cdnow: Path) -> pd.DataFrame:
    """CDNOW_master.txt as an export with the demo purchase log's column names (dates stay
    text: validate parses them with data.date_format)."""
    log = pd.read_csv(
        cdnow, sep=r"\s+", header=0, names=["CustomerID", "InvoiceDate", "CDs", "Amount"]
    )
    return log[["CustomerID", "InvoiceDate", "Amount"]]


def main(cdnow: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="cdnow-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        data_dir.mkdir()
        purchases(cdnow).to_csv(data_dir / "purchases.csv", index=False)
        paths = [
            f"data.dir={data_dir}",
            f"paths.validated_dir={work}/validated",
            f"paths.features_dir={work}/features",
            f"paths.btyd_dir={work}/btyd",
            f"paths.reports_dir={work}/reports",
            f"paths.models_dir={work}/models",
            f"tracking.tracking_uri=sqlite:///{work}/mlflow.db",
        ]
        params = work / "params.yaml"
        write_params(params, compose_params(REPO / "conf", [*OVERRIDES, *paths]))
        cfg = load_config(params)
        for stage in (validate, featurize, btyd, train):
            stage.run(cfg)
        report = json.loads(Path(cfg.paths.train_report).read_text(encoding="utf-8"))
    table = pd.DataFrame(report["metrics"]).T[SHOWN].sort_values("roc_auc", ascending=False)
    split = report["split"]
    text = (
        f"CDNOW ({cdnow.name}), `{' '.join(OVERRIDES)}`. Test cutoff {split['test_cutoff']}, "
        f"validation {split['validation_cutoff']}, training cutoffs "
        f"{split['train_cutoffs'][0]} to {split['train_cutoffs'][-1]}.\n\n"
        + table.to_markdown(floatfmt=".4f")
        + "\n"
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
