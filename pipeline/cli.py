"""The `churn` command: parses options, calls one pipeline step, renders ChurnErrors as one screen (exit 1)."""

from __future__ import annotations

import functools
import logging
import signal
import warnings
from datetime import date
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

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
DataDirOpt = Annotated[
    str,
    typer.Option(
        "--data",
        help="Data directory with customers.*, transactions.*, ...; or a bucketed directory (`churn partition`), "
        "also as an fsspec URL such as s3://bucket/path.",
    ),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="As-of date YYYY-MM-DD: only events strictly before it are used.")
]


class FileFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


class EngineKind(str, Enum):
    local = "local"
    dask = "dask"


EngineOpt = Annotated[
    EngineKind | None,
    typer.Option(
        "--engine", help="local: this process, bucket by bucket; dask: a Dask cluster (default: engine.kind)."
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of an existing Dask scheduler, e.g. tcp://scheduler:8786; implies --engine dask "
        "(default: engine.scheduler, else a Dask cluster on this machine).",
    ),
]


def _engine_overrides(engine: EngineKind | None, scheduler: str | None) -> dict:
    """--engine and --scheduler as config overrides; a scheduler alone means the Dask engine."""
    if engine is EngineKind.local and scheduler:
        raise ChurnError("--scheduler is for the Dask engine, not --engine local.", "drop one of the two options")
    kind = engine.value if engine else ("dask" if scheduler else None)
    return {"engine.kind": kind, "engine.scheduler": scheduler}


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


def _interrupt_on_terminate(signum, frame):
    """SIGTERM (how cron, Airflow and Kubernetes stop a job) unwinds like Ctrl-C, so temp files are removed."""
    raise KeyboardInterrupt


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """Churn prediction pipeline."""
    _state["debug"] = debug
    signal.signal(signal.SIGTERM, _interrupt_on_terminate)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        # MLflow and git chatter (model logging notices, registry INFO lines) is noise for analysts.
        for name in ("mlflow", "git", "alembic", "urllib3"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="mlflow")


@app.command()
@_handles_errors
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic data directory into.")],
    customers: Annotated[int | None, typer.Option("--customers", help="Number of customers.", min=1)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = None,
    file_format: Annotated[FileFormat, typer.Option("--format", help="csv or parquet.")] = FileFormat.csv,
    history_days: Annotated[
        int | None,
        typer.Option("--history-days", help="Keep only the last N days of transactions, complaints and visits.", min=1),
    ] = None,
    only_transactions: Annotated[
        bool, typer.Option("--transactions-only", help="Write only transactions (no customers, complaints, ...).")
    ] = False,
    seasonal_churn: Annotated[
        float,
        typer.Option(
            "--seasonal-churn",
            help="Amplitude A of a yearly cycle in the churn hazard, x (1 + A cos(...)), 0 <= A < 1 (0: none).",
            min=0.0,
            max=0.99,
        ),
    ] = 0.0,
    config: ConfigOpt = None,
):
    """Write a synthetic data directory that follows the data contract, with its latent truth in _truth/."""
    from pipeline.config import load_config
    from pipeline.generate import write_world

    cfg = load_config(config, {"generate.customers": customers, "generate.seed": seed})
    summary = write_world(
        out, cfg.generate.customers, cfg.generate.seed, file_format.value,
        history_days=history_days, only_transactions=only_transactions, seasonal_churn=seasonal_churn,
    )
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
def partition(
    data: DataDirOpt,
    out: Annotated[str, typer.Option("--out", help="Bucketed directory to write: a folder or an fsspec URL.")],
    buckets: Annotated[int, typer.Option("--buckets", help="Number of customer buckets, e.g. 64.")],
    config: ConfigOpt = None,
):
    """Rewrite a data directory as Parquet partitioned by customer bucket, for --engine dask on big data.

    Every table of a customer lands in the same bucket (a stable hash of customer_id).
    """
    from pipeline.config import load_config
    from pipeline.partition import partition_data_dir

    load_config(config)
    written = partition_data_dir(data, out, buckets)
    console.print(f"Wrote {', '.join(written.tables)} in {written.n_buckets} customer buckets to {out}")


@app.command()
@_handles_errors
def features(
    data: DataDirOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="As-of date YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    config: ConfigOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
):
    """Write point-in-time features for the customers active at --as-of (events strictly before it)."""
    from pipeline.config import load_config
    from pipeline.featurize import write_features

    cfg = load_config(config, _engine_overrides(engine, scheduler))
    n_rows = write_features(data, _parse_date(as_of, "--as-of"), out, cfg)
    console.print(f"Wrote features of {n_rows} active customers to {out}")


class _StepProgress:
    """One progress line per pipeline step: a spinner while it runs, then its elapsed time."""

    def __init__(self):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console
        )
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __call__(self, message: str):
        self._finish()
        self.task = self.progress.add_task(message, total=1)

    def _finish(self):
        if self.task is not None:
            self.progress.update(self.task, completed=1)

    def __exit__(self, *exc):
        self._finish()
        return self.progress.__exit__(*exc)


