"""The `churn` command through typer's CliRunner: happy paths and one bad input per command."""

import io
import re

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import pipeline.cli
from pipeline.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    result = run("generate", "--out", str(out), "--customers", "300", "--seed", "3")
    assert result.exit_code == 0, result.output
    return out


def test_generate_then_validate_is_clean(world):
    result = run("validate", "--data", str(world))
    assert result.exit_code == 0, result.output
    assert "300 customers" in result.output
    assert (world / "_truth" / "paths.csv").exists()


def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    run("generate", "--out", str(tmp_path / "again"), "--customers", "300", "--seed", "3")
    run("generate", "--out", str(tmp_path / "other"), "--customers", "300", "--seed", "4")
    for name in ("transactions.csv", "customers.csv", "complaints.csv", "visits.csv", "_truth/paths.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (world / name).read_bytes()
    assert (tmp_path / "other" / "transactions.csv").read_bytes() != (world / "transactions.csv").read_bytes()


def test_generate_parquet(tmp_path):
    result = run("generate", "--out", str(tmp_path / "pq"), "--customers", "100", "--seed", "1", "--format", "parquet")
    assert result.exit_code == 0, result.output
    assert run("validate", "--data", str(tmp_path / "pq")).exit_code == 0


def test_validate_lists_every_problem_without_traceback(world, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    transactions = pd.read_csv(world / "transactions.csv", dtype=str, keep_default_na=False)
    transactions.loc[3, "amount"] = "12,50"
    transactions.loc[7, "timestamp"] = "2024-02-30"
    transactions.to_csv(bad / "transactions.csv", index=False)
    (bad / "customers.csv").write_bytes((world / "customers.csv").read_bytes())
    result = run("validate", "--data", str(bad))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert re.search(r"transactions\.csv, column amount, line 5\b", result.output)
    assert re.search(r"transactions\.csv, column timestamp, line 9\b", result.output)


def test_missing_data_dir_is_one_clean_error(tmp_path):
    result = run("validate", "--data", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "folder not found" in result.output
    assert "Traceback" not in result.output


def test_bad_config_is_one_clean_error(world, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("churn: {horizon_days: 90, active_window_days: 90, surprise: 1}\n")
    result = run("validate", "--data", str(world), "--config", str(config))
    assert result.exit_code == 1
    assert "churn.surprise: unknown key" in result.output
    assert "Traceback" not in result.output


def test_bad_as_of_date_is_a_clean_error(world, tmp_path):
    result = run("features", "--data", str(world), "--as-of", "2025-13-01", "--out", str(tmp_path / "f.parquet"))
    assert result.exit_code == 1
    assert "--as-of '2025-13-01' is not a date" in result.output
    assert not (tmp_path / "f.parquet").exists()


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert "churn-pipeline" in result.output


def test_debug_is_a_plain_flag_in_the_help():
    result = run("--help")
    assert result.exit_code == 0
    (line,) = [line for line in result.output.splitlines() if "--debug" in line]
    assert re.fullmatch(r"\s+--debug\s+Show full tracebacks for errors\.", line)


@pytest.fixture
def log_file(monkeypatch) -> io.StringIO:
    """stderr as a file (not a terminal), as when a command's output is piped into a log."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, soft_wrap=True, markup=False, highlight=False)
    monkeypatch.setattr(pipeline.cli, "err_console", console)
    return buffer


def test_progress_in_a_log_prints_each_step_as_soon_as_it_finishes(log_file):
    ticks = iter([0.0, 75.4, 75.4, 80.4])  # seconds: the first step takes 75, the second 5
    with pipeline.cli._StepProgress(clock=lambda: next(ticks)) as progress:
        progress("loading the data [local]")
        assert log_file.getvalue() == ""  # nothing until the step is done
        progress("scoring")
        assert log_file.getvalue() == "  loading the data [local]  0:01:15\n"
        progress.note("As of 2025-12-29")
    assert log_file.getvalue().splitlines() == [
        "  loading the data [local]  0:01:15",
        "As of 2025-12-29",
        "  scoring  0:00:05",
    ]


def test_progress_in_a_log_says_which_step_stopped(log_file):
    ticks = iter([0.0, 3.0])
    with pytest.raises(KeyError), pipeline.cli._StepProgress(clock=lambda: next(ticks)) as progress:
        progress("features at 12 cutoffs")
        raise KeyError("boom")
    assert log_file.getvalue() == "  features at 12 cutoffs  stopped after 0:00:03\n"


def test_features_fit_no_model(world, tmp_path, monkeypatch):
    """`churn features` writes features only: nothing is fitted on the way (BG/NBD belongs to the model's inputs)."""
    import models.bgnbd
    import models.modelframe

    def no_fit(*args, **kwargs):
        raise AssertionError("churn features fitted BG/NBD")

    monkeypatch.setattr(models.bgnbd, "fit_bgnbd", no_fit)
    monkeypatch.setattr(models.modelframe, "fit_bgnbd", no_fit)
    result = run("features", "--data", str(world), "--as-of", "2025-06-01", "--out", str(tmp_path / "f.parquet"))
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(tmp_path / "f.parquet")) > 0
