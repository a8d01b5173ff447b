"""The Dask engine on a LocalCluster of 2 worker processes, against the local engine on the session's world:
the same features, the same list byte for byte, the same training snapshots; the model sent once per worker;
a killed worker retried, or the job failing cleanly with no partial output.

One cluster serves the module. Its scheduler allows one retry after a worker dies (Dask's default is three),
which keeps the failure tests short; the commands reach it as an existing cluster (``--scheduler``), and one
test lets ``--engine dask`` start its own.
"""

from __future__ import annotations

import logging
import os
import shutil
from functools import partial
from pathlib import Path

import dask
import pandas as pd
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

import pipeline.engine
import pipeline.featurize
import pipeline.score
import pipeline.train
from features import build_feature_table
from pipeline.bucket_store import write_parquet
from pipeline.config import load_config
from pipeline.engine import DaskEngine, open_engine
from pipeline.errors import ChurnError
from pipeline.featurize import write_features
from pipeline.io import read_frame
from pipeline.partition import partition_data_dir
from pipeline.score import write_winback

DAY = pd.Timedelta(days=1)
N_BUCKETS = 8


# ----------------------------------------------------------------- run on the workers (imported there by name)


class LargeModel:
    """Stands for the model: one object, not a collection (Dask would scatter a dict or list item by item)."""

    weights = bytes(1_000_000)


def where_shared(bucket: int, model) -> tuple[int, int]:
    """The worker process a task ran in, and which copy of the shared value it was given."""
    return os.getpid(), id(model)


def _dies(flag: Path, once: bool) -> None:
    """End this worker process abruptly, as the OOM killer or a lost machine would (every time, or once)."""
    if not once or not flag.exists():
        flag.touch()
        os._exit(1)


def features_dying_on(tables, *args, customer: str, flag: Path, once: bool, **kwargs):
    """build_feature_table, except that the bucket holding ``customer`` kills its worker."""
    if customer in set(tables.customers["customer_id"].astype("str")):
        _dies(flag, once)
    return build_feature_table(tables, *args, **kwargs)


