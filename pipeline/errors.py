"""The ChurnError family: domain errors the CLI renders as one screen (what, where, how to fix), exit 1."""

from __future__ import annotations

from dataclasses import dataclass


class ChurnError(Exception):
    """A problem the user can fix; ``hint`` says how."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message + (f"\nHow to fix: {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class Problem:
    """One problem found in the input data: file, column, where, what is wrong, how to fix it.

    ``rows`` are 1-based line numbers as seen in a CSV file (header = line 1), or row numbers for Parquet.
    """

    file: str
    column: str | None
    rows: tuple[int, ...]
    what: str
    fix: str = ""
    severity: str = "error"  # "error" or "warning"

    def render(self, max_rows: int = 10) -> str:
        where = self.file + (f", column {self.column}" if self.column else "")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:max_rows])
            more = f" (and {len(self.rows) - max_rows} more)" if len(self.rows) > max_rows else ""
            unit = "row" if self.file.endswith(".parquet") else "line"  # Parquet has rows, not file lines
            label = unit if len(self.rows) == 1 else unit + "s"
            where += f", {label} {shown}{more}"
        text = f"{where}: {self.what}"
        return text + (f"; {self.fix}" if self.fix else "")


class InputDataError(ChurnError):
    """The data directory breaks the contract; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem], max_shown: int = 30):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [p.render() for p in errors[:max_shown]]
        if len(errors) > max_shown:
            lines.append(f"... and {len(errors) - max_shown} more problems")
        super().__init__(
            f"The input data breaks the data contract ({len(errors)} problem(s)):\n  " + "\n  ".join(lines),
            "correct the rows named above (or remove them) and run `churn validate --data DIR` again.",
        )


class Interrupted(ChurnError):
    """Ctrl-C or SIGTERM stopped a command; the message says what was and was not written."""

    exit_code = 130


class ConfigError(ChurnError):
    """A configuration file or CLI override is invalid; the message names the file and the key path."""


class ModelError(ChurnError):
    """No usable model (none registered, or its feature schema differs from the data's)."""
