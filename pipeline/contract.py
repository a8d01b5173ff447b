"""The data contract's checks: every problem of a set of tables at once, each naming file, column and lines.

Pure (no files): ``pipeline.io`` reads the files into :class:`RawTable` s (values as found, indexed by the line
(CSV) or row (Parquet) numbers a person sees) and :func:`check_tables` parses them to the contract's dtypes, runs the
pandera schemas (``features.schemas``, the one statement of the value rules) and checks the ids shared by tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import EARLIEST_TIMESTAMP, END_OF_TIMESTAMPS, SCORE_RANGE, TABLE_SCHEMAS
from features.tables import COLUMNS, DATETIME_DTYPE, EVENT_TIME_COLUMN, REQUIRED_TABLES
from pipeline.errors import Problem

# Tables without which there is nothing to score: a header with no rows is an error, elsewhere only a warning.
POPULATION_TABLES = REQUIRED_TABLES + ("customers",)
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no")
# (table, column) whose ids must exist in (table, column); unknown ones are a warning, the rows are kept.
REFERENCES = (
    ("transactions", "customer_id", "customers", "customer_id"),
    ("complaints", "customer_id", "customers", "customer_id"),
    ("visits", "customer_id", "customers", "customer_id"),
    ("contacts", "customer_id", "customers", "customer_id"),
    ("customers", "account_manager_id", "account_managers", "account_manager_id"),
    ("account_managers", "successor_id", "account_managers", "account_manager_id"),
    ("account_managers", "team_lead_id", "account_managers", "account_manager_id"),
)
# Times after the moment a command runs cannot be true. departed_at is left out: a planned leaving date is real.
FUTURE_CHECKED = {
    ("transactions", "timestamp"), ("customers", "signup_date"), ("complaints", "opened_at"),
    ("complaints", "resolved_at"), ("visits", "timestamp"), ("contacts", "contacted_at"),
}
# Naive timestamps are read as UTC; a day's grace keeps local times of far-east zones from reading as future.
FUTURE_GRACE = pd.Timedelta(days=1)
# Columns holding ids some other table lists (see REFERENCES).
ID_COLUMNS = tuple(dict.fromkeys(c for ref in REFERENCES for c in (ref[1], ref[3])))
MAX_EXAMPLES = 5
DATE_FIX = "write dates as ISO 8601 with a real day, e.g. 2024-03-01 or 2024-03-01 13:45:00"
YEAR_FIX = f"check the year: dates must be from {EARLIEST_TIMESTAMP.year} to {END_OF_TIMESTAMPS.year - 1}"
SCORE_TEXT = f"{SCORE_RANGE['min_value']} to {SCORE_RANGE['max_value']}"


@dataclass(frozen=True)
class RawTable:
    """A table as read from its file: values as found, index = line numbers (CSV) or row numbers (Parquet).

    A CSV's index counts one line per record; ``physical_lines`` maps those numbers to the lines where the records
    start in the file (they differ after a quoted value holding line breaks), when anyone needs them.
    """

    file: str
    frame: pd.DataFrame
    physical_lines: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None


@dataclass(frozen=True)
class InputLimits:
    """Limits on plausible values beyond the contract's fixed rules (the ``input`` section of the config).

    ``now``: when the command runs (UTC); events after it (plus a day's grace) are errors unless None.
    ``max_abs_value``: numbers beyond it (1e308, a misplaced decimal) are errors.
    """

    now: pd.Timestamp | None = None
    max_abs_value: float = 1e9


# The Arrow type a reader gives each contract kind when every cell parses: labels as dictionaries (few distinct
# values, repeated), ids as plain text (up to millions of distinct values: a dictionary per row group would cost
# more than it saves), numbers, flags and nanosecond UTC times as they are.
LABELS = pa.dictionary(pa.int32(), pa.string())
CONTRACT_ARROW_TYPES = {
    "id": pa.string(), "str": LABELS, "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
    "datetime": pa.timestamp("ns"),
}


@dataclass(frozen=True)
class TypedTable:
    """A table read straight into :data:`CONTRACT_ARROW_TYPES` (only contract columns), every cell parsed by the
    reader; whether its values keep the contract's rules is for :func:`conforms` to say.

    ``first_row``: the number a person sees for the first row (2 in a CSV, after its header; 1 in Parquet).
    """

    file: str
    table: pa.Table
    first_row: int
    physical_lines: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None


@dataclass(frozen=True)
class CheckedTables:
    """Tables parsed to contract dtypes (unreadable cells as NA, index kept) and every problem found."""

    frames: dict[str, pd.DataFrame]
    problems: list[Problem]


@dataclass(frozen=True)
class RejectedCells:
    """Cells of one column that could not be read as the contract type."""

    mask: pd.Series
    what: str
    fix: str
    severity: str = "error"  # a "warning" keeps the cells (as read)


def check_tables(
    raw: Mapping[str, RawTable],
    limits: InputLimits | None = None,
    typed: Mapping[str, TypedTable] | None = None,
    references: tuple = REFERENCES,
) -> CheckedTables:
    """Parse and check each raw table (its frame in the contract's dtypes), take each typed one (already found to
    conform) as it is, then check the ``references`` between tables' ids.

    ``frames`` holds the raw tables' frames only: the typed tables stay Arrow (see :func:`typed_frame`).
    """
    typed = typed or {}
    frames, problems = {}, []
    for name, table in raw.items():
        frames[name], table_problems = check_table(name, table, limits)
        problems += table_problems
    problems += reference_problems(id_columns(raw, frames, typed), references)
    return CheckedTables(frames, relined(problems, line_maps([*raw.values(), *typed.values()])))


def id_columns(
    raw: Mapping[str, RawTable], frames: Mapping[str, pd.DataFrame], typed: Mapping[str, TypedTable]
) -> dict[str, IdColumns]:
    """Each table's id columns and row numbers, from the checked frames of raw tables and the typed tables."""
    return {
        **{name: _ids_of_frame(table.file, frames[name]) for name, table in raw.items()},
        **{name: _ids_of_typed(table) for name, table in typed.items()},
    }


def line_maps(tables) -> dict[str, Callable]:
    """By file, the map from record-counted line numbers to the lines where records start (CSV files only)."""
    return {t.file: t.physical_lines for t in tables if t.physical_lines is not None}


def relined(problems: list[Problem], lines: Mapping[str, Callable]) -> list[Problem]:
    """Problems with the line numbers of CSV files moved to the lines where the records start (see RawTable)."""
    return [replace(p, rows=lines[p.file](p.rows)) if p.file in lines and p.rows else p for p in problems]


def conforms(name: str, typed: TypedTable, limits: InputLimits | None = None) -> bool:
    """Whether ``typed`` keeps every rule the precise check (:func:`check_table`) applies, tested on whole columns.

    The rules are read from the table's pandera schema (nullable, unique, and its checks by name), so the schema
    stays their one statement; a check this function does not know makes it answer False, and False only means
    "let the precise check find and word the problems", never that there is one.
    """
    limits = limits or InputLimits()
    table, schema = typed.table, TABLE_SCHEMAS[name]
    if table.num_rows == 0:
        return False
    for column, spec in schema.columns.items():
        if column not in table.column_names:
            if spec.required:
                return False
            continue
        kind, values = COLUMNS[name][column][0], table[column]
        if values.type != CONTRACT_ARROW_TYPES[kind]:
            return False
        if (not spec.nullable and values.null_count) or (spec.unique and _repeats(values)):
            return False
        if not all(_holds(check, values) for check in spec.checks):
            return False
        if not _plausible(name, column, kind, values, limits):
            return False
    return all(_table_check_holds(check, table) for check in schema.checks)


def _repeats(values: pa.ChunkedArray) -> bool:
    """Whether a column holds some value (or the null) twice."""
    return values.null_count > 1 or len(pc.unique(values)) < len(values)


def _scalar(value, values: pa.ChunkedArray):
    return pa.scalar(pd.Timestamp(value).as_unit("ns").value, values.type) if pa.types.is_timestamp(values.type) else value


def _holds(check, values: pa.ChunkedArray) -> bool:
    """One pandera column check, on a whole Arrow column (nulls pass, as in pandera)."""
    name, stats = check.name, check.statistics
    if name == "not_blank":
        return not any_blank(values)
    if values.null_count == len(values):
        return True
    low, high = pc.min_max(values).values()  # skips the nulls (no copy of the column without them)
    if name == "greater_than_or_equal_to":
        return pc.greater_equal(low, _scalar(stats["min_value"], values)).as_py()
    if name == "less_than":
        return pc.less(high, _scalar(stats["max_value"], values)).as_py()
    if name == "in_range":
        above = (pc.greater_equal if stats.get("include_min", True) else pc.greater)(low, _scalar(stats["min_value"], values))
        below = (pc.less_equal if stats.get("include_max", True) else pc.less)(high, _scalar(stats["max_value"], values))
        return above.as_py() and below.as_py()
    return False


def _table_check_holds(check, table: pa.Table) -> bool:
    if check.name == "resolved_before_opened":
        if "resolved_at" not in table.column_names:
            return True
        return not pc.any(pc.less(table["resolved_at"], table["opened_at"])).as_py()
    return False


def _plausible(name: str, column: str, kind: str, values: pa.ChunkedArray, limits: InputLimits) -> bool:
    """The checks of :func:`implausible` (and finiteness), on a whole column."""
    if kind == "float":
        if values.null_count == len(values):
            return True
        if not pc.all(pc.is_finite(values)).as_py():  # nulls skipped; a bitmap, not a copy of the column
            return False
        low, high = pc.min_max(values).values()  # finite, so the largest magnitude is at one end
        return max(-low.as_py(), high.as_py()) <= limits.max_abs_value
    if kind == "datetime" and limits.now is not None and (name, column) in FUTURE_CHECKED:
        latest = pc.max(values).as_py()
        return latest is None or pd.Timestamp(latest) <= limits.now + FUTURE_GRACE
    return True


def typed_frame(typed: TypedTable) -> pd.DataFrame:
    """A conforming typed table as a pandas frame in the contract's dtypes (text as pandas' Arrow-backed str)."""
    table = typed.table
    text = [i for i, field in enumerate(table.schema) if pa.types.is_dictionary(field.type)]
    for i in text:
        table = table.set_column(i, table.field(i).name, table.column(i).cast(pa.string()))
    mapping = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan), pa.bool_(): pd.BooleanDtype(),
               pa.int64(): pd.Int64Dtype()}
    return table.to_pandas(types_mapper=mapping.get)