def _print_backtest(result) -> None:
    """Metrics as rows, candidates as columns: fits an 80-column terminal."""
    from rich.table import Table

    metrics = result.backtest.metrics
    rows = ["roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_10", "emp", "emp_fraction"]
    means = metrics.groupby("candidate")[rows].mean()
    shipped = f"model_{result.calibration}"
    order = [shipped, *(c for c in means.index if c != shipped)]
    estimate = result.estimate
    kind = "Rolling-origin backtest" if estimate["kind"] == "backtest" else "Cross-fitted estimate"
    n_eval = len(estimate["evaluation_cutoffs"])
    table = Table(title=f"{kind} (mean over {n_eval} evaluation cutoff{'s' if n_eval != 1 else ''})")
    table.add_column("metric")
    for candidate in order:
        header = candidate.replace("_", "\n", 1) + ("\n(shipped)" if candidate == shipped else "")
        table.add_column(header, justify="right", style="bold" if candidate == shipped else None)
    for metric in rows:
        table.add_row(metric, *(f"{means.loc[c, metric]:.4f}" for c in order))
    console.print(table)
    console.print(f"Estimate: {estimate['summary']}", highlight=False)
    for baseline in ("baseline_recency", "baseline_bgnbd"):
        behind = [m for m in ("roc_auc", "pr_auc") if means.loc[shipped, m] <= means.loc[baseline, m]]
        if behind:
            figures = ", ".join(f"{m} {means.loc[shipped, m]:.4f} vs {means.loc[baseline, m]:.4f}" for m in behind)
            err_console.print(
                f"[yellow]Note:[/] on this estimate the model does not beat {baseline.replace('_', ' ')} ({figures}).",
                highlight=False,
            )


@app.command()
@_handles_errors
def train(
    data: DataDirOpt,
    config: ConfigOpt = None,
    horizon_days: Annotated[
        int | None, typer.Option("--horizon-days", help="Churn = no purchase in this many days after the cutoff.")
    ] = None,
    active_window_days: Annotated[
        int | None, typer.Option("--active-window-days", help="Active = bought in this many days before the cutoff.")
    ] = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
):
    """Backtest, train and register the churn model on every fully observed snapshot of --data.

    The snapshots' features are built on --engine; the model is trained in this process.
    """
    from pipeline.config import load_config
    from pipeline.train import train_and_register

    cfg = load_config(
        config,
        {"churn.horizon_days": horizon_days, "churn.active_window_days": active_window_days,
         **_engine_overrides(engine, scheduler)},
    )
    with _StepProgress() as progress:
        result = train_and_register(data, cfg, progress=progress)
    _print_backtest(result)
    outcome = result.outcome
    console.print(f"Calibration: {result.calibration}; {result.n_snapshot_rows:,} snapshot rows.")
    console.print(f"Registered {cfg.tracking.registered_model} version {outcome.version}: {outcome.decision}.")
    console.print(f"MLflow run {outcome.run_id} in {outcome.tracking_uri} (see it with: mlflow ui --backend-store-uri {outcome.tracking_uri})")


def _print_scoring(result, cfg) -> None:
    console.print(
        f"Scored {result.n_customers:,} active customers as of {result.as_of.date()} with model "
        f"{result.model_version}; {result.n_target:,} in the target group."
    )
    for override in result.definition_overrides:
        err_console.print(f"[yellow]Definition overridden:[/] {escape(override.describe())}", highlight=False)
    strong = result.drift[result.drift > cfg.scoring.drift_strong_psi]
    warn = result.drift[(result.drift > cfg.scoring.drift_warning_psi) & (result.drift <= cfg.scoring.drift_strong_psi)]
    for name, psi in strong.items():
        err_console.print(f"[bold red]Strong drift:[/] {name} (PSI {psi:.3f} > {cfg.scoring.drift_strong_psi})")
    for name, psi in warn.items():
        err_console.print(f"[yellow]Drift warning:[/] {name} (PSI {psi:.3f} > {cfg.scoring.drift_warning_psi})")
    console.print(f"Win-back list: {result.out}")
    console.print(f"Report:        {result.report}")
    console.print(f"Scored table:  {result.scored}")


@app.command()
@_handles_errors
def score(
    data: DataDirOpt,
    out: Annotated[Path, typer.Option("--out", help="The win-back list to write (.csv).")],
    as_of: AsOfOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="MLflow model URI (default: the registered champion).")
    ] = None,
    scored_out: Annotated[
        str | None,
        typer.Option(
            "--scored-out",
            help="Where the full scored table goes (Parquet by bucket; a folder or fsspec URL the Dask workers "
            "reach; default: beside --out as NAME_scored/).",
        ),
    ] = None,
    config: ConfigOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
    override_definition: Annotated[
        bool,
        typer.Option(
            "--override-definition",
            help="Score with the config's churn and feature settings where they differ from the model's "
            "(recorded with the list); by default such a difference is refused.",
        ),
    ] = False,
):
    """Write the ranked, explained win-back list of customers active at --as-of, its report and scored table.

    The churn definition (active window, horizon) and the feature settings are the model's.
    """
    from pipeline.config import load_config
    from pipeline.score import write_winback

    cfg = load_config(config, _engine_overrides(engine, scheduler))
    with _StepProgress() as progress:
        result = write_winback(
            data, out, _parse_date(as_of, "--as-of"), model, cfg, progress=progress, scored_out=scored_out,
            override_definition=override_definition,
        )
    _print_scoring(result, cfg)


@app.command()
@_handles_errors
def demo(config: ConfigOpt = None):
    """The main job on the embedded sample: generate data/sample (unless present), train, score, report."""
    from pipeline.config import load_config
    from pipeline.demo import run_demo

    cfg = load_config(config)
    with _StepProgress() as progress:
        result = run_demo(cfg, progress=progress)
    if result.generated:
        console.print(f"Generated the sample world in {result.data_dir}")
    _print_backtest(result.training)
    console.print(f"Model: {result.training.outcome.decision}.")
    _print_scoring(result.scoring, cfg)
