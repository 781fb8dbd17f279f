"""The one place that reads and writes files.

Writes are atomic: content goes to a temporary sibling and is renamed into place only
when complete, so a failed run never leaves a half-written output behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from contract.config import DataConfig
from contract.errors import ConfigError, InputFileError
from contract.tables import TABLES, required_tables
from pipeline.artifacts import CATALOGUE, FEATURES, TRUTH_CUSTOMERS, TRUTH_HAZARDS
from simulator.truth import CUSTOMER_COLUMNS, HAZARD_COLUMNS, GroundTruth

if TYPE_CHECKING:  # matplotlib is slow to import; stages without figures never need it
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

FORMATS = ("parquet", "csv")


def table_path(directory: str | Path, stem: str, fmt: str) -> Path:
    """Path of a table file inside ``directory``."""
    return Path(directory) / f"{stem}.{fmt}"


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet or CSV file (chosen by suffix) into a DataFrame.

    CSV is read as comma-separated UTF-8 text, its columns untyped (the contract's schema
    coerces them). A file that is not what its suffix says is an InputFileError naming the
    file and what to do.
    """
    return pd.concat(read_table_chunks(path, None), ignore_index=True)


def read_table_chunks(path: Path, rows: int | None) -> Iterator[pd.DataFrame]:
    """The file's rows ``rows`` at a time (all at once if None), as ``read_table`` reads
    them; at least one chunk, empty for a file without rows."""
    if path.is_dir():
        raise InputFileError(f"{path}: a folder, not a file; export the table as one file")
    if path.suffix == ".parquet":
        return _parquet_chunks(path, rows)
    if path.suffix == ".csv":
        return _csv_chunks(path, rows)
    raise ValueError(f"{path}: unsupported file type; expected one of {FORMATS}")


def _parquet_chunks(path: Path, rows: int | None) -> Iterator[pd.DataFrame]:
    try:
        # Without pre-buffering: with it, pyarrow 25 keeps the bytes it read ahead for the
        # whole iteration (Arrow's allocations grew 12.5 MB per million rows read, 6 GiB
        # over 417M transactions); without it they stay flat, at the same speed.
        file = pq.ParquetFile(path, pre_buffer=False)
        if rows is None or file.metadata.num_rows == 0:
            yield file.read().to_pandas()
            return
        for batch in file.iter_batches(batch_size=rows):
            yield batch.to_pandas()
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise InputFileError(
            f"{path}: not a readable Parquet file ({err}); export the table again"
        ) from err


def _csv_chunks(path: Path, rows: int | None) -> Iterator[pd.DataFrame]:
    try:
        with pd.read_csv(path, encoding="utf-8", chunksize=rows or _ALL_ROWS) as reader:
            first = True
            for chunk in reader:
                if first:
                    _check_csv_header(path, chunk)
                    first = False
                yield chunk
        if first:  # a header alone
            yield _check_csv_header(path, pd.read_csv(path, encoding="utf-8", nrows=0))
    except UnicodeDecodeError as err:
        raise InputFileError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at byte "
            f"{err.start:,}); export it as UTF-8"
        ) from err
    except pd.errors.EmptyDataError as err:
        raise InputFileError(f"{path}: the file is empty, not even a header row") from err
    except pd.errors.ParserError as err:
        raise InputFileError(f"{path}: not a well-formed CSV file ({err})") from err


# A chunk size larger than any file: the whole file in one chunk.
_ALL_ROWS = 2**62


