"""Engines: where a function runs over customer buckets, and the data's buckets as an engine holds them.

``local`` runs it in this process, bucket after bucket; ``dask`` maps the very same function over the buckets on
a Dask cluster (an existing one at ``engine.scheduler``, else a local cluster started for the command). Steps
only ever call ``put``/``share``/``map``/``gather``, so another engine (e.g. Spark's
``groupBy(bucket).applyInPandas``) needs only these four and no change to any feature.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from features import (
    GlobalStats,
    PreparedTables,
    combine_global_stats,
    compute_global_stats,
    global_stats_part,
    split_by_bucket,
)
from features.aggregate import prepare_tables
from features.labels import data_end, history_start, purchase_days, purchase_history
from features.registry import visits_lookback_days
from features.tables import EVENT_TIME_COLUMN
from pipeline.bucket_store import is_bucketed, is_url, open_bucketed
from pipeline.config import EngineSettings
from pipeline.contract import InputLimits
from pipeline.errors import ChurnError, Problem
from pipeline.io import load_bucket, load_prepared

if TYPE_CHECKING:
    from models.modelframe import CutoffStats

DISTRIBUTION = "churn-pipeline"
CONNECT_TIMEOUT = "30s"


class Engine(Protocol):
    """Runs functions over buckets; a handle is the value itself (local) or a Dask future."""

    name: str
    threads: int

    def put(self, values: Sequence) -> list: ...

    def share(self, value: Any) -> Any: ...

    def map(self, fn: Callable, *iterables: Sequence, **shared: Any) -> list: ...

    def gather(self, handles: Sequence) -> list: ...


class LocalEngine:
    """This process, one bucket after another."""

    name = "local"
    threads = 1

    def put(self, values: Sequence) -> list:
        return list(values)

    def share(self, value: Any) -> Any:
        return value

    def map(self, fn: Callable, *iterables: Sequence, **shared: Any) -> list:
        return [fn(*args, **shared) for args in zip(*iterables, strict=True)]

    def gather(self, handles: Sequence) -> list:
        return list(handles)


def _held(value: Any) -> Any:
    return value


class DaskEngine:
    """A Dask cluster: values stay on the workers as futures until gathered."""

    name = "dask"

    def __init__(self, client):
        self.client = client
        self.threads = sum(client.nthreads().values())

    def put(self, values: Sequence) -> list:
        return self.client.scatter(list(values), hash=False)

    def share(self, value: Any) -> Any:
        """One copy per worker that needs it (e.g. the model), shared by its tasks.

        Not scattered: as a task's result it can be made again if every worker holding it dies.
        """
        return self.client.submit(_held, value, pure=False)

    def map(self, fn: Callable, *iterables: Sequence, **shared: Any) -> list:
        return self.client.map(fn, *iterables, pure=False, **shared)

    def gather(self, handles: Sequence) -> list:
        from distributed import KilledWorker

        try:
            return self.client.gather(list(handles))
        except KilledWorker as error:
            raise ChurnError(
                f"A Dask worker died while running {error.task!r}, on every retry; no output was written.",
                "look at the worker logs (out of memory? then use more buckets or bigger workers) and run again",
            ) from None
        except CancelledError as error:  # data only a dead worker held (scattered, not recomputable), or no cluster
            raise ChurnError(
                f"The Dask cluster lost work it cannot recompute ({error}); no output was written.",
                "run again; read a bucketed directory (`churn partition`) so that buckets a worker loses are read "
                "again instead of being lost",
            ) from None


@contextmanager
def open_engine(settings: EngineSettings) -> Iterator[Engine]:
    """The engine of the config: local, or a Dask client (to ``scheduler`` or a local cluster), closed after."""
    if settings.kind == "local":
        yield LocalEngine()
        return
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if settings.scheduler:
            try:
                client = stack.enter_context(Client(settings.scheduler, timeout=CONNECT_TIMEOUT))
            except OSError as error:
                raise ChurnError(
                    f"Cannot reach the Dask scheduler at {settings.scheduler}: {error}",
                    "check engine.scheduler / --scheduler (e.g. tcp://scheduler:8786) and that the cluster is up",
                ) from None
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=settings.local_workers,
                    threads_per_worker=settings.threads_per_worker,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,  # worker start-up chatter is noise on an analyst's console
                )
            )
            client = stack.enter_context(Client(cluster))
        _check_workers(client)
        yield DaskEngine(client)


def _installed_version() -> str:
    return version(DISTRIBUTION)


def _check_workers(client) -> None:
    """Every worker must run this same pipeline version: the bucket functions are sent by reference."""
    if not client.nthreads():
        raise ChurnError("The Dask cluster has no workers.", "start workers, or wait until they have joined")
    try:
        found = client.run(_installed_version)
    except Exception as error:  # noqa: BLE001 - anything a worker raises while importing the package
        raise ChurnError(
            f"The Dask workers cannot run the pipeline: {type(error).__name__}: {error}",
            f"install {DISTRIBUTION} (same version) in the workers' environment",
        ) from None
    here = _installed_version()
    other = {worker: v for worker, v in found.items() if v != here}
    if other:
        raise ChurnError(
            f"Dask workers run another {DISTRIBUTION} version than this client ({here}): {other}",
            f"install {DISTRIBUTION} {here} on every worker",
        )


@dataclass(frozen=True)
class Buckets:
    """The data's customer buckets as an engine holds them (each a prepared Tables), the day after its last
    event, and the span of its purchase history (None without transactions): from the first purchase after the
    last year without any (:func:`features.labels.history_start`) to the day after the last one."""

    handles: list
    end: pd.Timestamp
    warnings: tuple[Problem, ...] = ()  # what the checks of a plain data directory warned about
    purchases: tuple[pd.Timestamp, pd.Timestamp] | None = None
    first_purchase: pd.Timestamp | None = None  # the first transaction's day, also when it lies before a break

    def __len__(self) -> int:
        return len(self.handles)


def _bucket_span(tables: PreparedTables) -> tuple[pd.Timestamp | None, tuple | None, np.ndarray]:
    if not any(len(getattr(tables, name)) for name in EVENT_TIME_COLUMN):
        return None, None, np.zeros(0, np.int64)
    return data_end(tables), purchase_history(tables), purchase_days(tables)


def load_buckets(
    engine: Engine,
    data_dir: str | os.PathLike,
    settings: EngineSettings,
    limits: InputLimits | None = None,
    span: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None),
) -> Buckets:
    """The buckets of ``data_dir`` on ``engine``, each checked like :func:`pipeline.io.load_data_dir`.

    A bucketed directory is read bucket by bucket where the engine runs (on a cluster: by the workers, so it
    must be on storage they reach). A plain directory is read here and split into ``settings.buckets`` buckets
    (default: one with the local engine, two per worker thread with Dask). ``span``: (visits since, events
    before) that a run at one as-of date needs (see :func:`pipeline.io.load_prepared`); a plain directory is
    read only within it.
    """
    if is_url(data_dir) or is_bucketed(data_dir):
        stored = open_bucketed(data_dir)
        loaded = engine.map(load_bucket, [stored] * stored.n_buckets, range(stored.n_buckets), limits=limits)
        return _with_end(engine, engine.map(prepare_tables, loaded))
    visits_since, before = span
    tables, warnings = load_prepared(data_dir, limits, before=before, visits_since=visits_since)
    buckets = split_buckets(engine, tables, settings.buckets or (1 if engine.name == "local" else 2 * engine.threads))
    return replace(buckets, warnings=tuple(warnings))


def as_of_span(as_of: pd.Timestamp, settings) -> tuple[pd.Timestamp, pd.Timestamp]:
    """What a run at one as-of date reads: visits since the engagement features' lookback, events before as_of."""
    return as_of - pd.Timedelta(days=visits_lookback_days(settings)), as_of


