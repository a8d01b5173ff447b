"""The `churn` command: parses options, calls one pipeline step, renders ChurnErrors as one screen (exit 1)."""

from __future__ import annotations

import functools
import logging
from datetime import date
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.errors import ChurnError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Churn prediction: validate data, build point-in-time features, train, and write the weekly win-back list.",
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="YAML config file (default: configs/default.yaml).", dir_okay=False),
]
DataDirOpt = Annotated[Path, typer.Option("--data", help="Data directory with customers.*, transactions.*, ...")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="As-of date YYYY-MM-DD: only events strictly before it are used.")
]


class FileFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


def _handles_errors(command):
    """Render ChurnError as a one-screen message with exit code 1; tracebacks only with --debug."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ChurnError as exc:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]Error:[/] {exc.render()}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted; no partial output was written.")
            raise typer.Exit(130) from None

    return wrapper


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ChurnError(f"{option} {value!r} is not a date.", f"write it as YYYY-MM-DD, e.g. {option} 2025-06-30") from None


def _version(value: bool):
    if value:
        console.print(f"churn-pipeline {version('churn-pipeline')}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """Churn prediction pipeline."""
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
@_handles_errors
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic data directory into.")],
    customers: Annotated[int | None, typer.Option("--customers", help="Number of customers.", min=1)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = None,
    file_format: Annotated[FileFormat, typer.Option("--format", help="csv or parquet.")] = FileFormat.csv,
    config: ConfigOpt = None,
):
    """Write a synthetic data directory that follows the data contract, with its latent truth in _truth/."""
    from pipeline.config import load_config
    from pipeline.generate import write_world

    cfg = load_config(config, {"generate.customers": customers, "generate.seed": seed})
    summary = write_world(out, cfg.generate.customers, cfg.generate.seed, file_format.value)
    console.print(summary)


@app.command()
@_handles_errors
def validate(data: DataDirOpt, config: ConfigOpt = None):
    """Check every table against the data contract and list every problem (file, column, lines, what)."""
    from pipeline.config import load_config
    from pipeline.validate import validate_data_dir

    load_config(config)
    report = validate_data_dir(data)
    for problem in report.warnings:
        err_console.print(f"[yellow]Warning:[/] {problem.render()}", highlight=False, soft_wrap=True)
    if report.errors:
        err_console.print(f"[bold red]{len(report.errors)} problem(s) in {data}:[/]", highlight=False)
        for problem in report.errors:
            err_console.print(f"  {problem.render()}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(report.render_summary(), highlight=False)


@app.command()
@_handles_errors
def features(
    data: DataDirOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="As-of date YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    config: ConfigOpt = None,
):
    """Write point-in-time features for the customers active at --as-of (events strictly before it)."""
    from pipeline.config import load_config
    from pipeline.featurize import write_features

    cfg = load_config(config)
    n_rows = write_features(data, _parse_date(as_of, "--as-of"), out, cfg)
    console.print(f"Wrote features of {n_rows} active customers to {out}")
