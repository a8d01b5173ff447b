"""Bucketed storage: a data directory as Parquet partitioned by customer bucket, on a local path or an fsspec URL.

Layout (Hive-style, so Dask, Spark and pyarrow see a ``bucket`` column)::

    ROOT/_buckets.json                               manifest, written last: buckets, tables, rows, file hashes
    ROOT/<table>/bucket=<k>/part-0.parquet           customers, transactions, complaints, visits
    ROOT/account_managers/part-0.parquet             whole (no customer_id); every bucket reads it

The full scored table of ``churn score`` has the same shape: ``ROOT/bucket=<k>/part-0.parquet`` (each written
where its bucket was scored) and ``ROOT/_scored.json``, written last.

A customer's rows of every table are in bucket ``features.customer_bucket(customer_id, n_buckets)``. This module
and ``pipeline.io`` are the only ones that touch files; directories are written to a temporary sibling, then
moved into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow
from fsspec.implementations.local import LocalFileSystem

from features.tables import TABLE_NAMES
from pipeline.contract import RawTable
from pipeline.errors import ChurnError, InputDataError, Problem

MANIFEST = "_buckets.json"
LAYOUT = "churn-buckets/1"
SCORED_MANIFEST = "_scored.json"
SCORED_LAYOUT = "churn-scored/1"
WHOLE_TABLES = ("account_managers",)  # no customer_id: stored once, read with every bucket
PARTITION_FIX = "write the bucketed directory again with `churn partition`"


@dataclass(frozen=True)
class BucketedDir:
    """A bucketed data directory: where it is, how many buckets, which tables it holds."""

    root: str
    n_buckets: int
    tables: tuple[str, ...]

    def part(self, table: str, bucket: int) -> str:
        """Path of one table's file in one bucket (the whole table's file for account_managers)."""
        if table in WHOLE_TABLES:
            return f"{self.root}/{table}/part-0.parquet"
        return f"{self.root}/{table}/bucket={bucket}/part-0.parquet"


def is_url(location) -> bool:
    return "://" in str(location)


def filesystem(location) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of a local path or URL, and the path on it (absolute for local paths)."""
    try:
        return fsspec.core.url_to_fs(str(location))
    except ImportError as error:
        raise ChurnError(
            f"cannot open {location}: {error}.",
            "install the filesystem package for this URL (s3fs, gcsfs, adlfs, ...) where the pipeline runs",
        ) from None
    except ValueError as error:
        raise ChurnError(f"cannot open {location}: {error}.", "use a local path or an fsspec URL") from None


def _located(fs: fsspec.AbstractFileSystem, path: str, location) -> str:
    """``path`` on ``fs`` as a location workers can open: the URL form for remote filesystems."""
    return path if isinstance(fs, LocalFileSystem) or not is_url(location) else fs.unstrip_protocol(path)


def is_bucketed(location) -> bool:
    """Whether ``location`` holds a bucketed data directory (its manifest)."""
    fs, path = filesystem(location)
    return fs.isfile(f"{path}/{MANIFEST}")


def bucketed_manifest(location) -> bytes:
    """The manifest of the bucketed directory at ``location``, as stored."""
    fs, path = filesystem(location)
    try:
        return fs.cat_file(f"{path}/{MANIFEST}")
    except FileNotFoundError:
        raise ChurnError(
            f"{location}: not a bucketed data directory (no {MANIFEST}).",
            "a URL must point at a directory written by `churn partition`; local folders may also be plain",
        ) from None


def open_bucketed(location) -> BucketedDir:
    """The bucketed directory at ``location``, from its manifest."""
    fs, path = filesystem(location)
    try:
        manifest = json.loads(bucketed_manifest(location))
    except (ValueError, UnicodeDecodeError) as error:
        raise ChurnError(f"{location}/{MANIFEST}: not valid JSON ({error}).", PARTITION_FIX) from None
    if manifest.get("layout") != LAYOUT:
        raise ChurnError(f"{location}/{MANIFEST}: unknown layout {manifest.get('layout')!r}.", PARTITION_FIX)
    return BucketedDir(_located(fs, path, location), int(manifest["n_buckets"]), tuple(manifest["tables"]))


def _read_part(location: str, label: str) -> pd.DataFrame:
    """One Parquet part read raw (index: row numbers from 1), or InputDataError naming it."""
    fs, path = filesystem(location)
    try:
        with fs.open(path, "rb") as handle:
            frame = pd.read_parquet(handle, engine="pyarrow", dtype_backend="numpy_nullable")
    except FileNotFoundError:
        raise InputDataError([Problem(label, None, (), "file not found", PARTITION_FIX)]) from None
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        what = f"not a readable Parquet file ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        raise InputDataError([Problem(label, None, (), what, PARTITION_FIX)]) from None
    return frame.set_axis(pd.RangeIndex(1, len(frame) + 1, name="row"))


def read_bucket_raw(data: BucketedDir, bucket: int) -> dict[str, RawTable]:
    """One bucket's tables read raw, each labelled with its file (relative to the root)."""
    raw = {}
    for table in data.tables:
        location = data.part(table, bucket)
        label = location[len(data.root) + 1:]
        raw[table] = RawTable(label, _read_part(location, label))
    return raw


