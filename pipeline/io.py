"""Reading and writing data files: a data directory in as checked Tables, frames out atomically.

Files are CSV (UTF-8, header row, optionally gzip-compressed as .csv.gz) or Parquet, chosen by extension. A
bucketed directory (``churn partition``; local path or fsspec URL) is read through ``pipeline.bucket_store``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import os
import re
import uuid
import zlib
from collections.abc import Callable, Collection, Mapping
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute
import pyarrow.csv
import pyarrow.parquet

from features.aggregate import EVENT_TABLES, READ_COLUMNS
from features.prepared import Preparer
from features.tables import (
    COLUMNS,
    DATETIME_DTYPE,
    EVENT_TIME_COLUMN,
    REQUIRED_TABLES,
    TABLE_NAMES,
    PreparedTables,
    Tables,
    empty_table,
    make_tables,
    to_datetime_column,
)
from pipeline.bucket_store import (
    BucketedDir,
    bucketed_manifest,
    is_bucketed,
    is_url,
    read_all_raw,
    read_bucket_raw,
)
from pipeline.contract import (
    CONTRACT_ARROW_TYPES,
    FALSE_WORDS,
    REFERENCES,
    TRUE_WORDS,
    IdColumns,
    InputLimits,
    RawTable,
    TypedTable,
    check_table,
    check_tables,
    conforms,
    id_columns,
    line_maps,
    reference_problems,
    relined,
    typed_frame,
    unknown_ids_problem,
)
from pipeline.errors import ChurnError, InputDataError, Problem

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
TABLE_FORMATS = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}
CSV_FIRST_DATA_LINE = 2  # line 1 is the header
CSV_FIX = "save the table as a UTF-8 CSV file with a header row (or as Parquet)"


def load_data_dir(
    data_dir: str | os.PathLike,
    limits: InputLimits | None = None,
    columns: Mapping[str, Collection[str]] | None = None,
) -> tuple[Tables, list[Problem]]:
    """The conformed Tables of ``data_dir`` and the warnings found; raises InputDataError listing every error.

    ``columns``: the columns to read per table (others are neither read nor checked); None reads every column.
    """
    raw, typed, problems = read_tables(data_dir, limits, columns)
    return _checked(raw, problems, limits=limits, typed=typed)


def load_bucket(data: BucketedDir, bucket: int, limits: InputLimits | None = None) -> Tables:
    """One bucket of a bucketed directory as conformed Tables, checked like :func:`load_data_dir`.

    A bucket may lack some customers' tables entirely (small buckets): empty parts are read as absent rows,
    not as errors. Errors are raised as a plain ChurnError, which crosses process boundaries intact.
    """
    raw = read_bucket_raw(data, bucket)
    empty = {name: empty_table(name) for name, table in raw.items() if not len(table.frame)}
    try:
        tables, _warnings = _checked({n: t for n, t in raw.items() if n not in empty}, [], empty, limits)
    except InputDataError as error:
        raise ChurnError(error.message, error.hint) from None
    return tables


def data_fingerprint(data_dir: str | os.PathLike) -> str:
    """SHA-256 of a data directory: over its table files' names and bytes (not _truth/), or for a bucketed
    directory over its manifest, which holds the SHA-256 of every part."""
    digest = hashlib.sha256()
    if is_url(data_dir) or is_bucketed(data_dir):
        digest.update(bucketed_manifest(data_dir))
        return digest.hexdigest()[:16]
    for path in sorted(p for p in Path(data_dir).iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _checked(
    raw: Mapping[str, RawTable],
    problems: list[Problem],
    empty: Mapping[str, pd.DataFrame] | None = None,
    limits: InputLimits | None = None,
    typed: Mapping[str, TypedTable] | None = None,
) -> tuple[Tables, list[Problem]]:
    checked = check_tables(raw, limits, typed)
    problems = problems + checked.problems
    if any(p.severity == "error" for p in problems):
        raise InputDataError(problems)
    typed_frames = {name: typed_frame(table) for name, table in (typed or {}).items()}
    return make_tables({**(empty or {}), **checked.frames, **typed_frames}), problems


# Read first: the customers' ids are the id space the other tables' ids are looked up in as they are read.
PREPARE_ORDER = ("customers", "transactions", "complaints", "visits", "account_managers", "contacts")


def load_prepared(
    data_dir: str | os.PathLike,
    limits: InputLimits | None = None,
    before: pd.Timestamp | None = None,
    visits_since: pd.Timestamp | None = None,
) -> tuple[PreparedTables, list[Problem]]:
    """The prepared tables of a plain data directory (the columns the builders read) and the warnings found;
    raises InputDataError listing every error.

    A run at one as-of date may leave out, once every row is checked, the events at or after ``before`` and the
    visits before ``visits_since`` (see :func:`features.registry.visits_lookback_days`): no feature reads them.

    Table by table: each is read (straight into Arrow when clean, else raw and checked precisely), checked and
    converted (:class:`features.prepared.Preparer`) before the next is read, so at most one table is held as
    Arrow beside the prepared ones. The ids the customers table lacks are found by the id lookup itself.
    """
    files, problems = table_files(data_dir)
    customers_first = sorted(files, key=PREPARE_ORDER.index)
    preparer, numbering, lines, small = None, {}, {}, {"raw": {}, "frames": {}, "typed": {}}
    for name in customers_first:
        typed, raw, found = _read_one(name, files[name], limits, READ_COLUMNS.get(name))
        problems += found
        if raw is not None:
            frame, found = check_table(name, raw, limits)
            problems += relined(found, line_maps([raw]))
            lines |= line_maps([raw])
            numbering[name] = IdColumns(raw.file, {}, frame.index.to_numpy(), 0)
            if any(p.severity == "error" for p in found):
                continue
            if name in ("customers", "account_managers"):
                small["raw"][name], small["frames"][name] = raw, frame
            table = pyarrow.Table.from_pandas(frame, preserve_index=False)
        elif typed is not None:
            lines |= line_maps([typed])
            numbering[name] = IdColumns(typed.file, {}, None, typed.first_row)
            if name in ("customers", "account_managers"):
                small["typed"][name] = typed
            table = typed.table
        else:
            continue
        del typed, raw
        table = _events_read(name, table, before, visits_since if name == "visits" else None)
        if name == "transactions" and not table.num_rows and before is not None:
            raise ChurnError(
                f"No customer bought before {before.date()}: every transaction in {files[name].name} is at or "
                "after the as-of date.",
                "check --as-of against the dates in the data",
            )
        if name in EVENT_TABLES and not table.num_rows:
            continue  # a header without rows (reported above), or no rows in the run's span: read as no rows
        if preparer is None:
            ids = table["customer_id"] if name in ("customers", "transactions") else None
            if ids is None:
                continue  # no customers file and no readable transactions: reported above
            preparer = Preparer(ids)
            if name == "transactions":  # no customers file: the customers are the transactions' ids
                preparer.add("customers", pyarrow.table({"customer_id": preparer.space}))
        preparer.add(name, table)
        del table  # its Arrow memory goes now, before the next table is read
    others = tuple(r for r in REFERENCES if r[2:] != ("customers", "customer_id"))
    problems += relined(reference_problems(id_columns(small["raw"], small["frames"], small["typed"]), others), lines)
    if any(p.severity == "error" for p in problems) or preparer is None:
        raise InputDataError(problems)
    tables, unknown = preparer.finish()
    if "customers" in files:
        problems += relined([
            unknown_ids_problem(numbering[name].file, "customer_id", numbering["customers"].file, rows.ids,
                                numbering[name].row_numbers(rows.positions))
            for name, rows in unknown.items()
        ], lines)
    return tables, problems


def _events_read(name: str, table: pyarrow.Table, before, since) -> pyarrow.Table:
    """An event table's rows with their time in [since, before) (either end open when None): a slice when the
    table is in time order, as event logs usually are (no copy), else a filter."""
    if name not in EVENT_TIME_COLUMN or (before is None and since is None):
        return table
    times = table[EVENT_TIME_COLUMN[name]]
    stamps = times.to_numpy().view("int64") if times.null_count == 0 else None
    if stamps is not None and (len(stamps) < 2 or bool((stamps[1:] >= stamps[:-1]).all())):
        start = 0 if since is None else int(np.searchsorted(stamps, since.value, side="left"))
        stop = len(stamps) if before is None else int(np.searchsorted(stamps, before.value, side="left"))
        return table.slice(start, max(stop - start, 0))
    keep = [pyarrow.compute.less(times, pyarrow.scalar(before.value, times.type))] if before is not None else []
    if since is not None:
        keep.append(pyarrow.compute.greater_equal(times, pyarrow.scalar(since.value, times.type)))
    return table.filter(functools.reduce(pyarrow.compute.and_, keep))


def read_tables(
    data_dir: str | os.PathLike,
    limits: InputLimits | None = None,
    columns: Mapping[str, Collection[str]] | None = None,
) -> tuple[dict[str, RawTable], dict[str, TypedTable], list[Problem]]:
    """Every table file of ``data_dir``, and the problems that kept files from being found or read.

    Each file is first read straight into the contract's Arrow types (fast, only the ``columns`` wanted); a table
    that reads so and keeps every rule (:func:`pipeline.contract.conforms`) is returned typed, any other raw, for
    the precise check to find and word its problems. A bucketed directory is read raw, bucket after bucket.
    """
    if is_url(data_dir) or is_bucketed(data_dir):
        raw, problems = read_all_raw(data_dir)
        return raw, {}, problems
    files, problems = table_files(data_dir)
    raw, typed = {}, {}
    for name, path in files.items():
        wanted = None if columns is None or name not in columns else columns[name]
        fast, slow, found = _read_one(name, path, limits, wanted)
        problems += found
        if fast is not None:
            typed[name] = fast
        elif slow is not None:
            raw[name] = slow
    return raw, typed, problems


def _read_one(
    name: str, path: Path, limits: InputLimits | None, wanted: Collection[str] | None
) -> tuple[TypedTable | None, RawTable | None, list[Problem]]:
    """One table file: typed when it reads straight into the contract's types and conforms, else raw (for the
    precise check), else neither, with the problem that kept it from being read."""
    fast = _read_typed(path, name, wanted)
    if fast is not None and conforms(name, fast, limits):
        return fast, None, []
    try:
        frame = read_table_file(path)
    except InputDataError as exc:
        return None, None, exc.problems
    if wanted is not None:
        frame = frame[[c for c in frame.columns if c in wanted or c not in COLUMNS[name]]]
    return None, _raw_table(path, frame), []


def table_files(data_dir: str | os.PathLike) -> tuple[dict[str, Path], list[Problem]]:
    """The table files of a plain data directory, by table, and the problems finding them.

    Looks only at ``<table>.csv``, ``<table>.csv.gz`` and ``<table>.parquet`` directly in the folder; other
    files and subfolders (such as ``_truth/``) are ignored.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        fix = "pass the folder that holds transactions.csv (and the other tables)"
        return {}, [Problem(str(data_dir), None, (), "folder not found", fix)]
    files, problems = {}, []
    for name in TABLE_NAMES:
        paths = [
            path for path in (data_dir / f"{name}{suffix}" for suffix in TABLE_SUFFIXES) if path.is_file()
        ]
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            problems.append(
                Problem(str(data_dir), None, (), f"two files for table {name}: {names}", "keep one")
            )
        elif not paths and name in REQUIRED_TABLES:
            names = " or ".join(f"{name}{suffix}" for suffix in TABLE_SUFFIXES)
            fix = f"add {names}; the {name} table is required"
            problems.append(Problem(str(data_dir), None, (), f"no {name} file", fix))
        elif paths:
            files[name] = paths[0]
    return files, problems