def _check_csv_header(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """InputFileError for a file that looks separated by another character, or that names
    a column twice; else ``frame``."""
    if len(frame.columns) == 1 and any(sep in str(frame.columns[0]) for sep in ";\t|"):
        raise InputFileError(
            f"{path}: one column named {str(frame.columns[0])[:60]!r}: the file looks "
            "separated by ';', tab or '|'; export it comma-separated"
        )
    # pandas renames a repeated column name (customer_id, customer_id.1): read the header.
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, encoding="utf-8").iloc[0]
    repeated = header[header.duplicated()].unique().tolist()
    if repeated:
        raise InputFileError(
            f"{path}: the header names {repeated} more than once; export each column once"
        )
    return frame


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it to ``target`` on success.

    Works for files and directories. On error the temporary path is removed and
    ``target`` keeps its previous content. A kill at any instruction keeps either the
    previous or the new content: what a killed run left next to ``target`` is recovered
    (``recover``) before the next replacement starts.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    tmp = staging / target.name
    try:
        yield tmp
        _replace(tmp, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def recover(target: Path) -> None:
    """Undo what a killed replacement of ``target`` left behind: put the previous content
    back if the kill fell between the two renames of a directory swap, and remove the
    temporary folders of processes that are gone."""
    for old in target.parent.glob(f".{target.name}.old-*"):
        if process_alive(old.name.rpartition("-")[2]):
            continue
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(target)
            log.warning("%s: restored the previous output a killed run had moved aside", target)
    prefix = f".{target.name}.tmp-"
    for staging in target.parent.glob(f"{prefix}*"):
        if not process_alive(staging.name.removeprefix(prefix).partition("-")[0]):
            shutil.rmtree(staging, ignore_errors=True)


def process_alive(pid: str) -> bool:
    """Whether process ``pid`` (as text: from a temporary name or a run tag) still runs
    on this machine."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_directories(*targets: Path) -> Iterator[tuple[Path, ...]]:
    """Yield one new empty directory per target; they replace ``targets`` together, and
    only if the block succeeds (``atomic_path`` for each)."""
    with ExitStack() as stack:
        directories = tuple(stack.enter_context(atomic_path(target)) for target in targets)
        for directory in directories:
            directory.mkdir()
        yield directories


def _replace(source: Path, target: Path) -> None:
    """Move ``source`` onto ``target``; a directory target is swapped out whole."""
    if source.is_dir() and target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        source.rename(target)
        shutil.rmtree(old)
    else:
        source.replace(target)


def write_json(payload: dict, path: Path) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_input_tables(data: DataConfig) -> dict[str, pd.DataFrame]:
    """Read every table that ``data.tables`` names; null marks an absent table."""
    tables = {}
    for name, path in input_paths(data).items():
        log.info("reading %s from %s", name, path)
        tables[name] = read_table(path)
    return tables


def input_paths(data: DataConfig) -> dict[str, Path]:
    """The file of every table that ``data.tables`` names (null marks an absent table),
    or an error naming what is wrong."""
    unknown = sorted(set(data.tables) - set(TABLES))
    if unknown:
        raise ConfigError(f"data.tables: unknown tables {unknown}; the contract has {TABLES}")
    missing = [name for name in required_tables(data) if data.tables.get(name) is None]
    if missing:
        raise ConfigError(f"data.tables: required tables {missing} must name a file")
    paths = {}
    for name, stem in data.tables.items():
        if stem is None:
            continue
        path = table_path(data.dir, stem, data.format)
        if not path.exists():
            raise FileNotFoundError(
                f"table {name!r}: no file at {path} (set data.tables.{name} to null if absent)"
            )
        paths[name] = path
    return paths


def validated_paths(validated_dir: str | Path, data: DataConfig) -> dict[str, Path]:
    """Where the ``validate`` stage wrote each table ``data.tables`` names, and customers
    (derived from the events when the data has none)."""
    names = dict.fromkeys(["customers", *data.present_tables])
    return {name: table_path(validated_dir, name, "parquet") for name in names}


def read_feature_table(features_dir: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """The feature table and its catalogue, as the featurize stage wrote them."""
    return pd.read_parquet(Path(features_dir) / FEATURES), read_catalogue(features_dir)


def read_catalogue(features_dir: str | Path) -> list[dict]:
    """Each feature's name, description, family, dtype and cause (featurize)."""
    return json.loads((Path(features_dir) / CATALOGUE).read_text(encoding="utf-8"))


def write_plots(
    directory: Path, tables: dict[str, pd.DataFrame], figures: dict[str, Figure]
) -> None:
    """Tables as CSV (DVC plots) and figures as PNG, named by their keys."""
    for stem, table in tables.items():
        table.to_csv(directory / f"{stem}.csv", index=False, float_format="%.6g")
    for stem, figure in figures.items():
        # No creation-time metadata: the same run writes the same bytes.
        figure.savefig(directory / f"{stem}.png", dpi=100, metadata={"Software": None})


def read_ground_truth(truth_dir: Path) -> GroundTruth:
    """The columns of the simulator's truth tables that the oracle and fidelity read."""
    return GroundTruth(
        hazards=pd.read_parquet(truth_dir / TRUTH_HAZARDS, columns=HAZARD_COLUMNS),
        customers=pd.read_parquet(truth_dir / TRUTH_CUSTOMERS, columns=CUSTOMER_COLUMNS),
    )


def write_parquet_and_csv(frame: pd.DataFrame, csv_frame: pd.DataFrame, stem: Path) -> None:
    """``frame`` as ``<stem>.parquet`` (for systems) and ``csv_frame``, its rounded twin,
    as ``<stem>.csv`` (for people), both written by Arrow (pandas' CSV writer took 2.2 s
    for 324k rows, Arrow's 0.3 s)."""
    write_table(frame, stem.with_suffix(".parquet"))
    write_table(csv_frame, stem.with_suffix(".csv"))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write one DataFrame as Parquet or CSV (by suffix), atomically."""
    with atomic_path(path) as tmp, TableWriter(tmp) as writer:
        writer.write(frame)


class TableWriter:
    """Append DataFrames block by block to one Parquet or CSV file.

    The first block fixes the Arrow schema (``schema`` of its Arrow table, if given);
    blocks are cast to it, so a block whose optional column happens to be all-null keeps
    the file's types. Times are cast to the schema's unit, truncating finer digits.
    """

    def __init__(self, path: Path, schema: Callable[[pa.Table], pa.Schema] | None = None) -> None:
        if path.suffix not in (".parquet", ".csv"):
            raise ValueError(f"{path}: unsupported file type; expected one of {FORMATS}")
        self.path = path
        self._writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
        self._fix_schema = schema
        self._schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema if self._fix_schema is None else self._fix_schema(table)
            self._writer = (
                pq.ParquetWriter(self.path, self._schema)
                if self.path.suffix == ".parquet"
                else pa_csv.CSVWriter(self.path, self._schema)
            )
        columns = [
            table[field.name].cast(field.type, safe=not pa.types.is_timestamp(field.type))
            for field in self._schema
        ]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.close()
