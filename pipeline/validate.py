"""Step `churn validate`: read a data directory and report every problem with the contract (never raises for bad data)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from features.settings import OTHER_LABEL, FeatureSettings
from features.tables import COLUMNS, TABLE_NAMES
from pipeline.bucket_store import is_bucketed, is_url
from pipeline.contract import InputLimits, check_tables, loose_name, summarize, typed_frame
from pipeline.errors import Problem
from pipeline.io import file_header, read_tables


@dataclass(frozen=True)
class ValidationReport:
    """What ``churn validate`` shows: every problem, and a summary (tables, rows, customers, event dates)."""

    problems: list[Problem]
    summary: dict

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render_summary(self) -> str:
        """A few lines for the console: the tables read, customers, event dates, and the outcome."""
        tables = ", ".join(
            f"{file} ({self.summary['rows'].get(name, 0):,} rows)"
            for name, file in self.summary["tables"].items()
        )
        first, last = self.summary["first_event"], self.summary["last_event"]
        dates = f"events from {first:%Y-%m-%d} to {last:%Y-%m-%d}" if first is not None else "no events"
        verdict = "OK" if self.ok else f"{len(self.errors)} error(s)"
        return (
            f"Tables: {tables or 'none'}\n{self.summary['customers']:,} customers; {dates}\n"
            f"{verdict}, {len(self.warnings)} warning(s)"
        )


def validate_data_dir(
    data_dir: str | Path, limits: InputLimits | None = None, settings: FeatureSettings | None = None
) -> ValidationReport:
    """Read and check every table of ``data_dir``; never raises for bad data, reports it. With ``settings``, also
    warns of the complaint categories and visit channels its features would count as "other"."""
    raw, typed, problems = read_tables(data_dir, limits)
    checked = check_tables(raw, limits, typed)
    files = {name: table.file for name, table in (*raw.items(), *typed.items())}
    ordered = {name: files[name] for name in TABLE_NAMES if name in files}
    frames = checked.frames | {name: typed_frame(table) for name, table in typed.items()}
    labels = unlisted_labels(frames, files, settings) if settings is not None else []
    local = not (is_url(data_dir) or is_bucketed(data_dir))
    unread = unread_columns({name: Path(data_dir) / file for name, file in ordered.items()}) if local else []
    return ValidationReport(problems + checked.problems + labels + unread, summarize(frames, ordered))


def unread_columns(paths: dict[str, Path]) -> list[Problem]:
    """Warnings for the columns of the table files that nothing reads, so no signal is dropped unseen: a contract
    column under another spelling ("Category"), one each, and the others in one list per file. A required
    column under another spelling is already an error."""
    problems = []
    for name, path in paths.items():
        header = file_header(path)
        contract = COLUMNS[name]
        absent = {loose_name(c): c for c in contract if c not in header}
        others = []
        for column in (c for c in header if c not in contract):
            meant = absent.get(loose_name(column))
            if meant is None:
                others.append(column)
            elif not contract[meant][1]:
                what = f"not read: the data contract names this column {meant}"
                problems.append(Problem(path.name, column, (), what, f"rename it to {meant} to use it",
                                        severity="warning"))
        if others:
            more = f" and {len(others) - 10} more" if len(others) > 10 else ""
            shown = ", ".join(repr(c) for c in others[:10]) + more
            problems.append(Problem(
                path.name, None, (), f"{len(others)} column(s) not in the data contract, not read: {shown}",
                "rename any that means a contract column (see DATA_CONTRACT.md); the others can stay",
                severity="warning",
            ))
    return problems


# Label columns whose listed values are features of their own; the setting that lists them.
LABEL_SETTINGS = {("complaints", "category"): "complaint_categories", ("visits", "channel"): "visit_channels"}


def unlisted_labels(frames: dict, files: dict[str, str], settings: FeatureSettings) -> list[Problem]:
    """A warning per label column with values the features count as "other" though the data names them."""
    problems = []
    for (table, column), setting in LABEL_SETTINGS.items():
        frame = frames.get(table)
        if frame is None or column not in frame:
            continue
        values = frame[column].dropna().astype("str")
        counts = values[~values.isin([*getattr(settings, setting), OTHER_LABEL])].value_counts()
        if counts.empty:
            continue
        shown = ", ".join(f"{value} ({n:,})" for value, n in counts.head(8).items())
        more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
        problems.append(Problem(
            files[table], column, (),
            f"{_rows_hold(int(counts.sum()))} values the features count as other: {shown}{more}",
            f"to count them apart, list them in features.{setting} of your config (then retrain)",
            severity="warning",
        ))
    return problems


def _rows_hold(n: int) -> str:
    return "1 row holds" if n == 1 else f"{n:,} rows hold"