def read_raw_tables(data_dir: str | os.PathLike) -> tuple[dict[str, RawTable], list[Problem]]:
    """Every table file of ``data_dir`` read raw (see :func:`table_files`), and the problems that kept files
    from being found or read. A bucketed directory (its manifest present; always for a URL) is read whole,
    bucket after bucket.
    """
    if is_url(data_dir) or is_bucketed(data_dir):
        return read_all_raw(data_dir)
    files, problems = table_files(data_dir)
    raw = {}
    for name, path in files.items():
        try:
            raw[name] = _raw_table(path, read_table_file(path))
        except InputDataError as exc:
            problems += exc.problems
    return raw, problems


def _raw_table(path: Path, frame: pd.DataFrame) -> RawTable:
    lines = None if _table_suffix(path) == ".parquet" else _physical_lines_of(path)
    return RawTable(path.name, frame, lines)


def _read_typed(path: Path, name: str, wanted: Collection[str] | None) -> TypedTable | None:
    """The table's contract columns (those ``wanted``) read straight into their Arrow types, or None when some
    cell or column needs the precise, raw reading (a value that does not parse, a column stored as another kind,
    a blank line, a header that is not plain)."""
    try:
        if _table_suffix(path) == ".parquet":
            return _typed_parquet(path, name, wanted)
        return _typed_csv(path, name, wanted)
    except (pyarrow.ArrowException, OSError, EOFError, UnicodeDecodeError, csv.Error, zlib.error, ValueError):
        return None