def split_buckets(engine: Engine, tables: PreparedTables, n_buckets: int) -> Buckets:
    """``tables`` split into ``n_buckets`` customer buckets and handed to ``engine``.

    Buckets are always prepared (:func:`features.aggregate.prepare_tables`): ids become integer codes once, not
    once per step that reads them.
    """
    parts = [tables] if n_buckets == 1 else list(split_by_bucket(tables, n_buckets))
    return _with_end(engine, engine.put(parts))


def _with_end(engine: Engine, handles: list) -> Buckets:
    spans = engine.gather(engine.map(_bucket_span, handles))
    ends = [end for end, _, _ in spans if end is not None]
    if not ends:
        raise ChurnError("The data holds no events.", "check that transactions.* has rows")
    purchases = [span for _, span, _ in spans if span is not None]
    if not purchases:
        return Buckets(handles, max(ends))
    days = functools.reduce(np.union1d, [d for _, _, d in spans])
    return Buckets(handles, max(ends), purchases=(history_start(days), max(e for _, e in purchases)),
                   first_purchase=min(s for s, _ in purchases))


def feature_stats(engine: Engine, buckets: Buckets, as_of: pd.Timestamp, settings) -> GlobalStats:
    """The feature builders' statistics across all customers at ``as_of`` (no model's: nothing is fitted)."""
    if len(buckets) == 1:
        return engine.gather(engine.map(compute_global_stats, buckets.handles, as_of=as_of, settings=settings))[0]
    parts = engine.gather(engine.map(global_stats_part, buckets.handles, as_of=as_of, settings=settings))
    return combine_global_stats(parts, settings)


def global_stats(
    engine: Engine, buckets: Buckets, cutoffs: Sequence[pd.Timestamp], settings
) -> dict[pd.Timestamp, CutoffStats]:
    """The statistics across all customers at each cutoff, computed once (each bucket sends only what they read)."""
    # Here, not at the top: the models' statistics (the BG/NBD fit, so scipy) are for train and score only, and
    # `churn features` would otherwise pay for importing them.
    from models.modelframe import combine_stats, cutoff_stats, stats_inputs

    if len(buckets) == 1:  # the whole data in one piece: nothing to gather
        return engine.gather(engine.map(cutoff_stats, buckets.handles, cutoffs=cutoffs, settings=settings))[0]
    parts = engine.gather(engine.map(stats_inputs, buckets.handles, cutoffs=cutoffs, settings=settings))
    return combine_stats(parts, cutoffs, settings)
