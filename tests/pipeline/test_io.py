"""pipeline.io: reading a data directory into checked Tables, and atomic, byte-stable writes that read back equal."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from features.tables import make_tables
from pipeline.errors import ChurnError, InputDataError
from pipeline.io import (
    _read_csv_strings_by_arrow,
    _read_csv_strings_by_pandas,
    load_data_dir,
    read_frame,
    read_table_file,
    write_atomic,
    write_frame,
    write_tables,
)


def stamps(*values: str | None) -> pd.Series:
    return pd.to_datetime(pd.Series(values), format="ISO8601").astype("datetime64[ns]")


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Raw contract tables in their conformed dtypes, with the awkward values: NA, returns, floats, dates."""
    return {
        "transactions": pd.DataFrame(
            {
                "customer_id": ["007", "C2", "007"],
                "timestamp": stamps("2024-03-01 13:45:00", "2024-03-02", "2024-03-03 00:00:01"),
                "amount": [0.1 + 0.2, -5.0, 1 / 3],
                "transaction_id": ["T1", "T2", "T3"],
                "promo": pd.array([True, None, False], dtype="boolean"),
                "category": ["a, with comma", None, 'say "hi"'],
            }
        ),
        "customers": pd.DataFrame(
            {
                "customer_id": ["007", "C2"],
                "signup_date": stamps("2020-01-01", None),
                "account_manager_id": ["M1", None],
                "wallet_estimate": [1e6, np.nan],
            }
        ),
        "complaints": pd.DataFrame(
            {
                "customer_id": ["C2"],
                "opened_at": stamps("2024-01-01 10:00"),
                "resolved_at": stamps(None),
                "severity": pd.array([3], dtype="Int64"),
            }
        ),
        "account_managers": pd.DataFrame({"account_manager_id": ["M1"], "departed_at": stamps("2024-02-01")}),
    }


def test_load_data_dir_returns_conformed_tables_and_the_warnings(tmp_path):
    (tmp_path / "transactions.csv").write_text(
        "customer_id,timestamp,amount,promo\n007,2024-03-01,10,yes\nC9,2024-03-02 10:00:00+01:00,-2.5,\n"
    )
    (tmp_path / "customers.csv").write_text("customer_id,segment\n007,retail\n")

    tables, warnings = load_data_dir(tmp_path)

    assert [(w.file, w.column, w.rows, w.severity) for w in warnings] == [
        ("transactions.csv", "customer_id", (3,), "warning")
    ]
    tx = tables.transactions
    assert tx["customer_id"].tolist() == ["007", "C9"]  # ids stay strings: no lost leading zero
    assert tx["timestamp"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02 09:00")]
    assert tx["amount"].tolist() == [10.0, -2.5]
    assert tx["promo"].tolist() == [True, pd.NA]
    assert tx.index.tolist() == [0, 1]
    assert str(tx["timestamp"].dtype) == "datetime64[ns]"
    assert tables.customers["segment"].tolist() == ["retail"]
    assert tables.complaints.empty and "opened_at" in tables.complaints.columns


def test_load_data_dir_derives_customers_when_the_file_is_absent(tmp_path):
    (tmp_path / "transactions.csv").write_text(
        "customer_id,timestamp,amount\nB,2024-03-01,1\nA,2024-03-01,1\n"
    )

    tables, warnings = load_data_dir(tmp_path)

    assert warnings == []
    assert tables.customers["customer_id"].tolist() == ["A", "B"]


def test_load_data_dir_raises_one_error_listing_every_problem(tmp_path):
    (tmp_path / "transactions.csv").write_text(
        "customer_id,timestamp,amount\nC1,2024-02-30,1\nC1,2024-03-01,x\n"
    )
    (tmp_path / "visits.parquet").write_bytes(b"not parquet")

    with pytest.raises(InputDataError) as caught:
        load_data_dir(tmp_path)

    assert {(p.file, p.column) for p in caught.value.problems} == {
        ("transactions.csv", "timestamp"),
        ("transactions.csv", "amount"),
        ("visits.parquet", None),
    }
    message = caught.value.render()
    assert "3 problem(s)" in message
    assert "transactions.csv, column timestamp, line 2: not a valid date ('2024-02-30')" in message
    assert "Traceback" not in message


def test_load_data_dir_ignores_the_truth_folder_and_other_files(tmp_path):
    (tmp_path / "transactions.csv").write_text("customer_id,timestamp,amount\nC1,2024-03-01,1\n")
    (tmp_path / "_truth").mkdir()
    (tmp_path / "_truth" / "transactions.csv").write_bytes(b"\xff junk")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "transactions_old.csv").write_bytes(b"\xff junk")

    tables, _ = load_data_dir(tmp_path)

    assert tables.transactions["customer_id"].tolist() == ["C1"]


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_write_tables_then_load_data_dir_gives_equal_tables(tmp_path, frames, fmt):
    written = write_tables(frames, tmp_path, fmt)

    tables, warnings = load_data_dir(tmp_path)

    assert sorted(p.name for p in written.values()) == sorted(f"{name}.{fmt}" for name in frames)
    assert warnings == []
    expected = make_tables(frames)
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table, getattr(expected, name), check_exact=True)