def _typed_parquet(path: Path, name: str, wanted: Collection[str] | None) -> TypedTable | None:
    schema = pyarrow.parquet.read_schema(path)
    if len(set(schema.names)) < len(schema.names):
        return None
    present = [c for c in COLUMNS[name] if c in schema.names and (wanted is None or c in wanted)]
    labels = [c for c in present if COLUMNS[name][c][0] == "str" and pyarrow.types.is_string(schema.field(c).type)]
    table = pyarrow.parquet.read_table(path, columns=present, read_dictionary=labels)
    converted = {c: _as_contract_type(table[c], COLUMNS[name][c][0]) for c in present}
    if any(v is None for v in converted.values()):
        return None
    return TypedTable(path.name, pyarrow.table(converted), 1)


def _as_contract_type(values: pyarrow.ChunkedArray, kind: str) -> pyarrow.ChunkedArray | None:
    """A stored column in its kind's Arrow type (CONTRACT_ARROW_TYPES), or None when only the precise reading may
    say what it holds (floats as ids, floats as whole numbers, text as numbers or times, ...)."""
    kind_type, stored = CONTRACT_ARROW_TYPES[kind], values.type
    types = pyarrow.types
    if stored == kind_type:
        return values
    text = types.is_string(stored) or types.is_large_string(stored)
    if kind == "id" and (text or types.is_integer(stored)):
        return values.cast(kind_type)
    if kind == "id" and types.is_dictionary(stored) and types.is_string(stored.value_type):
        return values.cast(kind_type)
    if kind == "str":
        if types.is_dictionary(stored) and types.is_string(stored.value_type):
            return values.cast(kind_type)
        if text or types.is_integer(stored):
            return pyarrow.chunked_array([_text_dictionary(chunk) for chunk in values.chunks], kind_type)
        return None
    if kind == "float" and (types.is_integer(stored) or types.is_floating(stored) or types.is_decimal(stored)):
        return values.cast(kind_type)
    if kind == "int" and types.is_integer(stored):
        return values.cast(kind_type)
    if kind == "datetime" and (types.is_timestamp(stored) or types.is_date(stored)):
        return values.cast(kind_type)  # a zone's instants are kept in UTC; out of the ns range raises
    return None


