"""The catalogue of awkward inputs, settings and output places a real user meets.

Every case runs the `churn` command as a user would and checks: the exit code, that no traceback reaches the
user, that the one-screen message names what is wrong (file, column, line, option, value), and that the outputs
of the previous run are byte-identical afterwards. Small worlds only: the whole file runs in well under a minute
once the session's model is trained.
"""

from __future__ import annotations

import csv
import gzip
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.score import write_winback


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones and subfolders too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_clean(result, exit_code: int, *names: str) -> None:
    """The command ended with ``exit_code``, no traceback or uncaught exception, and the message names ``names``."""
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for name in names:
        assert name in result.output, f"{name!r} not in:\n{result.output}"


def read_texts(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def write_texts(frame: pd.DataFrame, folder: Path, table: str) -> None:
    frame.to_csv(folder / f"{table}.csv", index=False)


@pytest.fixture
def data(world, tmp_path) -> Path:
    """A copy of the session's world (without _truth) that a case may spoil."""
    return Path(shutil.copytree(world, tmp_path / "data", ignore=shutil.ignore_patterns("_truth")))


@pytest.fixture(scope="module")
def previous_outputs(world, cfg, trained, tmp_path_factory) -> Path:
    """A folder holding a real previous run's list, report and scored table."""
    folder = tmp_path_factory.mktemp("previous")
    write_winback(world, folder / "winback.csv", None, None, cfg)
    return folder


@pytest.fixture
def out(previous_outputs, tmp_path):
    """A copy of the previous outputs to score into; the case checks them with ``untouched()``."""
    folder = Path(shutil.copytree(previous_outputs, tmp_path / "out"))
    before = files_in(folder)

    class Outputs:
        path = folder / "winback.csv"

        @staticmethod
        def untouched() -> bool:
            return files_in(folder) == before

    return Outputs


@pytest.fixture
def score(cli, store, out):
    """``churn score`` on a data folder into the previous outputs' folder, with extra options."""

    def run(data_dir, *options):
        return cli("score", "--data", data_dir, "--out", out.path, "--config", store.config_file, *options)

    return run


# ------------------------------------------------------------------------------------------ wrong data, caught


def test_a_transaction_dated_in_the_future_is_an_error_not_a_new_as_of_date(data, score, out):
    tx = read_texts(data, "transactions")
    tx.loc[10, "timestamp"] = "2031-03-02 10:00:00"
    write_texts(tx, data, "transactions")
    result = score(data)
    assert_clean(result, 1, "transactions.csv, column timestamp, line 12", "in the future", "2031-03-02")
    assert out.untouched()


def test_future_dates_are_accepted_when_the_config_says_the_data_is_back_dated(data, cli, store, tmp_path):
    tx = read_texts(data, "transactions")
    tx.loc[10, "timestamp"] = "2031-03-02 10:00:00"
    write_texts(tx, data, "transactions")
    config = store.config_with(tmp_path, input={"allow_future_timestamps": True})
    assert_clean(cli("validate", "--data", data, "--config", config), 0, "OK")


def test_amounts_of_1e308_are_refused_before_they_make_values_infinite(data, score, out):
    tx = read_texts(data, "transactions")
    tx.loc[[3, 4], "amount"] = "1e308"
    write_texts(tx, data, "transactions")
    assert_clean(score(data), 1, "transactions.csv, column amount, lines 5, 6", "beyond", "input.max_abs_value")
    assert out.untouched()


def test_parquet_ids_stored_as_floats_match_the_csv_ids(data, score, tmp_path):
    for table in ("transactions", "complaints", "visits"):  # ids as numbers in Parquet: C000131 -> 131.0
        events = read_texts(data, table)
        events.assign(customer_id=events["customer_id"].str[1:].astype(float)).to_parquet(data / f"{table}.parquet")
        (data / f"{table}.csv").unlink()
    customers = read_texts(data, "customers")  # and as text in the CSV: "131"
    customers["customer_id"] = customers["customer_id"].str[1:].astype(int).astype(str)
    write_texts(customers, data, "customers")
    result = score(data)
    assert_clean(result, 0, "transactions.parquet, column customer_id", "ids stored as decimal numbers")
    assert "not in customers.csv" not in result.output
    listed = pd.read_csv(tmp_path / "out" / "winback.csv", dtype={"customer_id": str, "segment": str})
    assert not listed["customer_id"].str.contains(r"\.").any()
    assert set(listed["segment"]) <= {"B2C", "B2B"}  # every customer matched to its row in customers.csv


def test_a_fractional_id_is_refused(data, cli):
    tx = read_texts(data, "transactions")
    ids = tx["customer_id"].str[1:].astype(float)
    ids.iloc[2] = 12.5
    tx.assign(customer_id=ids).to_parquet(data / "transactions.parquet")
    (data / "transactions.csv").unlink()
    assert_clean(cli("validate", "--data", data), 1, "transactions.parquet, column customer_id, row 3",
                 "not a whole-number id")


@pytest.mark.parametrize("value", ["[/red]12", "[n/a]", "[bold]x[/bold]"])
def test_values_that_look_like_terminal_markup_are_shown_as_they_are(data, cli, value):
    tx = read_texts(data, "transactions")
    tx.loc[0, "amount"] = value
    write_texts(tx, data, "transactions")
    assert_clean(cli("validate", "--data", data), 1, f"line 2: not a number ('{value}')")


def test_an_error_after_a_quoted_multi_line_value_names_the_physical_line(data, cli):
    tx = read_texts(data, "transactions")
    tx.loc[0, "category"] = "garden\nand\nhome"  # lines 2-4 in the file
    tx.loc[1, "amount"] = "twelve"  # record 2, on line 5
    write_texts(tx, data, "transactions")
    assert_clean(cli("validate", "--data", data), 1, "transactions.csv, column amount, line 5:")


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("timestamp", "31/12/2024", "not a valid date"),
        ("timestamp", "2024-02-30", "not a valid date"),
        ("amount", "1,234.50", "not a number"),
        ("amount", "12,50", "not a number"),
        ("amount", "inf", "not a number"),
        ("list_amount", "-3", "negative"),
        ("promo", "maybe", "not true or false"),
        ("customer_id", "   ", "only spaces"),
        ("timestamp", "1850-01-01", "date before 1900"),
    ],
)
def test_bad_cells_name_file_column_line_and_value(data, score, out, column, value, what):
    tx = read_texts(data, "transactions")
    tx.loc[5, column] = value
    write_texts(tx, data, "transactions")
    assert_clean(score(data), 1, f"transactions.csv, column {column}, line 7", what)
    assert out.untouched()