def test_csv_is_written_with_fixed_formats_and_the_frame_left_alone(tmp_path, frames):
    before = frames["transactions"].copy()
    path = write_frame(frames["transactions"], tmp_path / "transactions.csv")

    pd.testing.assert_frame_equal(frames["transactions"], before)

    assert path.read_text() == (
        "customer_id,timestamp,amount,transaction_id,promo,category\n"
        '007,2024-03-01 13:45:00,0.30000000000000004,T1,true,"a, with comma"\n'
        "C2,2024-03-02 00:00:00,-5.0,T2,,\n"
        '007,2024-03-03 00:00:01,0.3333333333333333,T3,false,"say ""hi"""\n'
    )
    write_frame(frames["customers"], tmp_path / "customers.csv")
    assert (tmp_path / "customers.csv").read_text() == (
        "customer_id,signup_date,account_manager_id,wallet_estimate\n007,2020-01-01,M1,1000000.0\nC2,,,\n"
    )


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_same_frame_gives_the_same_bytes(tmp_path, frames, suffix):
    first = write_frame(frames["transactions"], tmp_path / f"a{suffix}").read_bytes()
    second = write_frame(frames["transactions"].copy(), tmp_path / "sub" / f"b{suffix}").read_bytes()

    assert first == second


def test_write_atomic_leaves_the_previous_file_and_no_temp_file_on_failure(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old content\n")

    def fail_halfway(temp):
        temp.write_text("half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, fail_halfway)

    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_write_atomic_replaces_the_file_in_one_step(tmp_path):
    target = tmp_path / "deep" / "scores.csv"

    write_atomic(target, lambda temp: temp.write_text("new\n"))

    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["scores.csv"]


def test_write_tables_creates_a_subfolder_such_as_truth(tmp_path, frames):
    write_tables({"customers": frames["customers"]}, tmp_path / "out" / "_truth", "parquet")

    assert [p.name for p in (tmp_path / "out" / "_truth").iterdir()] == ["customers.parquet"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_read_frame_gives_back_a_feature_table(tmp_path, suffix):
    features = pd.DataFrame(
        {
            "spend_90d": [12.5, np.nan, 0.0],
            "purchase_count": [3, 0, 1],
            "is_key_account": [True, False, False],
            "last_purchase": stamps("2024-01-01", "2024-02-03 10:00:00", None).to_numpy(),
            "segment": ["retail", None, "b2b"],
            "empty_feature": [np.nan, np.nan, np.nan],
        },
        index=pd.Index(["007", "C2", "C3"], name="customer_id"),
    )

    back = read_frame(write_frame(features, tmp_path / f"features{suffix}"))

    expected = features.reset_index()
    if suffix == ".csv":  # CSV cannot tell bool from a boolean with NA
        expected = expected.astype({"is_key_account": "boolean"})
    pd.testing.assert_frame_equal(back, expected, check_exact=True)


def test_read_frame_gives_nanosecond_timestamps_whatever_the_parquet_stores(tmp_path):
    pd.DataFrame({"as_of": pd.to_datetime(["2024-01-01"]).astype("datetime64[us]")}).to_parquet(
        tmp_path / "t.parquet"
    )

    assert str(read_frame(tmp_path / "t.parquet")["as_of"].dtype) == "datetime64[ns]"


def test_read_table_file_reads_csv_as_strings_indexed_by_line(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_bytes("\ufeffcustomer_id,channel\nNA,web\n\n007, \n,\nC2,null\n".encode())

    raw = read_table_file(path)

    assert raw.index.name == "line"
    assert raw.index.tolist() == [2, 4, 6]  # the blank line 3 and the empty record on line 5 are dropped
    assert raw["customer_id"].tolist() == ["NA", "007", "C2"]  # "NA" may be a real id
    assert raw["channel"].tolist() == ["web", " ", "null"]
    assert all(raw.dtypes == "str")


WELL_FORMED_CSV = (
    "\ufeffcustomer_id,channel,note\r\n"  # a byte-order mark, Windows line ends
    'NA,web,"a, quoted comma"\r\n'
    "\r\n"  # a blank line: a row of NA in both (kept for the line numbers, dropped later)
    'null,,"two\nlines"\r\n'  # a quoted line break
    "007, ,  spaces kept  \r\n"
    'C2,"",ünïcode\r\n'  # a quoted empty field is missing too
)


@pytest.mark.parametrize("name", ["visits.csv", "visits.csv.gz"])
def test_arrow_reads_a_well_formed_csv_exactly_as_pandas(tmp_path, name):
    path = tmp_path / name
    data = WELL_FORMED_CSV.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)

    by_arrow = _read_csv_strings_by_arrow(path)

    assert by_arrow is not None
    pd.testing.assert_frame_equal(by_arrow, _read_csv_strings_by_pandas(path), check_exact=True)
    assert by_arrow.iloc[1].isna().all()
    by_arrow = by_arrow.drop(index=1)
    assert by_arrow["customer_id"].tolist() == ["NA", "null", "007", "C2"]
    assert by_arrow["note"].tolist() == ["a, quoted comma", "two\nlines", "  spaces kept  ", "ünïcode"]
    assert by_arrow["channel"].isna().tolist() == [False, True, False, True]


@pytest.mark.parametrize(
    "data",
    [
        b"customer_id,channel\nC1\n",  # too few fields
        b"customer_id,channel\nC1,web,extra\n",  # too many
        b"customer_id,channel\nC\xe91,web\n",  # Latin-1, not UTF-8
        b"customer_id,customer_id\nC1,C2\n",  # a repeated column name
        b"customer_id,\nC1,web\n",  # a column without a name
        b"customer_id,channel\n",  # no rows
    ],
)
def test_csv_that_arrow_would_read_differently_is_left_to_pandas(tmp_path, data):
    path = tmp_path / "visits.csv"
    path.write_bytes(data)

    assert _read_csv_strings_by_arrow(path) is None


def test_read_table_file_numbers_parquet_rows_from_one(tmp_path):
    path = tmp_path / "visits.parquet"
    pd.DataFrame({"customer_id": ["a", "b"]}, index=pd.Index([10, 20])).to_parquet(path)

    raw = read_table_file(path)

    assert (raw.index.name, raw.index.tolist(), raw["customer_id"].tolist()) == ("row", [1, 2], ["a", "b"])


def test_read_table_file_raises_a_clean_problem_for_junk(tmp_path):
    path = tmp_path / "transactions.parquet"
    path.write_bytes(b"\x00\x01junk")

    with pytest.raises(InputDataError) as caught:
        read_table_file(path)

    assert [(p.file, p.column, p.rows) for p in caught.value.problems] == [("transactions.parquet", None, ())]


def test_unknown_file_type_is_a_churn_error(tmp_path, frames):
    with pytest.raises(ChurnError, match="features.xlsx: unknown table file type"):
        write_frame(frames["customers"], tmp_path / "features.xlsx")
    with pytest.raises(ChurnError, match="unknown table format"):
        write_tables(frames, tmp_path, "xlsx")
    assert list(tmp_path.iterdir()) == []