def _text_dictionary(chunk: pyarrow.Array) -> pyarrow.DictionaryArray:
    """Text or whole numbers as a dictionary of text (each distinct value turned into text once)."""
    encoded = chunk.dictionary_encode()
    return pyarrow.DictionaryArray.from_arrays(encoded.indices.cast(pyarrow.int32()), encoded.dictionary.cast(pyarrow.string()))


def _typed_csv(path: Path, name: str, wanted: Collection[str] | None) -> TypedTable | None:
    header = _plain_header(path)
    if header is None:
        return None
    include = [c for c in header if c in COLUMNS[name] and (wanted is None or c in wanted)]
    table = pyarrow.csv.read_csv(
        _csv_stream(path),
        read_options=pyarrow.csv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pyarrow.csv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True),
        convert_options=pyarrow.csv.ConvertOptions(
            include_columns=include,
            column_types={c: CONTRACT_ARROW_TYPES[COLUMNS[name][c][0]] for c in include},
            null_values=[""],  # only an empty field is missing: "NA" or "null" may be a real id
            strings_can_be_null=True,
            true_values=[w for word in TRUE_WORDS for w in (word, word.upper(), word.title())],
            false_values=[w for word in FALSE_WORDS for w in (word, word.upper(), word.title())],
        ),
    )
    if not include or table.num_rows == 0:
        return None
    all_empty = functools.reduce(pyarrow.compute.and_, [pyarrow.compute.is_null(table[c]) for c in include])
    if pyarrow.compute.any(all_empty).as_py():  # a blank line: the raw reading keeps the line numbers right
        return None
    return TypedTable(path.name, table, CSV_FIRST_DATA_LINE, _physical_lines_of(path))