def read_all_raw(location) -> tuple[dict[str, RawTable], list[Problem]]:
    """Every table of a bucketed directory read raw, buckets in order (rows numbered across them)."""
    data = open_bucketed(location)
    raw, problems = {}, []
    for table in data.tables:
        buckets = [0] if table in WHOLE_TABLES else range(data.n_buckets)
        try:
            parts = [_read_part(data.part(table, k), table) for k in buckets]
        except InputDataError as error:
            problems += error.problems
            continue
        frame = pd.concat(parts, ignore_index=True)
        raw[table] = RawTable(f"{table}/*.parquet", frame.set_axis(pd.RangeIndex(1, len(frame) + 1, name="row")))
    return raw, problems


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def write_parquet(frame: pd.DataFrame, location: str) -> str:
    """Write ``frame`` as one Parquet file at ``location`` (path or URL); returns the SHA-256 of its bytes."""
    data = _parquet_bytes(frame)
    fs, path = filesystem(location)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)
    return hashlib.sha256(data).hexdigest()


def check_replaceable(location, marker: str) -> None:
    """Refuse ``location`` unless it is absent, an empty folder or an earlier output holding ``marker``."""
    fs, path = filesystem(location)
    path = path.rstrip("/")
    if fs.isdir(path) and fs.ls(path) and not fs.isfile(f"{path}/{marker}"):
        raise ChurnError(
            f"{location} exists and is not an earlier output of this command (no {marker}).",
            "give a new folder, or remove this one if it is no longer needed",
        )


@contextmanager
def directory_replaced(location, marker: str) -> Iterator[str]:
    """Yield a temporary sibling of ``location`` to fill; on success it replaces ``location`` in one step.

    ``location`` may exist only as an earlier output of the same kind (it holds ``marker``) or as an empty
    folder; anything else is refused before any work. On a local disk the swap is two renames; on an object
    store (no renames) the temporary prefix is moved, and ``marker``, written last, tells a finished output.
    If anything fails the temporary directory is removed and an earlier output is left as it was.
    """
    check_replaceable(location, marker)
    fs, path = filesystem(location)
    path = path.rstrip("/")
    parent, name = path.rsplit("/", 1)
    for stale in fs.glob(f"{parent}/.{name}.*.tmp"):  # left by a run that was killed
        fs.rm(stale, recursive=True)
    temp = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"
    fs.makedirs(temp, exist_ok=True)
    try:
        yield _located(fs, temp, location)
        _swap(fs, temp, path)
    except BaseException:
        if fs.exists(temp):
            fs.rm(temp, recursive=True)
        raise


def swap_directory(staged: str, target: str) -> None:
    """Move the folder ``staged`` to ``target`` (both paths or URLs on one filesystem), replacing it."""
    fs, temp = filesystem(staged)
    _fs, path = filesystem(target)
    _swap(fs, temp.rstrip("/"), path.rstrip("/"))


def _swap(fs: fsspec.AbstractFileSystem, temp: str, path: str) -> None:
    if not isinstance(fs, LocalFileSystem):
        if fs.exists(path):
            fs.rm(path, recursive=True)
        fs.mv(temp, path, recursive=True)
        return
    if not os.path.exists(path):
        os.replace(temp, path)
        return
    old = f"{temp[: -len('.tmp')]}.old"
    os.replace(path, old)
    os.replace(temp, path)
    shutil.rmtree(old)


def write_bucketed(
    parts: Mapping[str, Mapping[int, pd.DataFrame]], location, n_buckets: int
) -> BucketedDir:
    """Write each table's per-bucket frames (``parts[table][bucket]``; whole tables under bucket 0) atomically."""
    unknown = [t for t in parts if t not in TABLE_NAMES]
    if unknown:
        raise ValueError(f"not contract tables: {unknown}")
    tables = tuple(t for t in TABLE_NAMES if t in parts)
    with directory_replaced(location, MANIFEST) as temp:
        layout = BucketedDir(temp, n_buckets, tables)
        files = {}
        for table in tables:
            files[table] = {
                str(bucket): {"rows": len(frame), "sha256": write_parquet(frame, layout.part(table, bucket))}
                for bucket, frame in parts[table].items()
            }
        manifest = {"layout": LAYOUT, "n_buckets": n_buckets, "tables": list(tables), "files": files}
        fs, path = filesystem(temp)
        fs.pipe_file(f"{path}/{MANIFEST}", json.dumps(manifest, indent=1).encode())
    return open_bucketed(location)


def scored_part(root: str, bucket: int) -> str:
    """Where bucket ``bucket`` of a scored table under ``root`` goes."""
    return f"{root}/bucket={bucket}/part-0.parquet"


def finish_scored_table(root: str, written: list[str], about: Mapping) -> None:
    """Check that every part written (their SHA-256s, by bucket) is visible here, then write the manifest.

    Parts are written by whoever scored the bucket (on a cluster: the workers); a part missing here means
    they wrote to storage this machine does not see.
    """
    fs, path = filesystem(root)
    missing = [k for k in range(len(written)) if not fs.isfile(scored_part(path, k))]
    if missing:
        raise ChurnError(
            f"The scored table's parts for buckets {missing[:5]} are not visible at {root}: the workers wrote "
            "them to storage this machine does not reach.",
            "give --scored-out a location every worker and this machine share (s3://..., a shared folder)",
        )
    manifest = {"layout": SCORED_LAYOUT, "n_buckets": len(written), **about,
                "files": {str(k): {"sha256": digest} for k, digest in enumerate(written)}}
    fs.pipe_file(f"{path}/{SCORED_MANIFEST}", json.dumps(manifest, indent=1, default=str).encode())
