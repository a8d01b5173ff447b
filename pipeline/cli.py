"""The `churn` command: parses options, calls one pipeline step, renders ChurnErrors as one screen (exit 1)."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import time
import warnings
from datetime import date, timedelta
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from pipeline.errors import ChurnError, Interrupted

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich panels show every flag as taking a value ("--debug <bool>").
    rich_markup_mode=None,
    help="Churn prediction: validate data, build point-in-time features, train, and write the weekly win-back list.",
)
# No markup and no highlighting: messages quote values from the data ("[/red]12", "[n/a]"), which must print as
# they are; styled labels are Text pieces (see _labelled).
console = Console(soft_wrap=True, markup=False, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def _labelled(label: str, style: str, text: str) -> Text:
    """``text`` after a styled ``label``, both printed literally."""
    return Text.assemble((label, style), text)
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
HistoryOpt = Annotated[
    str | None,
    typer.Option("--history", help="The list history: one folder per list, named by its as-of date "
                 "(default: <folder of --out>/history)."),
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
        except Interrupted as exc:
            err_console.print(_labelled("Interrupted: ", "bold red", exc.render()))
            raise typer.Exit(Interrupted.exit_code) from None
        except ChurnError as exc:
            if _state["debug"]:
                raise
            err_console.print(_labelled("Error: ", "bold red", exc.render()))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print(_labelled("Interrupted", "bold red", " before this command wrote any output."))
            raise typer.Exit(Interrupted.exit_code) from None

    return wrapper


def _parse_as_of(value: str | None, cfg) -> date | None:
    """--as-of as a date between 1900 and today (later only when the config accepts future timestamps)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ChurnError(f"--as-of {value!r} is not a date.", "write it as YYYY-MM-DD, e.g. --as-of 2025-06-30") from None
    if not 1900 <= day.year <= 2100:
        raise ChurnError(f"--as-of {value}: the year must be from 1900 to 2100.", "check the year")
    latest = cfg.input.limits().now
    if latest is not None and day > latest.date() + timedelta(days=1):
        raise ChurnError(
            f"--as-of {value} is in the future (today is {latest.date()}): events before it are not known yet.",
            "give a date up to tomorrow; for back-dated test data set input.allow_future_timestamps: true",
        )
    return day


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
    campaigns: Annotated[
        bool,
        typer.Option(
            "--campaigns",
            help="Also run a retention campaign in the world: weekly lists over its last campaign period whose "
            "outcomes the data show (kept in --history), the team's contacts (contacts.csv) and the true effect of "
            "each action (_truth/campaign_effects.csv).",
        ),
    ] = False,
    history: HistoryOpt = None,
    config: ConfigOpt = None,
):
    """Write a synthetic data directory that follows the data contract, with its latent truth in _truth/."""
    from pipeline.config import load_config
    from pipeline.generate import campaign_simulation, write_world
    from pipeline.history import default_history

    cfg = load_config(config, {"generate.customers": customers, "generate.seed": seed})
    if history is not None and not campaigns:
        raise ChurnError("--history is where --campaigns keeps the simulated lists.", "add --campaigns, or drop --history")
    summary = write_world(
        out, cfg.generate.customers, cfg.generate.seed, file_format.value,
        history_days=history_days, only_transactions=only_transactions, seasonal_churn=seasonal_churn,
        campaign=campaign_simulation(cfg) if campaigns else None,
        history=history or default_history(out),
    )
    console.print(summary)


@app.command()
@_handles_errors
def validate(data: DataDirOpt, config: ConfigOpt = None):
    """Check every table against the data contract and list every problem (file, column, lines, what)."""
    from pipeline.config import load_config
    from pipeline.validate import validate_data_dir

    cfg = load_config(config)
    report = validate_data_dir(data, cfg.input.limits(), cfg.features)
    for problem in report.warnings:
        err_console.print(_labelled("Warning: ", "yellow", problem.render()))
    if report.errors:
        err_console.print(Text(f"{len(report.errors)} problem(s) in {data}:", "bold red"))
        for problem in report.errors:
            err_console.print(f"  {problem.render()}")
        raise typer.Exit(1)
    console.print(report.render_summary())


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

    cfg = load_config(config)
    written = partition_data_dir(data, out, buckets, cfg.input.limits())
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
    n_rows = write_features(data, _parse_as_of(as_of, cfg), out, cfg)
    console.print(f"Wrote features of {n_rows} active customers to {out}")