def write_then_die(frame, location: str, *, bucket: int, flag: Path):
    """write_parquet, except that bucket ``bucket``'s part is written and then its worker dies, every time."""
    digest = write_parquet(frame, location)
    if f"bucket={bucket}/" in location:
        _dies(flag, once=False)
    return digest


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def client():
    """A client of the module's cluster (2 worker processes, 1 thread each), for the tests' own checks."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield client


@pytest.fixture(autouse=True)
def two_workers(client):
    """Workers killed by an earlier test are restarted by their nanny: wait until both are back."""
    client.wait_for_workers(2, timeout=120)


@pytest.fixture(scope="module")
def dask_cfg(store, client):
    return load_config(store.config_file, {"engine.kind": "dask", "engine.scheduler": client.scheduler.address})


@pytest.fixture(scope="module")
def bucketed(world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dask-bucketed") / "data"
    partition_data_dir(world, out, N_BUCKETS)
    return out


@pytest.fixture(scope="module")
def as_of(last_event_day_after) -> pd.Timestamp:
    return last_event_day_after - 30 * DAY


@pytest.fixture(scope="module")
def local_features(world, cfg, as_of, tmp_path_factory) -> Path:
    return _features(world, cfg, as_of, tmp_path_factory.mktemp("local-features"))


def _features(data, cfg, as_of, folder: Path) -> Path:
    out = folder / "features.parquet"
    write_features(data, as_of.date(), out, cfg)
    return out


@pytest.fixture(scope="module")
def local_list(world, cfg, trained, tmp_path_factory):
    """The win-back list of the local engine (one bucket of everything), with its report and scored table."""
    return write_winback(world, tmp_path_factory.mktemp("local-list") / "winback.csv", None, None, cfg)


def read_scored(location) -> pd.DataFrame:
    """A scored table as one frame, rows by customer, without the bucket column its folders give."""
    table = pd.read_parquet(location).drop(columns="bucket")
    return table.sort_values("customer_id", ignore_index=True)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------------ parity


def test_features_on_dask_equal_the_local_engine_and_a_hand_count(
    world, bucketed, dask_cfg, as_of, local_features, purchases, tmp_path
):
    local = read_frame(local_features)
    for name, data in (("plain", world), ("bucketed", bucketed)):
        (tmp_path / name).mkdir()
        on_dask = read_frame(_features(data, dask_cfg, as_of, tmp_path / name))
        pd.testing.assert_frame_equal(on_dask, local, check_exact=True)

    # and both are right: who is active, and two features counted by hand from transactions.csv
    before = purchases[purchases["timestamp"] < as_of]
    active = before[before["timestamp"] >= as_of - 90 * DAY]["customer_id"].unique()
    assert sorted(local["customer_id"]) == sorted(active)
    last_30 = before[before["timestamp"] >= as_of - 30 * DAY].groupby("customer_id").size()
    rows = local.set_index("customer_id")
    assert (rows["purchase_count_30d"] == last_30.reindex(rows.index, fill_value=0)).all()
    transactions = pd.read_csv(world / "transactions.csv", dtype={"customer_id": str}, parse_dates=["timestamp"])
    window = transactions[(transactions["timestamp"] < as_of) & (transactions["timestamp"] >= as_of - 90 * DAY)]
    spend = window.groupby("customer_id")["amount"].sum().reindex(rows.index, fill_value=0.0)
    assert (rows["spend_90d"] - spend).abs().max() < 1e-9


def test_the_list_on_dask_is_byte_identical_and_the_model_is_sent_once(
    world, bucketed, dask_cfg, local_list, tmp_path, monkeypatch
):
    shared = []
    real_share = DaskEngine.share

    def counting_share(self, value):
        shared.append(type(value).__name__)
        return real_share(self, value)

    monkeypatch.setattr(DaskEngine, "share", counting_share)
    local_scored = read_scored(local_list.scored)
    for name, data in (("plain", world), ("bucketed", bucketed)):
        result = write_winback(data, tmp_path / name / "winback.csv", None, None, dask_cfg)
        assert result.out.read_bytes() == local_list.out.read_bytes(), name
        assert result.lapsed.read_bytes() == local_list.lapsed.read_bytes(), name
        assert result.report.read_bytes() == local_list.report.read_bytes(), name
        pd.testing.assert_frame_equal(read_scored(result.scored), local_scored, check_exact=True)
    assert shared == ["ChurnClassifier", "ChurnClassifier"]  # once per run, then reused by every bucket's task

    # the scored table holds the list's rows and, per bucket folder, the customers of that data bucket
    listed = pd.read_csv(local_list.out, dtype={"customer_id": str}, keep_default_na=False)
    assert local_scored["customer_id"].tolist() == sorted(listed["customer_id"])
    by_customer = listed.set_index("customer_id").loc[local_scored["customer_id"]]
    for column in ("rank", "churn_probability", "value_at_risk", "value_tier", "in_target"):
        assert local_scored[column].tolist() == by_customer[column].tolist(), column
    assert {"spend_90d", "bgnbd_p_alive"} <= set(local_scored.columns)
    scored_root = tmp_path / "bucketed" / "winback_scored"
    for bucket in range(N_BUCKETS):
        part = pq.read_table(scored_root / f"bucket={bucket}" / "part-0.parquet").to_pandas()
        data_part = pq.read_table(bucketed / "customers" / f"bucket={bucket}" / "part-0.parquet").to_pandas()
        assert set(part["customer_id"]) <= set(data_part["customer_id"].astype(str))
        assert len(part) > 0


def test_the_model_is_held_once_per_worker(client):
    engine = DaskEngine(client)
    handle = engine.share(LargeModel())
    places = engine.gather(engine.map(where_shared, list(range(12)), model=handle))
    copies = pd.DataFrame(places, columns=["pid", "copy"]).groupby("pid")["copy"].nunique()
    assert len(copies) <= 2
    assert (copies == 1).all()


def test_train_on_dask_builds_the_snapshots_of_local_training(bucketed, store, cli, trained, client, monkeypatch):
    seen = {}

    def stop_after_snapshots(snapshots, *args, **kwargs):
        seen["snapshots"] = snapshots
        raise ChurnError("stopped after the snapshots (test)")

    monkeypatch.setattr(pipeline.train, "run_backtest", stop_after_snapshots)
    result = cli("train", "--data", bucketed, "--scheduler", client.scheduler.address, "--config", store.config_file)
    assert "stopped after the snapshots (test)" in result.output
    assert result.exit_code == 1
    pd.testing.assert_frame_equal(seen["snapshots"], trained.snapshots, check_exact=True)


def test_engine_dask_without_a_scheduler_starts_a_local_cluster(world, store, cli, as_of, local_features, tmp_path):
    out = tmp_path / "features.parquet"
    result = cli(
        "features", "--data", world, "--as-of", as_of.date(), "--out", out, "--engine", "dask",
        "--config", store.config_file,
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == local_features.read_bytes()


# ------------------------------------------------------------------------------------------------ refusals


def test_workers_running_another_version_are_refused(client, dask_cfg, monkeypatch):
    # only this process sees the other version: the workers run the check function from their own install
    monkeypatch.setattr(pipeline.engine, "version", lambda distribution: "0.0.0-not-the-workers")
    with pytest.raises(ChurnError, match="Dask workers run another churn-pipeline version"), open_engine(
        dask_cfg.engine
    ):
        pass


def test_an_unreachable_scheduler_is_one_clean_error(world, store, cli, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline.engine, "CONNECT_TIMEOUT", "2s")
    out = tmp_path / "f.parquet"
    result = cli(
        "features", "--data", world, "--as-of", "2025-06-01", "--out", out, "--scheduler", "tcp://127.0.0.1:9",
        "--config", store.config_file,
    )
    assert result.exit_code == 1
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_local_engine_and_a_scheduler_together_are_refused(world, store, cli, tmp_path):
    result = cli(
        "score", "--data", world, "--out", tmp_path / "w.csv", "--engine", "local", "--scheduler", "tcp://x:1",
        "--config", store.config_file,
    )
    assert result.exit_code == 1
    assert "--scheduler is for the Dask engine" in result.output


# --------------------------------------------------------------------------------------------- failures


def test_a_worker_killed_mid_job_is_retried_and_the_result_is_unchanged(
    bucketed, dask_cfg, as_of, local_features, world, tmp_path, monkeypatch
):
    victim = pd.read_csv(world / "customers.csv", dtype={"customer_id": str})["customer_id"].iloc[0]
    flag = tmp_path / "died"
    monkeypatch.setattr(
        pipeline.featurize, "build_feature_table", partial(features_dying_on, customer=victim, flag=flag, once=True)
    )
    out = _features(bucketed, dask_cfg, as_of, tmp_path)
    assert flag.exists()  # a worker did die
    assert out.read_bytes() == local_features.read_bytes()


def test_a_worker_dying_on_every_retry_fails_the_score_cleanly_leaving_last_weeks_outputs(
    bucketed, store, cli, client, local_list, tmp_path, monkeypatch
):
    folder = tmp_path / "out"
    folder.mkdir()
    shutil.copy(local_list.out, folder / "winback.csv")
    shutil.copy(local_list.report, folder / "winback_report.html")
    shutil.copytree(local_list.scored, folder / "winback_scored")
    before = tree(folder)
    flag = tmp_path / "died"
    monkeypatch.setattr(pipeline.score, "write_parquet", partial(write_then_die, bucket=3, flag=flag))
    result = cli(
        "score", "--data", bucketed, "--out", folder / "winback.csv", "--scheduler", client.scheduler.address,
        "--config", store.config_file,
    )
    assert flag.exists()  # the part of bucket 3 was written into the temporary folder, then its worker died
    assert result.exit_code == 1
    assert "A Dask worker died while running" in result.output
    assert "Traceback" not in result.output
    assert tree(folder) == before  # no new list, report or scored part, and no temporary folder


def test_losing_a_worker_that_holds_a_bucket_read_from_a_plain_folder_is_a_clean_error(
    world, dask_cfg, as_of, tmp_path, monkeypatch
):
    victim = pd.read_csv(world / "customers.csv", dtype={"customer_id": str})["customer_id"].iloc[0]
    flag = tmp_path / "died"
    monkeypatch.setattr(
        pipeline.featurize, "build_feature_table", partial(features_dying_on, customer=victim, flag=flag, once=True)
    )
    with pytest.raises(ChurnError, match="lost work it cannot recompute") as error:
        _features(world, dask_cfg, as_of, tmp_path)
    assert "churn partition" in error.value.hint
    assert flag.exists()
    assert list(tmp_path.iterdir()) == [flag]
