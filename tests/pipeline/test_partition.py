"""`churn partition` and the bucketed store: a lossless round trip, one bucket per customer across tables, a
manifest that matches the files, fsspec URLs, atomic rewrites, and one-screen errors for bad input."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pipeline.bucket_store
from pipeline.featurize import write_features
from pipeline.io import load_data_dir, read_frame
from pipeline.partition import partition_data_dir

N_BUCKETS = 4
CUSTOMER_TABLES = ("customers", "transactions", "complaints", "visits")


@pytest.fixture(scope="module")
def bucketed(world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bucketed") / "data"
    partition_data_dir(world, out, N_BUCKETS)
    return out


def parts_of(root: Path, table: str) -> dict[int, pd.DataFrame]:
    """Each bucket's file of ``table`` read straight with pyarrow, by the bucket number in its folder name."""
    return {
        int(re.fullmatch(r"bucket=(\d+)", path.parent.name)[1]): pq.read_table(path).to_pandas()
        for path in sorted((root / table).glob("bucket=*/part-0.parquet"))
    }


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)


def test_reading_the_bucketed_directory_gives_the_tables_of_the_original(world, bucketed):
    original, _ = load_data_dir(world)
    again, _ = load_data_dir(bucketed)
    for name, frame in original.items():
        pd.testing.assert_frame_equal(canonical(getattr(again, name)), canonical(frame), check_exact=True)
    assert len(original.transactions) > 1000


def test_every_table_of_a_customer_lands_in_one_bucket_in_original_row_order(world, bucketed):
    buckets_of = pd.concat(
        [part[["customer_id"]].assign(bucket=k) for table in CUSTOMER_TABLES
         for k, part in parts_of(bucketed, table).items()]
    ).groupby("customer_id")["bucket"].nunique()
    customers = pd.read_csv(world / "customers.csv", dtype={"customer_id": str})["customer_id"]
    assert set(buckets_of.index) == set(customers)
    assert (buckets_of == 1).all()

    transaction_order = pd.read_csv(world / "transactions.csv", usecols=["transaction_id"])["transaction_id"]
    position = pd.Series(range(len(transaction_order)), index=transaction_order)
    parts = parts_of(bucketed, "transactions")
    assert sorted(parts) == list(range(N_BUCKETS)) and all(len(p) > 100 for p in parts.values())
    for part in parts.values():
        assert position[part["transaction_id"]].is_monotonic_increasing


def test_the_manifest_holds_the_rows_and_hash_of_every_file(bucketed):
    manifest = json.loads((bucketed / "_buckets.json").read_text())
    assert manifest["n_buckets"] == N_BUCKETS
    assert manifest["tables"] == ["transactions", "customers", "complaints", "visits", "account_managers"]
    for table, files in manifest["files"].items():
        for bucket, about in files.items():
            folder = bucketed / table if table == "account_managers" else bucketed / table / f"bucket={bucket}"
            data = (folder / "part-0.parquet").read_bytes()
            assert hashlib.sha256(data).hexdigest() == about["sha256"]
            assert pq.read_metadata(folder / "part-0.parquet").num_rows == about["rows"]


def test_validate_reads_a_bucketed_directory_whole(bucketed, cli):
    result = cli("validate", "--data", bucketed)
    assert result.exit_code == 0, result.output
    assert "300 customers" in result.output


def test_an_fsspec_url_round_trips_and_gives_the_same_features(world, cfg, tmp_path):
    url = "memory://churn-tests/bucketed"
    try:
        partition_data_dir(world, url, 3)
        assert fsspec.filesystem("memory").isfile("/churn-tests/bucketed/_buckets.json")
        original, _ = load_data_dir(world)
        again, _ = load_data_dir(url)
        pd.testing.assert_frame_equal(
            canonical(again.transactions), canonical(original.transactions), check_exact=True
        )
        as_of = pd.Timestamp("2025-09-01")
        write_features(world, as_of.date(), tmp_path / "plain.parquet", cfg)
        write_features(url, as_of.date(), tmp_path / "url.parquet", cfg)
        plain = read_frame(tmp_path / "plain.parquet")
        assert len(plain) > 50
        pd.testing.assert_frame_equal(read_frame(tmp_path / "url.parquet"), plain, check_exact=True)
    finally:
        fsspec.filesystem("memory").rm("/churn-tests", recursive=True)


