"""The local engine over customer buckets: buckets without customers or without active ones, in-memory
splits and the training sample give what one bucket of everything gives."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from models.snapshots import in_training_sample
from pipeline.config import load_config
from pipeline.engine import LocalEngine, load_buckets
from pipeline.featurize import write_features
from pipeline.io import read_frame
from pipeline.partition import partition_data_dir
from pipeline.score import write_winback
from pipeline.train import snapshot_data

N_ACTIVE = 12
N_BUCKETS = 16


@pytest.fixture(scope="module")
def small_world(world, purchases, last_event_day_after, cfg, tmp_path_factory) -> Path:
    """12 customers of the session's world active at its end and 12 who are not, with all their events."""
    out = tmp_path_factory.mktemp("small-world")
    last = purchases.groupby("customer_id")["timestamp"].max().sort_index()
    recent = last >= last_event_day_after - pd.Timedelta(days=cfg.churn.active_window_days)
    keep = set(last[recent].index[:N_ACTIVE]) | set(last[~recent].index[:N_ACTIVE])
    for path in world.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "customer_id" in frame:
            frame = frame[frame["customer_id"].isin(keep)]
        frame.to_csv(out / path.name, index=False)
    return out


@pytest.fixture(scope="module")
def small_bucketed(small_world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small-bucketed") / "data"
    partition_data_dir(small_world, out, N_BUCKETS)
    return out


def test_buckets_without_customers_or_active_ones_change_nothing(small_world, small_bucketed, cfg, trained, tmp_path):
    rows = json.loads((small_bucketed / "_buckets.json").read_text())["files"]["customers"]
    assert any(about["rows"] == 0 for about in rows.values())  # buckets with no customer at all

    whole = write_winback(small_world, tmp_path / "whole" / "winback.csv", None, None, cfg)
    bucketed = write_winback(small_bucketed, tmp_path / "bucketed" / "winback.csv", None, None, cfg)
    assert bucketed.out.read_bytes() == whole.out.read_bytes()
    assert bucketed.lapsed.read_bytes() == whole.lapsed.read_bytes()  # lapsed customers found bucket by bucket
    assert whole.n_customers == N_ACTIVE
    listed = pd.read_parquet(bucketed.scored)
    scored_buckets = set(listed["bucket"].astype(int))
    with_customers = {int(k) for k, about in rows.items() if about["rows"] > 0}
    assert scored_buckets < with_customers  # some buckets have customers but none active: empty parts
    assert len(list(Path(bucketed.scored).glob("bucket=*/part-0.parquet"))) == N_BUCKETS

    as_of = whole.as_of.date()
    write_features(small_world, as_of, tmp_path / "whole.parquet", cfg)
    write_features(small_bucketed, as_of, tmp_path / "bucketed.parquet", cfg)
    pd.testing.assert_frame_equal(
        read_frame(tmp_path / "bucketed.parquet"), read_frame(tmp_path / "whole.parquet"), check_exact=True
    )


def test_a_plain_folder_split_in_memory_gives_the_same_features(world, store, last_event_day_after, tmp_path):
    as_of = (last_event_day_after - pd.Timedelta(days=45)).date()
    one = load_config(store.config_file)
    three = load_config(store.config_file, {"engine.buckets": 3})
    write_features(world, as_of, tmp_path / "one.parquet", one)
    write_features(world, as_of, tmp_path / "three.parquet", three)
    pd.testing.assert_frame_equal(
        read_frame(tmp_path / "three.parquet"), read_frame(tmp_path / "one.parquet"), check_exact=True
    )


def test_the_training_sample_is_the_sampled_customers_rows_of_the_full_snapshots(world, store, trained):
    cfg = load_config(store.config_file, {"engine.snapshot_customer_share": 0.4})
    engine = LocalEngine()
    data = snapshot_data(engine, load_buckets(engine, world, cfg.engine), cfg)
    full = trained.snapshots
    chosen = in_training_sample(full["customer_id"], 0.4)
    assert 0.25 < chosen.mean() < 0.55
    pd.testing.assert_frame_equal(data.snapshots, full[chosen].reset_index(drop=True), check_exact=True)


def test_a_row_cap_lowers_the_share_to_fit_and_says_so(world, store, trained):
    full = trained.snapshots
    cap = len(full) // 3
    cfg = load_config(store.config_file, {"engine.max_snapshot_rows": cap})
    engine = LocalEngine()
    data = snapshot_data(engine, load_buckets(engine, world, cfg.engine), cfg)
    share = cap / len(full)  # every customer active at a cutoff is one row: the full snapshots count them
    assert data.customer_share == pytest.approx(share)
    chosen = in_training_sample(full["customer_id"], share)
    pd.testing.assert_frame_equal(data.snapshots, full[chosen].reset_index(drop=True), check_exact=True)
    assert 0.2 * len(full) < len(data.snapshots) < 0.5 * len(full)
    assert f"{share:.1%} sample of customers" in data.notes[-1]
    assert f"would give {len(full):,} rows" in data.notes[-1]