class _StepProgress:
    """One line per pipeline step with its elapsed time. In a terminal a live spinner per step; in a log file or
    a pipe (where a live display would only appear when the command ends) a plain line as each step finishes."""

    def __init__(self, clock=time.perf_counter):
        self.live = err_console.is_terminal
        self.clock = clock
        self.task = None
        self.step: tuple[str, float] | None = None
        if self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console
            )

    def __enter__(self):
        if self.live:
            self.progress.__enter__()
        return self

    def __call__(self, message: str):
        self._finish()
        if self.live:
            self.task = self.progress.add_task(message, total=1)
        else:
            self.step = (message, self.clock())

    def note(self, message: str):
        """A line that stays above the progress lines (e.g. the as-of date a run settled on)."""
        err_console.print(Text(message, "bold"))

    def _finish(self, how: str = ""):
        if self.live and self.task is not None:
            self.progress.update(self.task, completed=1)
        elif self.step is not None:
            message, started = self.step
            elapsed = timedelta(seconds=round(self.clock() - started))
            err_console.print(f"  {message}  {how}{elapsed}")
            self.step = None

    def __exit__(self, exc_type, *exc):
        self._finish("stopped after " if exc_type else "")
        return self.progress.__exit__(exc_type, *exc) if self.live else False


def _print_backtest(result) -> None:
    """Metrics as rows, candidates as columns (fits an 80-column terminal: the uncalibrated booster, which no
    setting ships, is left to MLflow's backtest.csv); then a sentence per metric."""
    from rich.table import Table

    from models.backtest_summary import headline_metrics, mean_by_candidate, metric_sentences

    metrics = result.backtest.metrics
    rows = headline_metrics(metrics)
    means = mean_by_candidate(metrics)[rows]
    shipped = f"model_{result.calibration}"
    order = [shipped, *(c for c in means.index if c not in (shipped, "model_uncalibrated"))]
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
    console.print(f"Estimate: {estimate['summary']}")
    for baseline in ("baseline_recency", "baseline_bgnbd"):
        behind = [m for m in ("roc_auc", "pr_auc") if means.loc[shipped, m] <= means.loc[baseline, m]]
        if behind:
            figures = ", ".join(f"{m} {means.loc[shipped, m]:.4f} vs {means.loc[baseline, m]:.4f}" for m in behind)
            err_console.print(_labelled(
                "Note: ", "yellow", f"on this estimate the model does not beat {baseline.replace('_', ' ')} ({figures})."
            ))
    console.print(f"The shipped model ({shipped}) against the baselines, mean over the evaluation cutoffs:")
    for sentence in metric_sentences(metrics, shipped):
        console.print(f"- {sentence}")


def _mlflow_ui_lines(outcome) -> list[str]:
    """How to open the MLflow UI on the run: the command, then the address (whose workflowType opens the
    model-training view: the UI's default is its GenAI view, whatever the experiment's kind)."""
    program = Path(sys.executable).with_name("mlflow")
    if program.exists():
        program = program.relative_to(Path.cwd()) if program.is_relative_to(Path.cwd()) else program
    else:
        program = "mlflow"
    run_page = f"#/experiments/{outcome.experiment_id}/runs/{outcome.run_id}?workflowType=machine_learning"
    return [
        "See the run in the MLflow UI:",
        f"  {program} ui --backend-store-uri {outcome.tracking_uri} --port 5000",
        f"  then open http://127.0.0.1:5000/{run_page}",
    ]


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
    promote: Annotated[
        bool, typer.Option("--promote", help="Make this model the champion whatever the comparison says (e.g. "
                                             "after changing the churn definition on purpose).")
    ] = False,
):
    """Backtest, train and register the churn model on every fully observed snapshot of --data.

    The snapshots' features are built on --engine; the model is trained in this process. It becomes the
    champion (the model `churn score` uses) when it predicts the same churn as the champion and learnt from newer
    data or beats it on the same data, or with --promote.
    """
    from pipeline.config import load_config
    from pipeline.train import train_and_register

    cfg = load_config(
        config,
        {"churn.horizon_days": horizon_days, "churn.active_window_days": active_window_days,
         **_engine_overrides(engine, scheduler)},
    )
    with _StepProgress() as progress:
        result = train_and_register(data, cfg, progress=progress, promote=promote)
    for note in result.notes:
        err_console.print(_labelled("Note: ", "yellow", note))
    _print_backtest(result)
    outcome = result.outcome
    console.print(f"Calibration: {result.calibration}; {result.n_snapshot_rows:,} snapshot rows.")
    console.print(f"Registered {cfg.tracking.registered_model} version {outcome.version}: {outcome.decision}.")
    console.print(f"MLflow run {outcome.run_id} in {outcome.tracking_uri}")
    for line in _mlflow_ui_lines(outcome):
        console.print(line)


