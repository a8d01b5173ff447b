"""Worlds the pipeline was not built on (`benchmarks.independent_world`) go through `churn validate`, `churn train`
and `churn score` as a user runs them; and the generator itself keeps its word.

Each world is small (800 customers, 14 months) and trained with the test config under its own model name in the
session's temporary MLflow store. Expectations are computed from the written files, not from the pipeline.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.independent_world import KINDS, write_independent_world

N_CUSTOMERS, MONTHS, SEED = 800, 14, 3
DAY = pd.Timedelta(days=1)
ACTIVE_WINDOW_DAYS = 90  # churn.active_window_days in configs/test.yaml
EVENT_TIMES = {"transactions": "timestamp", "complaints": "opened_at", "visits": "timestamp"}


def read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """A table as text, from whichever file the folder holds (CSV or Parquet); None when absent."""
    if (folder / f"{name}.csv").exists():
        return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
    if (folder / f"{name}.parquet").exists():
        return pd.read_parquet(folder / f"{name}.parquet").astype(str)
    return None


def utc(stamps: pd.Series) -> pd.Series:
    """ISO 8601 text (date only, naive or with an offset) as naive UTC."""
    return pd.to_datetime(stamps, utc=True, format="ISO8601").dt.tz_localize(None)


def day_after_last_event(folder: Path) -> pd.Timestamp:
    last = max(utc(read_table(folder, t)[c]).max() for t, c in EVENT_TIMES.items() if read_table(folder, t) is not None)
    return last.normalize() + DAY


def purchases(folder: Path) -> pd.DataFrame:
    tx = read_table(folder, "transactions")
    tx = tx.assign(amount=tx["amount"].astype(float), moment=utc(tx["timestamp"]), local_day=tx["timestamp"].str[:10])
    return tx[tx["amount"] > 0]


@pytest.fixture(scope="module", params=KINDS)
def world(request, tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp(request.param) / "data"
    write_independent_world(folder, request.param, N_CUSTOMERS, SEED, MONTHS)
    return request.param, folder


def test_each_world_validates_trains_and_scores_the_customers_active_at_its_end(cli, store, world, tmp_path):
    kind, folder = world
    config = store.config_with(tmp_path, tracking={"registered_model": f"independent-{kind}"})

    validated = cli("validate", "--data", folder, "--config", config)
    assert validated.exit_code == 0, validated.output
    assert "_truth" not in validated.output  # the truth folder is not a table

    trained = cli("train", "--data", folder, "--config", config)
    assert trained.exit_code == 0, trained.output
    assert "Traceback" not in trained.output

    out = tmp_path / "out" / "list.csv"
    scored = cli("score", "--data", folder, "--out", out, "--config", config)
    assert scored.exit_code == 0, scored.output
    assert "Traceback" not in scored.output
    winback = pd.read_csv(out, dtype={"customer_id": str, "owner_id": str})

    as_of = day_after_last_event(folder)
    bought = purchases(folder)
    recent = bought[(bought["moment"] >= as_of - ACTIVE_WINDOW_DAYS * DAY) & (bought["moment"] < as_of)]
    assert set(winback["customer_id"]) == set(recent["customer_id"])
    assert len(winback) == winback["customer_id"].nunique()
    assert (winback["as_of"] == str(as_of.date())).all()
    assert winback["churn_probability"].between(0, 1).all()
    assert (tmp_path / "out" / "list_report.html").stat().st_size > 0

    managers = read_table(folder, "account_managers")
    if managers is not None:  # the contract: the owner is never a manager who left before the as-of date
        left = managers.loc[managers["departed_at"] != "", ["account_manager_id", "departed_at"]]
        gone = set(left.loc[pd.to_datetime(left["departed_at"]) < as_of, "account_manager_id"])
        assert gone and not set(winback["owner_id"].dropna()) & gone


def test_stop_dates_are_never_followed_by_a_purchase_and_churn_stays_plausible(world):
    _, folder = world
    truth = pd.read_csv(folder / "_truth" / "customers.csv", dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["customer_id", "stop_date", "cause"]
    assert truth["customer_id"].is_unique and len(truth) == N_CUSTOMERS
    stopped = truth[truth["stop_date"] != ""]
    assert (stopped["cause"] != "").all() and (truth.loc[truth["stop_date"] == "", "cause"] == "").all()
    bought = purchases(folder)
    last_purchase = bought.groupby("customer_id")["local_day"].max()  # the business's own calendar day
    ever_bought = stopped[stopped["customer_id"].isin(last_purchase.index)]
    assert len(ever_bought) > N_CUSTOMERS // 10
    assert (last_purchase.reindex(ever_bought["customer_id"]).to_numpy() < ever_bought["stop_date"].to_numpy()).all()

    # The label's churn rate, 90 days before the last full horizon, in a plausible band
    end = day_after_last_event(folder)
    at = end - 180 * DAY
    active = set(bought.loc[(bought["moment"] >= at - 90 * DAY) & (bought["moment"] < at), "customer_id"])
    returned = set(bought.loc[(bought["moment"] >= at) & (bought["moment"] < at + 90 * DAY), "customer_id"])
    assert 0.05 <= len(active - returned) / len(active) <= 0.45


def test_the_same_arguments_write_the_same_files_and_a_folder_in_use_is_refused(world, tmp_path):
    kind, folder = world
    again = tmp_path / "again"
    write_independent_world(again, kind, N_CUSTOMERS, SEED, MONTHS)
    written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for path in written:
        assert (folder / path).read_bytes() == (again / path).read_bytes(), path
    with pytest.raises(FileExistsError):
        write_independent_world(again, kind, N_CUSTOMERS, SEED, MONTHS)


def test_retail_is_three_columns_of_date_only_purchases_with_integer_looking_ids(tmp_path):
    folder = tmp_path / "retail"
    write_independent_world(folder, "retail", 300, 9, 12)
    assert sorted(p.name for p in folder.iterdir()) == ["_truth", "transactions.csv"]
    tx = pd.read_csv(folder / "transactions.csv", dtype=str)
    assert list(tx.columns) == ["customer_id", "timestamp", "amount"]
    assert tx["timestamp"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert tx["timestamp"].min() >= "2025-01-01" and tx["timestamp"].max() <= "2025-12-31"
    assert tx["customer_id"].str.fullmatch(r"[1-9]\d{5}").all()
    amounts = tx["amount"].astype(float)
    assert 0 < (amounts < 0).mean() < 0.05  # a few refunds
    # newcomers arrive all through the year: first purchases in every quarter
    first = pd.to_datetime(tx.groupby("customer_id")["timestamp"].min())
    assert set(first.dt.quarter) == {1, 2, 3, 4}
    # the December peak: more purchases per day in December than in the rest of the year
    month = pd.to_datetime(tx["timestamp"]).dt.month
    assert (month == 12).sum() / 31 > 1.2 * (month != 12).sum() / 334


def test_b2b_has_every_table_with_its_own_vocabulary(tmp_path):
    folder = tmp_path / "b2b"
    write_independent_world(folder, "b2b", 600, 9, 13)
    names = {p.name for p in folder.iterdir()}
    assert names == {"_truth", "transactions.csv", "customers.csv", "complaints.csv", "visits.csv",
                     "account_managers.csv"}
    customers = read_table(folder, "customers")
    assert set(customers["segment"]) == {"SMB", "Mid", "Enterprise"}
    assert customers["customer_id"].str.fullmatch(r"K-\d{6}").all()
    complaints = read_table(folder, "complaints")
    assert (complaints["resolved_at"] == "").any() and set(complaints["satisfaction"]) - {""} <= set("12345")
    opened, resolved = complaints["opened_at"], complaints["resolved_at"]
    assert (resolved[resolved != ""] > opened[resolved != ""]).all()
    managers = read_table(folder, "account_managers")
    assert (managers["departed_at"] != "").any() and (managers["successor_id"] != "").any()
    tx = read_table(folder, "transactions")
    assert tx["transaction_id"].is_unique
    paid, listed = tx["amount"].astype(float), tx["list_amount"].astype(float)
    assert (paid <= listed + 1e-9).all() and (paid < listed).any()
    assert {"webshop", "sales_visit"} <= set(read_table(folder, "visits")["channel"])


def test_subscription_bills_monthly_with_local_offsets(tmp_path):
    folder = tmp_path / "subscription"
    write_independent_world(folder, "subscription", 400, 9, 13)
    assert {p.name for p in folder.iterdir()} == {"_truth", "transactions.csv", "customers.parquet"}
    tx = read_table(folder, "transactions")
    offsets = tx["timestamp"].str.extract(r"([+-]\d{2}:\d{2})$")[0]
    assert set(offsets) == {"+01:00", "+02:00"}  # winter and summer time
    boxes = tx[tx["category"] == "box"].assign(amount=lambda f: f["amount"].astype(float))
    boxes = boxes[boxes["amount"] > 0].assign(day=lambda f: pd.to_datetime(f["timestamp"].str[:10]))
    gaps = boxes.sort_values("day").groupby("customer_id")["day"].diff().dt.days.dropna()
    assert 0.7 < ((gaps >= 27) & (gaps <= 34)).mean()  # mostly a month apart, to a few days
    truth = pd.read_csv(folder / "_truth" / "customers.csv", dtype=str, keep_default_na=False)
    assert re.fullmatch(r"sub_[0-9a-f]{8}", truth["customer_id"].iloc[0])
    assert "summer" in set(truth["cause"])


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        write_independent_world(tmp_path / "x", "wholesale", 100, 1)
    assert not (tmp_path / "x").exists()
