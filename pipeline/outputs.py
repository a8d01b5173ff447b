"""One run's outputs appear together or not at all.

Each output (a file, or a folder such as the scored table) is written beside its place under a temporary name.
When all are written, :meth:`OutputSet.commit` swaps them in: a journal naming the run and every swap is written
first, each previous output is renamed aside, each new one renamed into place, and removing the journal is the
moment the new set becomes the outputs. Ctrl-C and SIGTERM are held back during the swap, so they land before it
(nothing replaced) or after it (everything replaced). A journal left by a killed process (SIGKILL, power loss) is
rolled back by the next run on the same outputs, which restores the previous set. Swaps and clean-ups hold a lock
on the folder of the main output: two runs writing the same outputs at once each write their own staged copies
and the later swap wins, whole.

Outputs at an fsspec URL (an object store has no renames) are moved into place first, without a journal; their
own manifest, written last, tells a complete output.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.bucket_store import filesystem, is_url, swap_directory
from pipeline.errors import ChurnError

STAGED, OLD, JOURNAL = "staged", "old", "journal.json"


def _beside(target: Path, run_id: str, kind: str) -> Path:
    return target.with_name(f".{target.name}.{run_id}.{kind}")


def _owner_alive(staged_name: str) -> bool:
    """Whether the process that staged a file (its pid leads the run id: .NAME.<pid>-<hex>.KIND) still runs."""
    pid = staged_name.rsplit(".", 2)[-2].split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block is done; a held one is raised as it ends."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (waits for the holder: swaps and clean-ups take milliseconds)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@dataclass(frozen=True)
class _Swap:
    target: Path
    staged: Path
    old: Path


def _roll_back(journal: Path) -> None:
    """Put back the outputs a swap recorded in ``journal`` had replaced, and remove what it had moved in."""
    for entry in json.loads(journal.read_text(encoding="utf-8"))["swaps"]:
        target, staged, old = Path(entry["target"]), Path(entry["staged"]), Path(entry["old"])
        if old.exists():
            _remove(target)
            os.replace(old, target)
        elif not entry["had_previous"] and not staged.exists():
            _remove(target)  # this run's output, moved in where there was none before
        _remove(staged)
    journal.unlink()


class OutputSet:
    """The outputs of one run, staged beside their places until :meth:`commit`."""

    def __init__(self, anchor: Path, run: dict):
        self.anchor = Path(anchor)
        self.run_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.run = {"run_id": self.run_id, **run}
        self.committed = False
        self._swaps: list[_Swap] = []
        self._remote: list[tuple[str, str]] = []  # (staged URL, target URL)

    @property
    def journal(self) -> Path:
        return self.anchor.with_name(f".{self.anchor.name}.{JOURNAL}")

    def file(self, target: Path, write: Callable[[Path], object]) -> None:
        """Stage ``target``: ``write(path)`` writes its content to the staging path."""
        target = Path(target)
        staged = _beside(target, self.run_id, STAGED)
        self._swaps.append(_Swap(target, staged, _beside(target, self.run_id, OLD)))
        write(staged)

    def folder(self, target: str | os.PathLike) -> str:
        """Stage the folder ``target`` (a path or an fsspec URL): returns an empty folder to fill."""
        if is_url(target):
            fs, path = filesystem(target)
            parent, name = path.rstrip("/").rsplit("/", 1)
            staged = f"{parent}/.{name}.{self.run_id}.{STAGED}"
            fs.makedirs(staged, exist_ok=True)
            located = fs.unstrip_protocol(staged)
            self._remote.append((located, str(target)))
            return located
        target = Path(target)
        staged = _beside(target, self.run_id, STAGED)
        self._swaps.append(_Swap(target, staged, _beside(target, self.run_id, OLD)))
        staged.mkdir(parents=True)
        return str(staged)

    def late_folder(self, target: str | os.PathLike) -> str:
        """:meth:`folder` for a place not known when the set began (named after the data's as-of date, say): what
        killed runs left staged there is removed first."""
        if not is_url(target):
            with folder_lock(self.anchor.parent):
                _clean_leftovers(self.anchor, [target])
        return self.folder(target)

    def commit(self) -> None:
        """Swap every staged output into place as one step (see the module docstring)."""
        for staged, target in self._remote:
            swap_directory(staged, target)
        with signals_held(), folder_lock(self.anchor.parent):
            swaps = [(swap, swap.target.exists()) for swap in self._swaps]
            record = {**self.run, "swaps": [
                {"target": str(s.target), "staged": str(s.staged), "old": str(s.old), "had_previous": had}
                for s, had in swaps
            ]}
            temp = self.journal.with_name(self.journal.name + ".tmp")
            temp.write_text(json.dumps(record, indent=1), encoding="utf-8")
            os.replace(temp, self.journal)
            try:
                for swap, had_previous in swaps:
                    if had_previous:
                        os.replace(swap.target, swap.old)
                    os.replace(swap.staged, swap.target)
            except OSError:
                _roll_back(self.journal)
                raise
            self.journal.unlink()  # the moment the new outputs are the outputs
            self.committed = True
            for swap in self._swaps:
                _remove(swap.old)

    def discard(self) -> None:
        """Remove everything staged (the previous outputs stay as they are)."""
        for swap in self._swaps:
            _remove(swap.staged)
        for staged, _target in self._remote:
            fs, path = filesystem(staged)
            if fs.exists(path):
                fs.rm(path, recursive=True)


def _clean_leftovers(anchor: Path, targets: Sequence[str | os.PathLike]) -> None:
    """Roll back a journal left by a killed run, and remove what runs no longer running had staged or set aside.

    Runs under the folder lock: a journal found then belongs to a process that died during its swap.
    """
    journal = anchor.with_name(f".{anchor.name}.{JOURNAL}")
    if journal.exists():
        _roll_back(journal)
    for target in targets:
        if is_url(target):  # no pids on an object store: what a staged prefix holds is only ever half a run
            fs, path = filesystem(target)
            parent, name = path.rstrip("/").rsplit("/", 1)
            for stale in fs.glob(f"{parent}/.{name}.*.{STAGED}"):
                if not _owner_alive(stale):
                    fs.rm(stale, recursive=True)
            continue
        target = Path(target)
        for kind in (STAGED, OLD):
            for stale in target.parent.glob(f".{target.name}.*.{kind}"):
                if not _owner_alive(stale.name):
                    _remove(stale)


def unwritten(error: OSError) -> ChurnError:
    """The error for an output set the disk refused (the previous outputs stay, as staged_outputs ensures)."""
    return ChurnError(
        f"Could not write the outputs ({error.strerror}: {error.filename}); the previous ones are unchanged.",
        "check the output folder (space, permissions) and run again",
    )


@contextmanager
def staged_outputs(anchor: Path, targets: Sequence[str | os.PathLike], run: dict) -> Iterator[OutputSet]:
    """An :class:`OutputSet` for ``targets`` (``anchor``, the main output, among them).

    Leftovers of killed runs are cleaned first. If the block raises (or is interrupted) before committing,
    everything staged is removed and the previous outputs stay as they were; if it ends without committing,
    it commits.
    """
    anchor = Path(anchor)
    anchor.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(anchor.parent):
        _clean_leftovers(anchor, targets)
    outputs = OutputSet(anchor, run)
    try:
        yield outputs
        if not outputs.committed:
            outputs.commit()
    except BaseException:
        if not outputs.committed:
            outputs.discard()
        raise


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(target: str | os.PathLike, option: str, *, folder: bool = False) -> None:
    """Refuse, before any work, an output place that cannot be written: a folder where a file goes (or the
    reverse), or a place inside a folder this process may not write to."""
    if is_url(target):
        return
    target = Path(target)
    if target.is_dir() and not folder:
        raise ChurnError(f"{option} {target} is a folder.", f"give a file name inside it, e.g. {option} {target / 'winback.csv'}")
    if target.exists() and not target.is_dir() and folder:
        raise ChurnError(f"{option} {target} is a file; a folder goes there.", "give a folder name")
    place = _nearest_existing(target.parent.absolute())
    if not place.is_dir():
        raise ChurnError(f"{option} {target}: {place} is a file, not a folder.", "give a path inside a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ChurnError(f"{option} {target}: cannot write in {place} (permission denied).", "choose a folder you can write to")


def check_distinct(places: dict[str, str | os.PathLike]) -> None:
    """Refuse two outputs of one run at the same place (e.g. --scored-out equal to --out)."""
    seen: dict[str, str] = {}
    for label, place in places.items():
        key = str(place) if is_url(place) else str(Path(place).absolute())
        if key in seen:
            raise ChurnError(f"{label} and {seen[key]} are the same place: {place}.", f"give {label} another path")
        seen[key] = label