def _print_scoring(result, cfg) -> None:
    console.print(
        f"Scored {result.n_customers:,} active customers as of {result.as_of.date()} with model "
        f"{result.model_version}; {result.n_target:,} to contact this week. {result.n_lapsed:,} valuable customers "
        "lapsed in the lookback (the lapsed list)."
    )
    if result.contacts:
        planned = ", ".join(f"{n:,} {channel.replace('_', ' ')}s" for channel, n in result.contacts)
        console.print(f"Contacts planned (both lists): {planned}.")
    for override in result.definition_overrides:
        err_console.print(_labelled("Definition overridden: ", "yellow", override.describe()))
    strong = result.drift[result.drift > cfg.scoring.drift_strong_psi]
    warn = result.drift[(result.drift > cfg.scoring.drift_warning_psi) & (result.drift <= cfg.scoring.drift_strong_psi)]
    for label, style, drifted, psi_above in (("Strong drift", "bold red", strong, cfg.scoring.drift_strong_psi),
                                              ("Drift warning", "yellow", warn, cfg.scoring.drift_warning_psi)):
        if len(drifted):
            inputs = ", ".join(f"{name} {psi:.3f}" for name, psi in drifted.items())
            err_console.print(_labelled(f"{label}: ", style, f"{len(drifted)} input(s) with PSI > {psi_above}: {inputs}"))
    if result.drift_note:
        err_console.print(_labelled("Why: ", "yellow", result.drift_note))
    for warning in result.warnings:
        err_console.print(_labelled("Warning: ", "yellow", warning))
    if result.measured_actions:
        moved = ", ".join(result.moved_actions) or "none"
        console.print(f"Save rates: {len(result.measured_actions)} actions measured; moved from their priors: "
                      f"{moved} (the report shows each beside its prior).")
    console.print(f"Campaign:      {result.campaign_id} (the control group's arms hold for the whole campaign)")
    console.print(f"Win-back list: {result.out}")
    console.print(f"Lapsed list:   {result.lapsed}")
    console.print(f"Report:        {result.report}")
    console.print(f"Scored table:  {result.scored}")
    if result.by_owner is not None:
        console.print(f"By owner:      {result.by_owner} ({result.n_owner_files} file(s))")
    console.print(f"Kept in:       {result.history}")


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
    history: HistoryOpt = None,
    split_by_owner: Annotated[
        bool,
        typer.Option(
            "--split-by-owner",
            help="Also write each owner's targeted customers to NAME_by_owner/<owner>.csv (and <owner>_lapsed.csv).",
        ),
    ] = False,
):
    """Write the ranked, explained win-back list of customers active at --as-of, its report and scored table.

    The churn definition (active window, horizon) and the feature settings are the model's. The scored table is
    also kept in the list history under the as-of date, for `churn evaluate`.
    """
    from pipeline.config import load_config
    from pipeline.score import write_winback

    cfg = load_config(config, _engine_overrides(engine, scheduler))
    as_of_day = _parse_as_of(as_of, cfg)
    with _StepProgress() as progress:
        result = write_winback(
            data, out, as_of_day, model, cfg, progress=progress, scored_out=scored_out, note=progress.note,
            override_definition=override_definition, history=history, split_by_owner=split_by_owner,
        )
    _print_scoring(result, cfg)