def test_duplicate_transaction_ids_are_named(data, cli):
    tx = read_texts(data, "transactions")
    tx.loc[8, "transaction_id"] = tx.loc[7, "transaction_id"]
    write_texts(tx, data, "transactions")
    assert_clean(cli("validate", "--data", data), 1, "column transaction_id, lines 9, 10", "duplicate values")


def test_a_complaint_resolved_before_it_was_opened_is_named(data, cli):
    complaints = read_texts(data, "complaints")
    complaints.loc[0, "resolved_at"] = "2020-01-01"
    write_texts(complaints, data, "complaints")
    assert_clean(cli("validate", "--data", data), 1, "complaints.csv, column resolved_at, line 2",
                 "resolved before it was opened")


def test_a_missing_required_column_names_the_columns_found(data, cli):
    write_texts(read_texts(data, "transactions").drop(columns=["amount"]), data, "transactions")
    assert_clean(cli("validate", "--data", data), 1, "column amount: required column is missing", "'timestamp'")


def test_a_semicolon_separated_file_is_named_as_such(data, cli):
    tx = read_texts(data, "transactions").head(20)
    tx.to_csv(data / "transactions.csv", index=False, sep=";")
    assert_clean(cli("validate", "--data", data), 1, "separated by ';', not by commas")