def test_a_new_partition_replaces_an_earlier_one_and_a_failed_one_leaves_it(world, tmp_path, monkeypatch):
    out = tmp_path / "bucketed"
    partition_data_dir(world, out, 2)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    real_write, calls = pipeline.bucket_store.write_parquet, []

    def write_three_then_interrupt(frame, location):
        calls.append(location)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real_write(frame, location)

    monkeypatch.setattr(pipeline.bucket_store, "write_parquet", write_three_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        partition_data_dir(world, out, 5)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert after == before  # the earlier output, byte for byte, and no temporary folder

    monkeypatch.setattr(pipeline.bucket_store, "write_parquet", real_write)
    partition_data_dir(world, out, 5)
    assert json.loads((out / "_buckets.json").read_text())["n_buckets"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bucketed"]
    assert len(list((out / "transactions").iterdir())) == 5


def test_a_folder_that_is_not_an_earlier_partition_is_refused(world, tmp_path, cli):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = cli("partition", "--data", world, "--out", out, "--buckets", 4)
    assert result.exit_code == 1
    assert "is not an earlier output of this command" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_partition_through_the_cli(world, tmp_path, cli):
    result = cli("partition", "--data", world, "--out", tmp_path / "b", "--buckets", 3)
    assert result.exit_code == 0, result.output
    assert "in 3 customer buckets" in result.output
    assert sorted(p.name for p in (tmp_path / "b" / "visits").iterdir()) == ["bucket=0", "bucket=1", "bucket=2"]


@pytest.mark.parametrize("buckets", [0, -3, 100_001])
def test_a_bad_bucket_count_is_one_clean_error(world, tmp_path, cli, buckets):
    result = cli("partition", "--data", world, "--out", tmp_path / "b", "--buckets", buckets)
    assert result.exit_code == 1
    assert f"--buckets {buckets}: must be between 1 and 100,000" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_a_missing_data_folder_is_one_clean_error(tmp_path, cli):
    result = cli("partition", "--data", tmp_path / "nowhere", "--out", tmp_path / "b", "--buckets", 4)
    assert result.exit_code == 1
    assert "folder not found" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_bad_data_is_refused_before_anything_is_written(world, tmp_path, cli):
    bad = tmp_path / "bad"
    bad.mkdir()
    transactions = pd.read_csv(world / "transactions.csv", dtype=str, keep_default_na=False)
    transactions.loc[4, "amount"] = "twelve"
    transactions.to_csv(bad / "transactions.csv", index=False)
    result = cli("partition", "--data", bad, "--out", tmp_path / "b", "--buckets", 4)
    assert result.exit_code == 1
    assert re.search(r"transactions\.csv, column amount, line 6\b", result.output)
    assert "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_a_url_whose_filesystem_is_not_installed_or_known_is_one_clean_error(world, tmp_path, cli, monkeypatch):
    result = cli("features", "--data", "nosuchfs://bucket/data", "--as-of", "2025-06-01",
                 "--out", tmp_path / "f.parquet")
    assert result.exit_code == 1
    assert "cannot open nosuchfs://bucket/data" in result.output
    assert "Traceback" not in result.output

    def no_s3fs(url, **kwargs):
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(fsspec.core, "url_to_fs", no_s3fs)
    result = cli("partition", "--data", world, "--out", "s3://bucket/bucketed", "--buckets", 4)
    assert result.exit_code == 1
    assert "install the filesystem package for this URL (s3fs, gcsfs, adlfs, ...)" in result.output
    assert "Traceback" not in result.output