def check_table(name: str, table: RawTable, limits: InputLimits | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """One table parsed to its contract dtypes (bad cells NA, index kept), and its problems."""
    frame = table.frame
    limits = limits or InputLimits()
    problems = [] if len(frame) else [_no_rows_problem(name, table.file)]
    parsed, unreadable = {}, {}
    for column, (kind, _) in COLUMNS[name].items():
        if column not in frame.columns:
            continue
        parsed[column], rejected = parse_column(kind, frame[column])
        rejected = [r for r in [*rejected, *implausible(name, column, kind, parsed[column], limits)] if r.mask.any()]
        problems += [
            Problem(
                table.file, column, _lines(r.mask), f"{r.what} ({_examples(frame[column][r.mask])})", r.fix,
                severity=r.severity,
            )
            for r in rejected
        ]
        errors = [r.mask for r in rejected if r.severity == "error"]
        if errors:
            unreadable[column] = frame.index[pd.concat(errors, axis=1).any(axis=1).to_numpy()]
    typed = frame.assign(**parsed)
    problems += schema_problems(name, table.file, typed, frame, unreadable)
    # Read column by column, top to bottom, as the file is laid out.
    position = {column: i for i, column in enumerate(frame.columns)}
    return typed, sorted(problems, key=lambda p: (position.get(p.column, -1), p.rows[:1]))


def implausible(
    table: str, column: str, kind: str, parsed: pd.Series, limits: InputLimits
) -> list[RejectedCells]:
    """Readable values that cannot be true: times after the run, numbers beyond the configured magnitude."""
    if kind == "float":
        fix = "correct the value; if such magnitudes are real, raise input.max_abs_value in the config"
        return [RejectedCells(parsed.abs() > limits.max_abs_value, f"beyond +-{limits.max_abs_value:,.0f}", fix)]
    if kind == "datetime" and limits.now is not None and (table, column) in FUTURE_CHECKED:
        what = f"in the future (after {limits.now:%Y-%m-%d %H:%M} UTC, when this command ran)"
        fix = "correct the date (a mistyped year?); for back-dated test data set input.allow_future_timestamps: true"
        return [RejectedCells(parsed > limits.now + FUTURE_GRACE, what, fix)]
    return []


def parse_column(kind: str, values: pd.Series) -> tuple[pd.Series, list[RejectedCells]]:
    """``values`` in the dtype of ``kind`` (features.tables), with the cells that could not be read."""
    if kind == "id":
        return _parse_id(values)
    if kind == "str":
        return _as_text(values), []
    if kind == "float":
        return _parse_float(values)
    if kind == "int":
        return _parse_int(values)
    if kind == "bool":
        return _parse_bool(values)
    return _parse_datetime(values)


def _as_text(values: pd.Series) -> pd.Series:
    return values if values.dtype == "str" else values.astype("str")


def _parse_id(values: pd.Series) -> tuple[pd.Series, list[RejectedCells]]:
    """Ids as text. Ids stored as numbers (Parquet) are matched as text too: whole floats lose their ".0"
    (1168.0 -> "1168", as the same id reads in a CSV), with a warning; other fractions are refused."""
    if not pd.api.types.is_float_dtype(values.dtype):
        return _as_text(values), []
    numbers = values.astype("float64")
    whole = numbers.notna() & (numbers == numbers.round()) & (numbers.abs() < 2**53)
    text = pd.Series(pd.NA, index=values.index, dtype="str")
    text[whole] = numbers[whole].astype("int64").astype("str")
    fraction = numbers.notna() & ~whole
    fix = "store ids as text (or whole numbers) in the file"
    return text, [
        RejectedCells(whole, "ids stored as decimal numbers; read as whole numbers without the .0", fix, "warning"),
        RejectedCells(fraction, "not a whole-number id", fix),
    ]


def _blank_as_missing(values: pd.Series) -> pd.Series:
    text = _as_text(values).str.strip()
    return text.mask(text == "")


def _parse_float(values: pd.Series) -> tuple[pd.Series, list[RejectedCells]]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        present = numbers.notna()
    else:
        text = _blank_as_missing(values)
        present = text.notna()
        numbers = _text_to_float(text)
    bad = present & ~np.isfinite(numbers)
    fix = "use a dot as decimal separator and no thousands separators or currency signs"
    return numbers.mask(bad), [RejectedCells(bad, "not a number", fix)]


def _text_to_float(text: pd.Series) -> pd.Series:
    """Numbers from text, NaN where a cell is not one: Arrow's cast (C++, ~20x pandas' per-cell parse) when it
    reads every cell, else pandas' coercion, which also gives the NaN cells that are then reported."""
    try:
        numbers = pc.cast(pa.array(text.array), pa.float64())
    except pa.ArrowInvalid:
        return pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=text.index, name=text.name)


