"""The notebooks run headless, top to bottom, on small data, and show what the files they
read hold: the tests parse the printed lines and displayed tables and check them against
values computed here from the same files."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from sklearn.metrics import roc_auc_score
from traitlets.config import Config as TraitletsConfig

from features.columns import KEYS
from pipeline import explain, score
from pipeline.artifacts import (
    CAUSES,
    DRIFT_REPORT,
    EXCLUDED,
    EXPLAINED_CUSTOMERS,
    LISTS_DIR,
    MANIFEST,
    PREDICTIONS,
    RUN_RECORD,
)
from pipeline.config import Config
from tests.support import REPO, Simulated


def run_notebook(name: str, workdir: Path, **parameters: str) -> NotebookNode:
    notebook = parameterize_notebook(load_notebook_node(str(REPO / "notebooks" / name)), parameters)
    # IPC transport: the kernel needs no loopback TCP port. The socket path is absolute
    # (the kernel runs in ``workdir``) and short (Unix sockets allow ~100 characters).
    with tempfile.TemporaryDirectory(prefix="nb-") as sockets:
        ipc = TraitletsConfig(
            {"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "k")}}
        )
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=300,
            resources={"metadata": {"path": str(workdir)}},
            config=ipc,
        )
        return client.execute()


class _HtmlTables(HTMLParser):
    """The cell texts of every HTML table, header rows and body rows apart."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[list[str]], list[list[str]]]] = []
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag in ("thead", "tbody"):
            self._rows = self.tables[-1][0 if tag == "thead" else 1]
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("th", "td"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._rows[-1].append("".join(self._cell or []).strip())
            self._cell = None


def html_frames(html: str) -> list[pd.DataFrame]:
    """The DataFrames pandas rendered as ``html``, every cell a string, the index levels
    as leading columns named after them (pandas puts index names in a second header row
    and writes a repeated outer index label only once)."""
    parser = _HtmlTables()
    parser.feed(html)
    frames = []
    for head, body in parser.tables:
        names = head[-1] if len(head) > 1 else [""] * len(head[0])
        columns = [name or column for column, name in zip(head[0], names, strict=True)]
        rows, previous = [], list(columns)
        for row in body:
            previous = previous[: len(columns) - len(row)] + row
            rows.append(previous)
        frames.append(pd.DataFrame(rows, columns=columns))
    return frames


@dataclass
class Outputs:
    text: str
    tables: list[pd.DataFrame]
    images: int

    def table_with(self, *columns: str) -> pd.DataFrame:
        """The one displayed table that has all of ``columns``."""
        found = [table for table in self.tables if set(columns) <= set(table.columns)]
        assert len(found) == 1, f"{len(found)} tables with {columns}"
        return found[0]


def _outputs(executed: NotebookNode) -> Outputs:
    """The printed text, displayed tables and number of images of an executed notebook,
    which must have raised no error."""
    outputs = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    html = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    return Outputs(
        "".join(out.get("text", "") for out in outputs),
        [frame for table in html for frame in html_frames(table)],
        sum("image/png" in out.get("data", {}) for out in outputs),
    )


def _numbers(table: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(table[column])


def _printed(pattern: str, text: str) -> tuple[str, ...]:
    """The groups of ``pattern`` in the printed text, thousands separators removed."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return tuple(group.replace(",", "") for group in match.groups())


ROUNDED_3 = 5e-4 + 1e-9  # a value the notebook rounded to 3 decimals
ROUNDED_4 = 5e-5 + 1e-9  # ... to 4 decimals


def test_features_eda_notebook_shows_every_labelled_row_in_every_panel(
    tmp_path, tiny: Simulated, tiny_features: tuple[pd.DataFrame, list[dict], dict]
):
    params = Path(tiny.cfg.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("01_features_eda.ipynb", tmp_path, params_file=str(params)))
    features, catalogue, _ = tiny_features
    labelled = features[features["churned"].notna()]
    churn_rate = labelled["churned"].astype(float).mean()
    pattern = (
        r"([\d,]+) rows, ([\d,]+) customers, (\d+) cutoffs; ([\d,]+) labelled rows, "
        r"churn rate ([\d.]+)% within (\d+) days"
    )
    assert _printed(pattern, outputs.text) == (
        str(len(features)),
        str(features["customer_id"].nunique()),
        str(features["cutoff"].nunique()),
        str(len(labelled)),
        f"{churn_rate:.1%}".removesuffix("%"),
        str(tiny.cfg.features.label.horizon_days),
    )

    by_family = outputs.table_with("family")
    shown = by_family.set_index("family").apply(pd.to_numeric).sum(axis=1)
    assert shown.to_dict() == pd.DataFrame(catalogue)["family"].value_counts().to_dict()

    panels = outputs.table_with("panel", "group", "rows", "churn_rate")
    panels = panels.assign(rows=_numbers(panels, "rows"), churn=_numbers(panels, "churn_rate"))
    assert panels["panel"].nunique() == 7  # every family of the simulated data has its panel
    for panel, groups in panels.groupby("panel"):
        assert groups["rows"].sum() == len(labelled), panel
        mean = (groups["churn"] * groups["rows"]).sum() / len(labelled)
        assert mean == pytest.approx(churn_rate, abs=ROUNDED_3), panel

    # The survey panel: every surveyed row in its score bin, the others never surveyed.
    score = labelled["survey_score_last"]
    in_bins = {
        f"[{left}, {right})": int(score.between(left, right, inclusive="left").sum())
        for left, right in [(1, 4), (4, 6), (6, 8), (8, 11)]
    }
    assert sum(in_bins.values()) == score.notna().sum() > 0
    expected = {group: n for group, n in in_bins.items() if n} | {
        "never surveyed": int(score.isna().sum())
    }
    survey = panels[panels["panel"] == "last survey score"]
    assert dict(zip(survey["group"], survey["rows"], strict=True)) == expected
    assert outputs.images == 2


def test_model_review_notebook_shows_the_latest_training_runs_metrics(tmp_path, trained: Config):
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("02_model_review.ipynb", tmp_path, params_file=str(params)))
    record = json.loads((Path(trained.paths.models_dir) / RUN_RECORD).read_text())
    report = json.loads(Path(trained.paths.train_report).read_text())
    predictions = pd.read_parquet(Path(trained.paths.models_dir) / PREDICTIONS)
    assert f"run {record['run_id']} ({report['model']}), test cutoff 2024-10-01" in outputs.text
    assert f"registered as version {record['version']} of churn-simulated" in outputs.text

    y = predictions["churned"].astype(int)
    rows, rate = _printed(r"([\d,]+) test rows, churn rate ([\d.]+)", outputs.text)
    assert int(rows) == len(predictions) == report["split"]["rows"]["test"]
    assert float(rate) == pytest.approx(y.mean(), abs=ROUNDED_3)

    metrics = outputs.table_with("roc_auc", "pr_auc", "lift_top_10pct").set_index("")
    assert set(metrics.index) == set(report["metrics"]) >= {"logreg_rfm", "oracle"}
    for model, shown in metrics.iterrows():
        logged = report["metrics"][model]
        for metric, value in shown.items():
            assert float(value) == pytest.approx(logged[metric], abs=ROUNDED_4), (model, metric)
        # The curves' predictions are the ones the metrics were computed on.
        auc = roc_auc_score(y, predictions[f"probability_{model}"])
        assert float(shown["roc_auc"]) == pytest.approx(auc, abs=ROUNDED_4), model

    importance = outputs.table_with("feature", "importance")
    logged = pd.read_csv(Path(trained.paths.train_plots) / "importance.csv").head(10)
    assert importance["feature"].tolist() == logged["feature"].tolist()
    assert _numbers(importance, "importance").to_numpy() == pytest.approx(
        logged["importance"].to_numpy(), abs=ROUNDED_4
    )
    assert outputs.images == 5


def test_explanations_notebook_shows_the_explain_stages_outputs(tmp_path, trained: Config):
    explain.run(trained)
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("03_explanations.ipynb", tmp_path, params_file=str(params)))
    out = Path(trained.paths.explanations_dir)
    report = json.loads(Path(trained.paths.explain_report).read_text())
    customers = pd.read_parquet(out / EXPLAINED_CUSTOMERS)
    causes = pd.read_parquet(out / CAUSES)
    labels = {name: cause.label for name, cause in trained.causes.items()}
    pattern = (
        r"model version (\S+): ([\d,]+) rows of cutoff (\S+) explained; "
        r"values on the raw log-odds.*; expected value (-?[\d.]+)"
    )
    version, rows, cutoff, expected_value = _printed(pattern, outputs.text)
    record = json.loads((Path(trained.paths.models_dir) / RUN_RECORD).read_text())
    assert (version, int(rows), cutoff) == (
        record["version"],
        len(customers),
        "2024-10-01",
    )
    assert len(customers) == report["rows"]
    assert float(expected_value) == pytest.approx(report["expected_value"], abs=5e-4)

    fidelity = outputs.table_with("group", "subset", "agreement", "within_top_3")
    assert len(fidelity) == sum(len(subsets) for subsets in report["fidelity"].values())
    for _, shown in fidelity.iterrows():
        logged = report["fidelity"][shown["group"]][shown["subset"]]
        for key, value in logged.items():
            if key == "recall":  # per true cause: the next table
                continue
            if isinstance(value, str):  # the most frequent true cause
                assert shown[key] == value, key
            elif value is None:  # no such rows in the group
                assert shown[key] in ("None", "NaN"), key
            else:
                assert float(shown[key]) == pytest.approx(value, abs=ROUNDED_3), key
    # Recall per true cause: a row per group and subset, a column per true cause.
    recall = outputs.table_with("group", "subset", *report["fidelity"]["top_risk"]["all"]["recall"])
    assert len(recall) == len(fidelity)
    for _, shown in recall.iterrows():
        logged = report["fidelity"][shown["group"]][shown["subset"]].get("recall", {})
        for cause, share in logged.items():
            assert float(shown[cause]) == pytest.approx(share, abs=ROUNDED_3), cause

    # Cause importance: mean |contribution| per cause over everyone and the top-risk rows,
    # from the stage's per-cause table (zero contributions are left out of it).
    top_k = max(1, round(len(customers) * trained.explain.top_risk_share))
    top_risk = customers.nlargest(top_k, "churn_probability")
    size = causes.assign(size=causes["contribution"].abs())
    expected = pd.DataFrame(
        {
            "everyone": size.groupby("cause")["size"].sum() / len(customers),
            "top_risk": size.merge(top_risk[list(KEYS)]).groupby("cause")["size"].sum() / top_k,
        }
    ).rename(index=labels)
    importance = outputs.table_with("cause", "everyone", "top_risk").set_index("cause")
    assert set(importance.index) >= set(expected.index)
    for cause, shown in importance.iterrows():
        for group in ("everyone", "top_risk"):
            value = expected[group].get(cause, 0.0)
            assert float(shown[group]) == pytest.approx(value, abs=ROUNDED_4), (cause, group)

    shares = outputs.table_with("share of top-risk rows whose strongest risk cause it is")
    strongest = top_risk["risk_cause_1"].map(labels).value_counts(normalize=True)
    shown = shares.set_index("risk_cause_1").iloc[:, 0].astype(float)
    assert shown.to_dict() == pytest.approx(strongest.to_dict(), abs=ROUNDED_3)

    riskiest = [
        table.set_index("")
        for table in outputs.tables
        if "" in table and table[""].eq("customer_id").any()
    ]
    assert len(riskiest) == 1
    assert riskiest[0].loc["customer_id"].tolist() == (
        customers.nlargest(3, "churn_probability")["customer_id"].astype(str).tolist()
    )
    assert outputs.images == 5


def test_retention_lists_notebook_shows_the_latest_lists(tmp_path, trained: Config):
    cfg = replace(trained, scoring=replace(trained.scoring, model_source="pipeline"))
    score.run(cfg)
    params = Path(trained.paths.features_dir).parent / "params.yaml"
    outputs = _outputs(run_notebook("04_retention_lists.ipynb", tmp_path, params_file=str(params)))
    latest = Path(cfg.paths.retention_dir) / "2024-11-25"
    manifest = json.loads((latest / MANIFEST).read_text())
    lists = {p.stem: pd.read_parquet(p) for p in sorted((latest / LISTS_DIR).glob("*.parquet"))}
    listed = pd.concat(lists.values())
    excluded = pd.read_parquet(latest / f"{EXCLUDED}.parquet")
    assert listed["customer_id"].is_unique and len(listed) > 0 and len(excluded) > 0

    pattern = (
        r"as of 2024-11-25: ([\d,]+) customers scored with .* \(pipeline\); "
        r"([\d,]+) on (\d+) lists, ([\d,]+) excluded"
    )
    counts = manifest["counts"]
    assert _printed(pattern, outputs.text) == (
        str(counts["scored"]),
        str(len(listed)),
        str(len(lists)),
        str(len(excluded)),
    )
    assert counts["scored"] == len(listed) + len(excluded) and counts["listed"] == len(listed)
    for name, rows in lists.items():
        assert f"{name}: {len(rows):,} customers" in outputs.text

    by_action = outputs.table_with("action", "All").set_index("action")
    assert int(by_action.loc["All", "All"]) == len(listed)
    assert by_action["All"].drop("All").astype(int).to_dict() == (
        listed["action"].value_counts().to_dict()
    )
    by_reason = outputs.table_with("exclusion", "All").set_index("exclusion")
    assert by_reason["All"].drop("All").astype(int).to_dict() == (
        excluded["exclusion"].value_counts().to_dict()
    )

    value = outputs.table_with("value_at_risk_listed").set_index("tier").apply(pd.to_numeric)
    assert value["customers"].sum() == counts["scored"]
    listed_by_tier = listed["tier"].astype(str).value_counts()
    assert value["listed"].to_dict() == listed_by_tier.reindex(value.index, fill_value=0).to_dict()
    at_risk = listed["churn_probability"] * listed["customer_value"].clip(lower=0)
    expected = at_risk.groupby(listed["tier"].astype(str)).sum()
    for tier, shown in value["value_at_risk_listed"].items():
        assert shown == pytest.approx(expected.get(tier, 0.0), abs=0.005 + 1e-6), tier
    assert value["value_at_risk"].sum() == pytest.approx(
        manifest["value"]["value_at_risk"], abs=0.005 * len(value) + 0.005
    )

    heads = [table for table in outputs.tables if "list_rank" in table.columns]
    assert len(heads) == len(lists)
    for head, rows in zip(heads, lists.values(), strict=True):
        assert head["customer_id"].tolist() == rows["customer_id"].head(5).astype(str).tolist()
        shown = head["evidence"].replace({"<NA>": "", "NaN": ""}).tolist()
        assert shown == rows["evidence"].head(5).fillna("").tolist()

    drift = outputs.table_with("feature", "psi")
    first_rows = pd.read_csv(latest / DRIFT_REPORT).head(10)
    assert drift["feature"].tolist() == first_rows["feature"].tolist()
    assert outputs.images == 1