def test_a_latin1_file_names_the_line_of_the_first_bad_byte(data, cli):
    tx = read_texts(data, "transactions").head(20)
    tx.loc[4, "category"] = "café"
    (data / "transactions.csv").write_bytes(tx.to_csv(index=False).encode("latin-1"))
    assert_clean(cli("validate", "--data", data), 1, "transactions.csv, line 6: not UTF-8")


def test_a_ragged_row_names_its_line(data, cli):
    lines = (data / "transactions.csv").read_text().splitlines()
    lines[3] += ",extra,fields"
    (data / "transactions.csv").write_text("\n".join(lines) + "\n")
    assert_clean(cli("validate", "--data", data), 1, "line 4", "fields where the header has 9")


def test_a_byte_order_mark_and_windows_line_ends_are_read(data, cli):
    text = (data / "transactions.csv").read_text()
    (data / "transactions.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert_clean(cli("validate", "--data", data), 0, "OK")


def test_timestamps_with_offsets_are_read_as_utc(data, cli):
    tx = read_texts(data, "transactions")
    tx.loc[0, "timestamp"] = "2024-03-01T10:00:00+02:00"
    tx.loc[1, "timestamp"] = "2024-03-01T10:00:00Z"
    write_texts(tx, data, "transactions")
    assert_clean(cli("validate", "--data", data), 0, "OK")


def test_a_header_only_transactions_file_is_an_error(data, cli):
    (data / "transactions.csv").write_text("customer_id,timestamp,amount\n")
    assert_clean(cli("validate", "--data", data), 1, "transactions.csv", "has a header but no rows")


def test_a_truncated_gzip_file_is_an_error(data, cli):
    raw = gzip.compress((data / "transactions.csv").read_bytes())
    (data / "transactions.csv").unlink()
    (data / "transactions.csv.gz").write_bytes(raw[: len(raw) // 2])
    assert_clean(cli("validate", "--data", data), 1, "transactions.csv.gz", "cannot be read")


def test_a_csv_saved_with_a_parquet_name_is_an_error(data, cli):
    (data / "transactions.csv").rename(data / "transactions.parquet")
    assert_clean(cli("validate", "--data", data), 1, "transactions.parquet: not a readable Parquet file")


def test_two_files_for_one_table_are_an_error(data, cli):
    pd.read_csv(data / "transactions.csv").to_parquet(data / "transactions.parquet")
    assert_clean(cli("validate", "--data", data), 1, "two files for table transactions")


def test_a_folder_without_transactions_is_an_error(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    assert_clean(cli("validate", "--data", tmp_path / "empty"), 1, "no transactions file")


def test_a_missing_data_folder_is_an_error(tmp_path, score, out):
    assert_clean(score(tmp_path / "nowhere"), 1, "folder not found")
    assert out.untouched()


def test_transactions_that_stop_while_visits_go_on_still_score(data, score):
    tx = read_texts(data, "transactions")
    stamps = pd.to_datetime(tx["timestamp"])
    write_texts(tx[stamps < stamps.max() - pd.Timedelta(days=45)], data, "transactions")
    assert_clean(score(data), 0, "As of")


# ------------------------------------------------------------------------------------- dates, settings, model


@pytest.mark.parametrize(
    ("as_of", "what"),
    [("9999-01-01", "the year must be from 1900 to 2100"), ("2031-01-01", "is in the future"),
     ("2025-13-01", "is not a date"), ("yesterday", "is not a date")],
)
def test_as_of_dates_are_checked_where_they_enter(world, score, out, as_of, what):
    assert_clean(score(world, "--as-of", as_of), 1, f"--as-of {as_of}" if "not" not in what else "--as-of", what)
    assert out.untouched()


def test_an_as_of_date_before_the_data_is_a_clean_error(world, score, out):
    assert_clean(score(world, "--as-of", "1999-06-01"), 1, "No customer bought", "1999-06-01")
    assert out.untouched()


@pytest.mark.parametrize(
    ("flag", "value", "what"),
    [("--horizon-days", "1000000000", "from 1 to 3650"), ("--horizon-days", "0", "from 1 to 3650"),
     ("--active-window-days", "-5", "from 1 to 3650")],
)
def test_out_of_range_flags_blame_the_flag(world, cli, store, flag, value, what):
    result = cli("train", "--data", world, "--config", store.config_file, flag, value)
    assert_clean(result, 1, f"command-line option {flag}", what)
    assert "test_config.yaml" not in result.output


@pytest.mark.parametrize(
    ("yaml_text", "what"),
    [("churn:\n  horizon_days: true\n", "churn.horizon_days: true/false where a number is expected"),
     ("churn:\n  horizon_days: 90 days\n", "churn.horizon_days"),
     ("churn:\n  horizon_dayz: 90\n", "churn.horizon_dayz: unknown key"),
     ("churn: [90\n", "not valid YAML"),
     ("- 1\n- 2\n", "expected a mapping")],
)
def test_config_mistakes_name_the_file_and_key(world, score, out, tmp_path, yaml_text, what):
    config = tmp_path / "mistake.yaml"
    config.write_text(yaml_text)
    result = score(world, "--config", config)
    assert_clean(result, 1, str(config), what)
    assert out.untouched()


def test_a_missing_config_file_is_named(world, score, out, tmp_path):
    assert_clean(score(world, "--config", tmp_path / "nope.yaml"), 1, "nope.yaml not found")
    assert out.untouched()


def test_a_model_that_is_not_a_churn_model_is_refused(world, score, out, store):
    from sklearn.dummy import DummyClassifier

    from pipeline.tracking import connect

    mlflow, _client = connect(load_config(store.config_file))
    with mlflow.start_run(run_name="someone else's model"):
        info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model")
    assert_clean(score(world, "--model", info.model_uri), 1, "is not a churn model written by `churn train`")
    assert out.untouched()


def test_a_model_uri_that_does_not_exist_is_refused(world, score, out):
    assert_clean(score(world, "--model", "models:/no-such-model@champion"), 1, "Could not load the model")
    assert out.untouched()


def test_an_unknown_engine_is_a_usage_error(world, score, out):
    result = score(world, "--engine", "spark")
    assert result.exit_code == 2 and "Traceback" not in result.output and "spark" in result.output
    assert out.untouched()


# ------------------------------------------------------------------------------------------------ output places


def test_out_given_as_a_folder_is_refused(world, cli, store, out):
    result = cli("score", "--data", world, "--out", out.path.parent, "--config", store.config_file)
    assert_clean(result, 1, "is a folder", "winback.csv")
    assert out.untouched()


def test_out_under_a_file_is_refused(world, cli, store, out):
    result = cli("score", "--data", world, "--out", out.path / "list.csv", "--config", store.config_file)
    assert_clean(result, 1, "is a file, not a folder")
    assert out.untouched()


def test_out_that_is_not_a_csv_is_refused(world, cli, store, out):
    result = cli("score", "--data", world, "--out", out.path.with_suffix(".xlsx"), "--config", store.config_file)
    assert_clean(result, 1, "the win-back list is a CSV file")
    assert out.untouched()


def test_scored_out_equal_to_out_is_refused(world, score, out):
    assert_clean(score(world, "--scored-out", out.path), 1, "same place")
    assert out.untouched()


def test_scored_out_on_a_foreign_folder_is_refused(world, score, out, tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"not ours")
    assert_clean(score(world, "--scored-out", tmp_path / "photos"), 1, "is not an earlier output")
    assert (tmp_path / "photos" / "holiday.jpg").read_bytes() == b"not ours"
    assert out.untouched()


def test_an_output_that_would_overwrite_an_input_table_is_refused(data, cli, store):
    before = (data / "transactions.csv").read_bytes()
    result = cli("score", "--data", data, "--out", data / "transactions.csv", "--config", store.config_file)
    assert_clean(result, 1, "is one of the input tables")
    assert (data / "transactions.csv").read_bytes() == before


def test_an_unwritable_place_is_refused_without_a_traceback(world, cli, store):
    result = cli("score", "--data", world, "--out", "/proc/winback.csv", "--config", store.config_file)
    assert_clean(result, 1, "Could not write the outputs")


def test_a_run_interrupted_before_the_swap_leaves_the_previous_outputs(world, score, out, monkeypatch):
    import pipeline.outputs

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.outputs.OutputSet, "commit", interrupted)
    result = score(world)
    assert_clean(result, 130, "stopped before the outputs were replaced")
    assert out.untouched()


def _die_during_swap(world, config_file, out_path):
    """In a child: score, and die by SIGKILL right after the new list was renamed into place."""
    import pipeline.outputs

    real_replace, calls = os.replace, []

    def dying(source, destination):
        real_replace(source, destination)
        calls.append(destination)
        if len(calls) == 3:  # the journal, the old list aside, the new list in place
            os.kill(os.getpid(), signal.SIGKILL)

    pipeline.outputs.os.replace = dying
    write_winback(world, out_path, None, None, load_config(config_file))


def test_a_run_killed_in_the_middle_of_the_swap_is_undone_by_the_next_run(world, store, out, trained, cfg):
    child = multiprocessing.get_context("fork").Process(
        target=_die_during_swap, args=(world, store.config_file, out.path)
    )
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    assert not out.untouched()  # a half-swapped state was left behind
    write_winback(world, out.path, None, None, cfg)  # the next run rolls it back, then writes its own set
    names = sorted(p.name for p in out.path.parent.iterdir())
    assert names == ["history", "winback.csv", "winback_lapsed.csv", "winback_report.html", "winback_scored"]
    assert out.untouched()  # the same data and model: the very same bytes as the previous run


def test_features_csv_cells_are_safe_from_spreadsheet_formulas(data, cli, tmp_path):
    customers = read_texts(data, "customers")
    customers["segment"] = "=HYPERLINK(\"http://x\",\"y\")"
    write_texts(customers, data, "customers")
    stamps = pd.to_datetime(read_texts(data, "transactions")["timestamp"])
    as_of = str((stamps.max() + pd.Timedelta(days=1)).date())
    result = cli("features", "--data", data, "--as-of", as_of, "--out", tmp_path / "f.csv")
    assert_clean(result, 0, "Wrote features")
    with open(tmp_path / "f.csv", newline="") as handle:
        segments = {row["segment"] for row in csv.DictReader(handle)}
    assert segments == {"'=HYPERLINK(\"http://x\",\"y\")"}


def test_features_refuse_an_unknown_output_type_before_any_work(world, cli, tmp_path):
    result = cli("features", "--data", world, "--as-of", "2025-06-01", "--out", tmp_path / "f.txt")
    assert_clean(result, 1, "--out", "unknown table file type")
    assert not (tmp_path / "f.txt").exists()


def _open_store(uri: str) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    from pipeline.tracking import connect

    connect(load_config())


def test_two_commands_opening_a_new_store_at_once_both_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_open_store, args=(uri,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    assert [child.exitcode for child in children] == [0, 0]


def test_dollar_signs_in_names_are_drawn_as_text_not_math(data, score, tmp_path):
    customers = read_texts(data, "customers")
    customers["segment"] = customers["segment"].map({"B2C": "$5-$10", "B2B": "B2B $big$"})
    managed = customers["account_manager_id"] != ""
    customers.loc[managed, "account_manager_id"] = customers.loc[managed, "account_manager_id"] + "$"
    write_texts(customers, data, "customers")
    managers = read_texts(data, "account_managers")
    write_texts(managers.assign(account_manager_id=managers["account_manager_id"] + "$"), data, "account_managers")
    assert_clean(score(data), 0, "Report:")
    listed = pd.read_csv(tmp_path / "out" / "winback.csv", dtype=str, keep_default_na=False)
    assert set(listed["segment"]) <= {"$5-$10", "B2B $big$"}