def _parse_int(values: pd.Series) -> tuple[pd.Series, list[RejectedCells]]:
    numbers, rejected = _parse_float(values)
    # Beyond 2**53 a float no longer holds an exact integer (and the cast to Int64 would fail).
    fractional = numbers.notna() & ((numbers != numbers.round()) | (numbers.abs() > 2**53))
    whole = RejectedCells(fractional, "not a whole number", f"use a whole number from {SCORE_TEXT}")
    return numbers.mask(fractional).astype("Int64"), rejected + [whole]


def _parse_bool(values: pd.Series) -> tuple[pd.Series, list[RejectedCells]]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), []
    text = _blank_as_missing(values).str.lower()
    # isin against the six words (Series.map would make a Python object of every cell).
    true = text.isin(TRUE_WORDS).to_numpy(dtype=bool)
    known = true | text.isin(FALSE_WORDS).to_numpy(dtype=bool)
    flags = pd.Series(pd.arrays.BooleanArray(true, ~known), index=text.index, name=text.name)
    bad = text.notna() & ~known
    fix = "use true/false (1/0 and yes/no are accepted too), or leave it empty"
    return flags, [RejectedCells(bad, "not true or false", fix)]


def _parse_datetime(values: pd.Series) -> tuple[pd.Series, list[RejectedCells]]:
    """Timestamps as tz-naive UTC ``datetime64[ns]``; values with an offset are converted to UTC first."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz is not None else values
        present = parsed.notna()
    else:
        text = _blank_as_missing(values)
        present = text.notna()
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce").dt.tz_localize(None)
    # Years beyond datetime64[ns] (before 1677 or after 2262) are pinned to its limits rather than lost: the
    # pandera model then reports them with the other out-of-range dates, quoting the original text.
    limits = {"lower": pd.Timestamp.min.ceil("s"), "upper": pd.Timestamp.max.floor("s")}
    bad = present & parsed.isna()
    return parsed.clip(**limits).mask(bad).astype(DATETIME_DTYPE), [
        RejectedCells(bad, "not a valid date", DATE_FIX)
    ]


def schema_problems(
    name: str, file: str, typed: pd.DataFrame, raw: pd.DataFrame, unreadable: Mapping[str, pd.Index]
) -> list[Problem]:
    """The pandera model's failures on ``typed`` as Problems, quoting the ``raw`` values.

    Cells already reported as unreadable are NA in ``typed``; they are not reported again as empty.
    """
    try:
        TABLE_SCHEMAS[name].validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    # A dataframe-level check fails once per column of a failing row: report it once, on the column it is about.
    is_resolved_check = cases["check"] == "resolved_before_opened"
    cases = cases.assign(column=cases["column"].mask(is_resolved_check, "resolved_at"))
    problems = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        if check == "column_in_dataframe":
            problems += [
                _missing_column_problem(file, missing, raw.columns) for missing in group["failure_case"]
            ]
            continue
        what, fix = _describe_failure(name, column, check.split("(")[0])
        rows = pd.Index(group["index"].astype("int64").unique())
        if check == "not_nullable":
            rows = rows.difference(unreadable.get(column, pd.Index([])))
        if len(rows):
            examples = (
                "" if check in ("not_nullable", "not_blank") else f" ({_examples(raw.loc[rows, column])})"
            )
            problems.append(Problem(file, column, tuple(rows.sort_values().tolist()), what + examples, fix))
    return problems


def _describe_failure(name: str, column: str, check: str) -> tuple[str, str]:
    """(what is wrong, how to fix it) for one pandera check that failed on ``column``."""
    if check == "resolved_before_opened":
        return "resolved before it was opened", "resolved_at must be on or after opened_at"
    if check in ("not_nullable", "not_blank"):
        return "empty" if check == "not_nullable" else "only spaces", f"fill in {column} on every row"
    if check == "field_uniqueness":
        return "duplicate values", f"each {column} may appear only once in {name}; remove the repeats"
    if COLUMNS[name][column][0] == "datetime":
        if check == "greater_than_or_equal_to":
            return f"date before {EARLIEST_TIMESTAMP.year}", YEAR_FIX
        return f"date after {END_OF_TIMESTAMPS.year - 1}", YEAR_FIX
    if check == "greater_than_or_equal_to":
        return "negative", f"{column} must be 0 or more (or empty)"
    if check == "in_range" and column == "margin_rate":
        return "outside 0 to 1", "write the margin as a share between 0 and 1 (e.g. 0.3 for 30%), or leave it empty"
    if check == "in_range":
        return f"outside {SCORE_TEXT}", f"use a whole number from {SCORE_TEXT}, or leave it empty"
    return f"fails the check {check}", ""


@dataclass(frozen=True)
class IdColumns:
    """One table's id columns for the reference checks: values as Arrow (text or dictionary-encoded text) and the
    row number of each value (None: ``first_row`` + position)."""

    file: str
    columns: dict[str, pa.ChunkedArray]
    rows: np.ndarray | None
    first_row: int

    def row_numbers(self, positions: np.ndarray) -> tuple[int, ...]:
        numbers = self.rows[positions] if self.rows is not None else positions + self.first_row
        return tuple(np.asarray(numbers, dtype=np.int64).tolist())


def _ids_of_frame(file: str, frame: pd.DataFrame) -> IdColumns:
    columns = {c: pa.chunked_array([pa.array(frame[c].array)]) for c in ID_COLUMNS if c in frame.columns}
    return IdColumns(file, columns, frame.index.to_numpy(dtype=np.int64), 0)


def _ids_of_typed(table: TypedTable) -> IdColumns:
    columns = {c: table.table[c] for c in ID_COLUMNS if c in table.table.column_names}
    return IdColumns(table.file, columns, None, table.first_row)


def _distinct_text(values: pa.ChunkedArray) -> pa.Array:
    """The distinct non-null values of a text or dictionary-encoded text column, as text."""
    if pa.types.is_dictionary(values.type):
        values = values.unify_dictionaries() if values.num_chunks > 1 else values
        used = pc.unique(values).drop_null()  # dictionary entries some row refers to
        return used.cast(pa.string()) if len(used) else pa.array([], pa.string())
    return pc.unique(values).drop_null()


def _rows_with_values_in(values: pa.ChunkedArray, chosen: pa.Array) -> np.ndarray:
    """Positions of the rows whose value is one of ``chosen`` (looked up once per distinct value)."""
    if pa.types.is_dictionary(values.type):
        positions, offset = [], 0
        for chunk in values.chunks:
            entries = pc.is_in(chunk.dictionary.cast(pa.string()), value_set=chosen).to_numpy(zero_copy_only=False)
            indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            hit = np.append(entries, False)[indices]
            positions.append(np.flatnonzero(hit) + offset)
            offset += len(chunk)
        return np.concatenate(positions) if positions else np.array([], dtype=np.int64)
    return np.flatnonzero(pc.is_in(values, value_set=chosen).to_numpy(zero_copy_only=False))


def reference_problems(tables: Mapping[str, IdColumns], references: tuple = REFERENCES) -> list[Problem]:
    """Warnings for ids used in one table but absent from the table that lists them (the rows are kept)."""
    problems = []
    for table, column, target, target_column in references:
        if column not in getattr(tables.get(table), "columns", {}) or target_column not in getattr(
            tables.get(target), "columns", {}
        ):
            continue
        ids = tables[table].columns[column]
        distinct = _distinct_text(ids)  # each distinct id looked up once: tables repeat their customers
        known = _distinct_text(tables[target].columns[target_column])
        unknown = distinct.filter(pc.invert(pc.is_in(distinct, value_set=known)))
        unknown = unknown.filter(pc.invert(_blank(unknown)))  # blank ids are errors of their own
        if not len(unknown):
            continue
        positions = _rows_with_values_in(ids, unknown)
        values = ids.take(pa.array(positions)).cast(pa.string())
        rows = tables[table].row_numbers(positions)
        problems.append(unknown_ids_problem(tables[table].file, column, tables[target].file, values, rows))
    return problems


def unknown_ids_problem(file: str, column: str, target_file: str, values, rows: tuple[int, ...]) -> Problem:
    """The warning for the rows ``rows`` of ``file``, whose ``column`` holds ``values`` (ids, in row order) that
    ``target_file`` lacks."""
    values = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    shown: dict[str, None] = {}
    for start in range(0, len(values), 1_000):  # the first few distinct values, in row order
        shown |= dict.fromkeys(values.slice(start, 1_000).to_pylist())
        if len(shown) > MAX_EXAMPLES:
            break
    count = len(pc.unique(values)) if len(shown) > MAX_EXAMPLES else len(shown)
    examples = ", ".join(repr(v) for v in list(shown)[:MAX_EXAMPLES]) + (", ..." if count > MAX_EXAMPLES else "")
    what = f"{count} {column} value(s) not in {target_file} ({examples})"
    fix = f"add them to {target_file} or correct the ids; these rows are kept"
    return Problem(file, column, rows, what, fix, severity="warning")


# First bytes a blank text can start with: ASCII whitespace, or the lead byte of a multi-byte character (which may
# be a Unicode space such as U+00A0).
_MAY_START_BLANK = np.zeros(256, dtype=bool)
_MAY_START_BLANK[[9, 10, 11, 12, 13, 32]] = True
_MAY_START_BLANK[0x80:] = True


def any_blank(values: pa.ChunkedArray) -> bool:
    """Whether some text is empty or only spaces, reading the first byte of each (tens of millions of ids):
    only the few texts whose first byte may begin a space are checked in full."""
    for chunk in values.chunks:
        chunk = chunk.cast(pa.large_string())
        valid = chunk.is_valid().to_numpy(zero_copy_only=False)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset: chunk.offset + len(chunk) + 1]
        data = chunk.buffers()[2]
        if ((np.diff(offsets) == 0) & valid).any():
            return True
        if data is None or data.size == 0:  # no text at all (empty texts were found above)
            continue
        first = np.frombuffer(data, dtype=np.uint8)[np.minimum(offsets[:-1], data.size - 1)]
        suspects = np.flatnonzero(_MAY_START_BLANK[first] & valid)
        if len(suspects) and pc.any(_blank(chunk.take(pa.array(suspects)))).as_py():
            return True
    return False


def _blank(values: pa.Array) -> pa.Array:
    """True where a text is empty or only spaces (as ``features.schemas.not_blank`` reads it, negated)."""
    return pc.or_(pc.utf8_is_space(values), pc.equal(pc.utf8_length(values), 0))


def summarize(frames: Mapping[str, pd.DataFrame], files: Mapping[str, str]) -> dict:
    """Tables found (file names), rows per table, number of customers, first and last event time."""
    ids = frames["customers"] if "customers" in frames else frames.get("transactions")
    times = [
        frames[name][column] for name, column in EVENT_TIME_COLUMN.items() if column in frames.get(name, {})
    ]
    times = pd.concat(times).dropna() if times else pd.Series([], dtype=DATETIME_DTYPE)
    return {
        "tables": {name: file for name, file in files.items() if name in frames},
        "rows": {name: len(frame) for name, frame in frames.items()},
        "customers": int(ids["customer_id"].nunique()) if ids is not None and "customer_id" in ids else 0,
        "first_event": times.min() if len(times) else None,
        "last_event": times.max() if len(times) else None,
    }


def _no_rows_problem(name: str, file: str) -> Problem:
    if name in POPULATION_TABLES:
        return Problem(file, None, (), "has a header but no rows", f"add the {name} rows; they are needed")
    fix = f"read as no {name.replace('_', ' ')}; remove the file if that is intended"
    return Problem(file, None, (), "has a header but no rows", fix, severity="warning")


def loose_name(name: object) -> str:
    """A column name without case, spaces, underscores or hyphens: how "Customer ID" matches customer_id."""
    return "".join(ch for ch in str(name).lower() if ch not in " _-\t")


def _missing_column_problem(file: str, column: str, found: pd.Index) -> Problem:
    header = ", ".join(repr(c) for c in found[:20]) or "none"
    fix = f"add a column named {column} (found: {header})"
    alike = [c for c in found if loose_name(c) == loose_name(column)]
    if alike:  # the column is there under another spelling: say which one to rename
        fix = f"rename the column {alike[0]!r} to {column} (names are exact: lower case, underscores)"
    return Problem(file, column, (), "required column is missing", fix)


def _lines(mask: pd.Series) -> tuple[int, ...]:
    return tuple(mask.index[mask.to_numpy()].astype("int64").tolist())


def _examples(values: pd.Series) -> str:
    """The first few distinct values, quoted as the file has them."""
    distinct = values.drop_duplicates()
    shown = ", ".join(repr(str(v)) for v in distinct.iloc[:MAX_EXAMPLES])
    return shown + (", ..." if len(distinct) > MAX_EXAMPLES else "")
