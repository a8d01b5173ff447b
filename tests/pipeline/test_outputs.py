"""Staged outputs: a run's files and folders replace the previous ones together, or not at all."""

import multiprocessing
import os
import signal

import pytest

from pipeline import outputs as outputs_module
from pipeline.errors import ChurnError
from pipeline.outputs import check_distinct, check_writable, staged_outputs


def _previous(tmp_path):
    """A previous run's outputs: a list, a report and a folder with one part."""
    (tmp_path / "list.csv").write_text("old list")
    (tmp_path / "report.html").write_text("old report")
    (tmp_path / "scored").mkdir()
    (tmp_path / "scored" / "part.parquet").write_text("old part")
    return [tmp_path / "list.csv", tmp_path / "report.html", tmp_path / "scored"]


def _contents(tmp_path) -> dict[str, str]:
    """Every file under tmp_path (hidden ones too, except the lock) and its text."""
    found = {}
    for root, _dirs, files in os.walk(tmp_path):
        for name in files:
            path = os.path.join(root, name)
            if not name.endswith(".lock"):
                with open(path) as handle:
                    found[os.path.relpath(path, tmp_path)] = handle.read()
    return found


def _stage_new(outputs, tmp_path):
    outputs.file(tmp_path / "list.csv", lambda p: p.write_text("new list"))
    outputs.file(tmp_path / "report.html", lambda p: p.write_text("new report"))
    folder = outputs.folder(tmp_path / "scored")
    with open(os.path.join(folder, "part.parquet"), "w") as handle:
        handle.write("new part")


OLD = {"list.csv": "old list", "report.html": "old report", "scored/part.parquet": "old part"}
NEW = {"list.csv": "new list", "report.html": "new report", "scored/part.parquet": "new part"}


def test_a_committed_run_replaces_every_output_and_leaves_nothing_else(tmp_path):
    targets = _previous(tmp_path)
    with staged_outputs(targets[0], targets, {}) as outputs:
        _stage_new(outputs, tmp_path)
    assert _contents(tmp_path) == NEW


def test_a_failing_run_leaves_the_previous_outputs_and_no_staged_files(tmp_path):
    targets = _previous(tmp_path)
    with pytest.raises(RuntimeError), staged_outputs(targets[0], targets, {}) as outputs:
        _stage_new(outputs, tmp_path)
        raise RuntimeError("scoring failed after the files were written")
    assert _contents(tmp_path) == OLD


def test_a_failing_swap_is_rolled_back(tmp_path, monkeypatch):
    targets = _previous(tmp_path)
    real_replace, calls = os.replace, []

    def failing_third_rename(source, destination):
        calls.append(destination)
        if len(calls) == 4:  # journal, list aside, list in, report aside: fails here
            raise PermissionError(13, "Permission denied", str(destination))
        real_replace(source, destination)

    monkeypatch.setattr(outputs_module.os, "replace", failing_third_rename)
    with pytest.raises(PermissionError), staged_outputs(targets[0], targets, {}) as outputs:
        _stage_new(outputs, tmp_path)
    monkeypatch.setattr(outputs_module.os, "replace", real_replace)
    assert _contents(tmp_path) == OLD


def _killed_in_the_middle_of_the_swap(tmp_path):
    """In a child process: stage new outputs, then die (as by SIGKILL) after the list was swapped in."""
    targets = _previous(tmp_path)
    real_replace, calls = os.replace, []

    def dying_rename(source, destination):
        real_replace(source, destination)
        calls.append(destination)
        if len(calls) == 3:  # journal written, old list aside, new list in place
            os.kill(os.getpid(), signal.SIGKILL)

    outputs_module.os.replace = dying_rename
    with staged_outputs(targets[0], targets, {}) as outputs:
        _stage_new(outputs, tmp_path)


def test_a_run_killed_during_the_swap_is_rolled_back_by_the_next_run(tmp_path):
    child = multiprocessing.get_context("fork").Process(target=_killed_in_the_middle_of_the_swap, args=(tmp_path,))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    left = _contents(tmp_path)
    assert left["list.csv"] == "new list" and left["report.html"] == "old report"  # the half-swapped state
    assert ".list.csv.journal.json" in left
    assert any(name.endswith(".staged") for name in left)

    targets = [tmp_path / "list.csv", tmp_path / "report.html", tmp_path / "scored"]
    with pytest.raises(RuntimeError), staged_outputs(targets[0], targets, {}):
        raise RuntimeError("the next run fails too: the previous outputs must be back, whole")
    assert _contents(tmp_path) == OLD


def test_two_runs_at_once_each_swap_in_a_whole_set_and_the_later_wins(tmp_path):
    targets = _previous(tmp_path)
    with staged_outputs(targets[0], targets, {}) as first:
        _stage_new(first, tmp_path)
        with staged_outputs(targets[0], targets, {}) as second:  # starts while the first is staged
            second.file(tmp_path / "list.csv", lambda p: p.write_text("second list"))
            second.file(tmp_path / "report.html", lambda p: p.write_text("second report"))
            folder = second.folder(tmp_path / "scored")
            with open(os.path.join(folder, "part.parquet"), "w") as handle:
                handle.write("second part")
        assert _contents(tmp_path)["list.csv"] == "second list"
        assert first.committed is False  # its staged files survived the second run's clean-up
    assert _contents(tmp_path) == NEW


def test_unusable_places_are_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(ChurnError, match="is a folder"):
        check_writable(tmp_path / "folder", "--out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ChurnError, match="is a file"):
        check_writable(tmp_path / "file", "--scored-out", folder=True)
    with pytest.raises(ChurnError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "list.csv", "--out")
    with pytest.raises(ChurnError, match="same place"):
        check_distinct({"--out": tmp_path / "a.csv", "--scored-out": str(tmp_path / "a.csv")})


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ChurnError, match="permission denied"):
        check_writable(locked / "list.csv", "--out")