def _print_evaluation(result) -> None:
    overall = result.cells.iloc[0]
    console.print(
        f"Campaign {result.campaign_id}: {result.customers:,} customers at their first list "
        f"({len(result.lists)} list{'s' if len(result.lists) != 1 else ''}, {result.lists[0]} to {result.lists[-1]}); "
        f"{int(overall['treated_n']):,} treated, {int(overall['control_n']):,} in control."
    )
    console.print(
        f"Churn {overall['treated_churn_rate']:.1%} treated vs {overall['control_churn_rate']:.1%} control: uplift "
        f"{100 * overall['uplift']:+.1f} points (95% interval {100 * overall['uplift_ci_low']:+.1f} to "
        f"{100 * overall['uplift_ci_high']:+.1f}); adjusted for risk {100 * overall['adjusted_uplift']:+.1f} "
        f"({100 * overall['adjusted_ci_low']:+.1f} to {100 * overall['adjusted_ci_high']:+.1f})."
    )
    console.print(f"Overall: {overall['verdict']}.")
    for note in result.notes:
        err_console.print(_labelled("Note: ", "yellow", note))
    console.print(f"Evaluation:  {result.out}")
    console.print(f"Report:      {result.report}")
    console.print(f"Save rates:  {result.save_rates}")


@app.command()
@_handles_errors
def evaluate(
    data: DataDirOpt,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="The campaign to evaluate, e.g. retention-2025-07-07 "
                                 "(default: the latest with a list whose horizon has passed).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate only the customers the list of this date (YYYY-MM-DD) "
                                 "brought into its campaign.")
    ] = None,
    history: HistoryOpt = None,
    out: Annotated[
        Path, typer.Option("--out", help="The evaluation to write (.csv); its report goes beside it.")
    ] = Path("evaluation.csv"),
    config: ConfigOpt = None,
):
    """Measure what a campaign's contacts achieved once the horizon after its lists has passed in --data.

    Treated against control customers of the lists kept in --history (intention to treat, each customer at their
    first list): churn rates, uplift with 95% intervals (plain and adjusted for risk), margin kept, cost and
    return, overall and by value tier, action and owner; the ratio check of the arms, contamination from the
    contact log, and what is too small to tell. Writes evaluation.csv, its HTML report, the measured save rates
    beside the history, and an MLflow run in the evaluation experiment.
    """
    from pipeline.config import load_config
    from pipeline.evaluate import write_evaluation
    from pipeline.history import default_history

    if campaign is not None and as_of is not None:
        raise ChurnError("--campaign and --as-of both choose what to evaluate.", "give one of them")
    cfg = load_config(config)
    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise ChurnError(f"--as-of {as_of!r} is not a date.", "write it as YYYY-MM-DD, e.g. --as-of 2025-06-30") from None
    with _StepProgress() as progress:
        result = write_evaluation(data, history or default_history(out), out, cfg, campaign=campaign, as_of=day,
                                  progress=progress)
    _print_evaluation(result)
    for line in _mlflow_ui_lines(result.run):
        console.print(line)


@app.command()
@_handles_errors
def demo(config: ConfigOpt = None):
    """The main job on the embedded sample, the loop closed: generate data/sample with a retention campaign
    (unless present), train, evaluate the campaign, and score the week with the save rates it measured."""
    from pipeline.config import load_config
    from pipeline.demo import run_demo

    cfg = load_config(config)
    with _StepProgress() as progress:
        result = run_demo(cfg, progress=progress, note=progress.note)
    if result.generated:
        console.print(f"Generated the sample world in {result.data_dir}")
    _print_backtest(result.training)
    console.print(f"Model: {result.training.outcome.decision}.")
    _print_evaluation(result.evaluation)
    _print_scoring(result.scoring, cfg)
    for line in _mlflow_ui_lines(result.training.outcome):
        console.print(line)