def _csv_stream(path: Path):
    return pyarrow.input_stream(str(path), compression="gzip" if path.name.lower().endswith(".gz") else None)


def _plain_header(path: Path) -> list[str] | None:
    """The CSV's column names when they are distinct and non-empty (else the pandas reading names the problem)."""
    with (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rt", encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header or len(set(header)) < len(header) or not all(header):
        return None
    return header


def read_table_file(path: str | os.PathLike) -> pd.DataFrame:
    """A table file read raw, by extension; the index is what a person sees: line number (CSV) or row (Parquet).

    CSV values are all read as strings (empty fields as NA, blank lines dropped) so that the checks can name the
    line of every bad value. Raises InputDataError with one Problem if the file cannot be read as a table.
    """
    path = Path(path)
    suffix = _table_suffix(path)
    if not path.is_file():
        raise InputDataError([Problem(path.name, None, (), "file not found", f"check the path {path}")])
    if path.stat().st_size == 0:
        raise InputDataError([Problem(path.name, None, (), "the file is empty", CSV_FIX)])
    if suffix == ".parquet":
        frame = _read_parquet(path, dtype_backend="numpy_nullable")  # keeps integer ids with gaps as integers
        return frame.set_axis(pd.RangeIndex(1, len(frame) + 1, name="row"))
    return _read_csv_strings(path)


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """One frame file written by :func:`write_frame`, with its column types back (a fresh RangeIndex).

    Timestamps come back as tz-naive UTC ``datetime64[ns]`` whatever unit the file stores. For CSV the types
    are inferred per column: ``*_id`` columns stay strings; otherwise true/false columns become boolean,
    numbers int64/Int64 or float64, ISO dates datetime64[ns], the rest strings; entirely empty columns float64.
    """
    path = Path(path)
    if _table_suffix(path) == ".parquet":
        frame = _read_parquet(path)
        stamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        return frame.assign(**{c: to_datetime_column(frame[c]) for c in stamps})  # the one datetime policy
    text = read_table_file(path).reset_index(drop=True)
    return pd.DataFrame({column: _typed_csv_column(column, text[column]) for column in text.columns})


def write_atomic(path: str | os.PathLike, write_fn: Callable[[Path], object]) -> Path:
    """Run ``write_fn(temp_path)`` on a temp file beside ``path``, then move it into place in one step.

    If anything fails the temp file is removed and a previous file at ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a run that was killed mid-write
        stale.unlink(missing_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write_fn(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def text_writer(text: str) -> Callable[[Path], None]:
    """A function writing ``text`` as UTF-8 to the file it is given."""
    return lambda path: Path(path).write_text(text, encoding="utf-8")


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` as UTF-8 atomically."""
    return write_atomic(path, text_writer(text))


def frame_writer(frame: pd.DataFrame, path: str | os.PathLike) -> Callable[[Path], None]:
    """A function writing ``frame`` to the file it is given, as CSV (.csv, .csv.gz) or Parquet by the extension
    of ``path``; same frame, same bytes.

    A named index is written as leading column(s), an unnamed one is dropped. CSV: timestamps ISO 8601
    ("2024-03-01 13:45:00", or "2024-03-01" when a column holds only midnights), booleans true/false, NA empty,
    floats in their shortest round-trip form, gzip without a time stamp.
    """
    suffix = _table_suffix(Path(path))
    table = frame.reset_index() if any(name is not None for name in frame.index.names) else frame
    if suffix == ".parquet":
        return lambda temp: table.to_parquet(temp, index=False, engine="pyarrow")
    text = _csv_text(table)
    return lambda temp: _write_csv(text, temp, compress=suffix == ".csv.gz")


def write_frame(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` atomically (see :func:`frame_writer` for the formats)."""
    return write_atomic(path, frame_writer(frame, path))


def check_table_file_name(path: str | os.PathLike, option: str) -> None:
    """Refuse an output file name whose extension is not a table format, before any work."""
    if not any(Path(path).name.lower().endswith(s) for s in TABLE_SUFFIXES):
        raise ChurnError(f"{option} {path}: unknown table file type.", "end the name in .csv, .csv.gz or .parquet")


def input_files(data_dir: str | os.PathLike) -> set[Path]:
    """The table files a command reads from a plain local data directory (none for URLs and bucketed folders)."""
    if is_url(data_dir) or not Path(data_dir).is_dir():
        return set()
    candidates = (Path(data_dir) / f"{name}{suffix}" for name in TABLE_NAMES for suffix in TABLE_SUFFIXES)
    return {path.resolve() for path in candidates if path.is_file()}


def refuse_overwriting_inputs(data_dir: str | os.PathLike, places: dict[str, str | os.PathLike]) -> None:
    """An output may not replace one of the input tables it is computed from."""
    inputs = input_files(data_dir)
    for option, place in places.items():
        if not is_url(place) and Path(place).resolve() in inputs:
            raise ChurnError(f"{option} {place} is one of the input tables in {data_dir}.", "write the output elsewhere")


def write_tables(
    frames: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike, fmt: str = "csv"
) -> dict[str, Path]:
    """Write each frame as ``out_dir/<name>.<fmt>`` (fmt: csv, csv.gz or parquet); the paths written, by name."""
    if fmt not in TABLE_FORMATS:
        raise ChurnError(f"unknown table format {fmt!r}", f"use one of {', '.join(TABLE_FORMATS)}")
    return {
        name: write_frame(frame, Path(out_dir) / f"{name}{TABLE_FORMATS[fmt]}")
        for name, frame in frames.items()
    }


def _table_suffix(path: Path) -> str:
    suffix = next((s for s in TABLE_SUFFIXES if path.name.lower().endswith(s)), None)
    if suffix is None:
        raise ChurnError(f"{path.name}: unknown table file type", "use .csv, .csv.gz or .parquet")
    return suffix


# What reading a table file's header or cells may raise when the file is not what its name says.
READ_ERRORS = (pyarrow.ArrowException, OSError, EOFError, UnicodeDecodeError, csv.Error, zlib.error)


def file_header(path: Path) -> list[str]:
    """The column names of a table file (a CSV's first row, a Parquet file's schema); [] when unreadable (the
    read itself names that problem)."""
    try:
        if _table_suffix(path) == ".parquet":
            return list(pyarrow.parquet.read_schema(path).names)
        return _csv_header(path)
    except READ_ERRORS:
        return []


def _csv_header(path: Path) -> list[str]:
    """A CSV file's first row (gzip by the .gz name, a byte-order mark dropped)."""
    with (gzip.open if path.name.lower().endswith(".gz") else open)(
        path, "rt", encoding="utf-8-sig", newline=""
    ) as handle:
        return next(csv.reader(handle), [])


def _read_csv_strings(path: Path) -> pd.DataFrame:
    frame = _read_csv_strings_by_arrow(path)
    if frame is None:
        frame = _read_csv_strings_by_pandas(path)
    _refuse_other_separators(path, frame.columns)
    frame.index = pd.RangeIndex(CSV_FIRST_DATA_LINE, CSV_FIRST_DATA_LINE + len(frame), name="line")
    return frame.dropna(how="all")


def _refuse_other_separators(path: Path, header: pd.Index) -> None:
    """A header read as one column that holds ; or a tab is a file separated by them (Excel's European CSV)."""
    if len(header) != 1:
        return
    separator = next((s for s in (";", "\t", "|") if s in str(header[0])), None)
    if separator is not None:
        shown = "a tab" if separator == "\t" else repr(separator)
        what = f"the columns are separated by {shown}, not by commas (header {str(header[0])!r})"
        raise InputDataError([Problem(path.name, None, (1,), what, "save the file comma-separated, or as Parquet")])


def _read_csv_strings_by_arrow(path: Path) -> pd.DataFrame | None:
    """The file's cells as text by Arrow's multi-threaded CSV reader (~4x pandas' on the sample), or None whenever
    it would not read the file exactly as :func:`_read_csv_strings_by_pandas` does (ragged rows, blank lines, bytes
    that are not UTF-8, a missing, blank or repeated column name, no rows): pandas then reads it, and names the
    problem if there is one."""
    compressed = path.name.lower().endswith(".gz")
    try:
        header = _csv_header(path)
        if not header or len(set(header)) < len(header) or not all(header):
            return None
        table = pyarrow.csv.read_csv(
            pyarrow.input_stream(str(path), compression="gzip" if compressed else None),
            read_options=pyarrow.csv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pyarrow.csv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True),
            convert_options=pyarrow.csv.ConvertOptions(
                column_types={name: pyarrow.string() for name in header},
                null_values=[""],  # only an empty field is missing: "NA" or "null" may be a real id
                strings_can_be_null=True,
            ),
        )
    except READ_ERRORS:
        return None
    if table.num_rows == 0:
        return None
    str_dtype = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str"
    return table.to_pandas(types_mapper={pyarrow.string(): str_dtype}.get)


def _read_csv_strings_by_pandas(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            dtype="str",
            keep_default_na=False,  # only an empty field is missing: "NA" or "null" may be a real id
            na_values=[""],
            skip_blank_lines=False,  # keeps the index in step with the line numbers
            encoding="utf-8-sig",  # tolerates the byte-order mark Excel writes
            compression="gzip" if path.name.lower().endswith(".gz") else None,
        )
    except pd.errors.EmptyDataError:
        raise InputDataError(
            [Problem(path.name, None, (), "the file is empty (no header row)", CSV_FIX)]
        ) from None
    except UnicodeDecodeError:
        what = "not UTF-8 text (binary data, or another encoding such as Latin-1)"
        raise InputDataError(
            [Problem(path.name, None, (_first_non_utf8_line(path),), what, CSV_FIX)]
        ) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        what = (
            f"{found[3]} fields where the header has {found[1]}" if found else "not a well-formed CSV table"
        )
        fix = "quote fields that contain commas, or remove the extra separators"
        rows = (int(found[2]),) if found else ()
        raise InputDataError([Problem(path.name, None, rows, what, fix)]) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputDataError([Problem(path.name, None, (), f"cannot be read ({exc})", CSV_FIX)]) from None
    return frame


def _physical_lines_of(path: Path) -> Callable[[tuple[int, ...]], tuple[int, ...]]:
    """Line numbers counted one per record (2 = the first record) -> the lines where those records start in the
    file, which differ once a quoted value holds a line break. The file is scanned on first use only."""
    starts: list[np.ndarray] = []

    def physical(rows: tuple[int, ...]) -> tuple[int, ...]:
        if not starts:
            starts.append(_record_start_lines(path))
        first = starts[0]
        index = np.asarray(rows) - CSV_FIRST_DATA_LINE
        inside = (index >= 0) & (index < len(first))
        return tuple(np.where(inside, first[np.clip(index, 0, max(len(first) - 1, 0))], rows).tolist())

    return physical


def _record_start_lines(path: Path) -> np.ndarray:
    """The file line on which each record after the header starts (blank lines count as records)."""
    compressed = path.name.lower().endswith(".gz")
    with (gzip.open if compressed else open)(path, "rt", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        starts, previous = [], reader.line_num
        for _ in reader:
            starts.append(previous + 1)
            previous = reader.line_num
    return np.asarray(starts, dtype=np.int64)


def _first_non_utf8_line(path: Path) -> int:
    """The line of the first byte that is not UTF-8 (only called once decoding has failed)."""
    data = gzip.decompress(path.read_bytes()) if path.name.lower().endswith(".gz") else path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return 1


def _read_parquet(path: Path, **kwargs) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path, engine="pyarrow", **kwargs)
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        what = f"not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        raise InputDataError([Problem(path.name, None, (), what, CSV_FIX)]) from None
    has_named_index = any(name is not None for name in frame.index.names)
    return frame.reset_index(drop=not has_named_index)


def _csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with timestamps and booleans already written out as the CSV shows them."""
    text = frame.copy(deep=False)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            text[column] = _iso_text(values)
        elif pd.api.types.is_bool_dtype(values):
            text[column] = values.astype("boolean").map({True: "true", False: "false"})
    return text


def _iso_text(values: pd.Series) -> pd.Series:
    stamps = to_datetime_column(values)
    present = stamps.dropna()
    if (present == present.dt.normalize()).all():
        return stamps.dt.strftime("%Y-%m-%d")
    if (present.dt.microsecond == 0).all() and (present.dt.nanosecond == 0).all():
        return stamps.dt.strftime("%Y-%m-%d %H:%M:%S")
    return stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _write_csv(text: pd.DataFrame, temp: Path, compress: bool) -> None:
    with open(temp, "wb") as raw:
        # mtime=0 and no file name in the gzip header: the same frame gives the same bytes.
        sink = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if compress else nullcontext(raw)
        with sink as handle:
            text.to_csv(handle, index=False, na_rep="", lineterminator="\r\n", encoding="utf-8")


def _typed_csv_column(name: str, text: pd.Series) -> pd.Series:
    """One CSV column read as strings, in the type its values show (see :func:`read_frame`)."""
    present = text.dropna()
    if name.endswith("_id"):
        return text
    if not len(present):
        return text.astype("float64")
    if present.str.lower().isin(["true", "false"]).all():
        return text.str.lower().map({"true": True, "false": False}).astype("boolean")
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().sum() == len(present):
        if present.str.fullmatch(r"-?\d+").all():
            return numbers.astype("int64" if len(present) == len(text) else "Int64")
        return numbers.astype("float64")
    stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if stamps.notna().sum() == len(present):
        return stamps.dt.tz_localize(None).astype(DATETIME_DTYPE)
    return text
