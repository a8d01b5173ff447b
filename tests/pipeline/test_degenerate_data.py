"""Degenerate data never ends in a traceback from the BG/NBD baseline or an empty population: `churn train`
refuses in words what it cannot learn from, `churn score` scores what there is (one customer is a list of one)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config import load_config
from pipeline.tracking import load_bundle

DAY = pd.Timedelta(days=1)


def _transactions(world: Path) -> pd.DataFrame:
    return pd.read_csv(world / "transactions.csv", dtype=str, keep_default_na=False)


def _write(folder: Path, **tables: pd.DataFrame) -> Path:
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _clean_failure(result, *phrases: str) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for phrase in phrases:
        assert phrase in text
    return text


def test_a_world_of_one_customer_is_refused_for_training_and_scored_as_a_list_of_one(
    cli, store, world, trained, tmp_path
):
    tx = _transactions(world)
    busiest = tx.loc[tx["amount"].astype(float) > 0, "customer_id"].value_counts().index[0]
    one = _write(tmp_path / "one", transactions=tx[tx["customer_id"] == busiest])
    _clean_failure(
        cli("train", "--data", one, "--config", store.config_file), "Too few customers to train", "churned", "stayed"
    )
    last = pd.to_datetime(tx.loc[tx["customer_id"] == busiest, "timestamp"]).max()
    as_of = (last.normalize() + DAY).date()  # the customer bought the day before: active
    out = tmp_path / "one.csv"
    scored = cli("score", "--data", one, "--out", out, "--as-of", as_of, "--config", store.config_file)
    assert scored.exit_code == 0, scored.output
    listed = pd.read_csv(out, dtype={"customer_id": str})
    assert listed["customer_id"].tolist() == [busiest]
    assert 0 < listed.loc[0, "churn_probability"] < 1


def test_only_returns_are_refused_for_training_and_scoring_in_words(cli, store, world, trained, tmp_path):
    tx = _transactions(world)
    returns = tx.assign(amount=(-tx["amount"].astype(float).abs()).astype(str))
    data = _write(tmp_path / "returns", transactions=returns)
    _clean_failure(
        cli("train", "--data", data, "--config", store.config_file),
        "Too few customers to train", "0 active customer(s) churned and 0 stayed", "amount > 0",
    )
    _clean_failure(
        cli("score", "--data", data, "--out", tmp_path / "r.csv", "--config", store.config_file),
        "No customer bought in the 90 days before",
    )
    assert not (tmp_path / "r.csv").exists()


def test_an_as_of_before_the_data_scores_nobody_in_words(cli, store, world, trained, tmp_path):
    _clean_failure(
        cli("score", "--data", world, "--out", tmp_path / "x.csv", "--as-of", "2020-01-01",
            "--config", store.config_file),
        "No customer bought before 2020-01-01", "every transaction in transactions.csv is at or after",
    )


def test_transactions_that_stop_while_visits_go_on(cli, store, world, trained, tmp_path):
    # Purchases end on 2025-05-31, visits go on to the end of 2025: the labels are observed up to the last
    # transaction, not the last visit, so the latest cutoff is 90 days before 2025-06-01.
    tx = _transactions(world)
    stopped = tx[tx["timestamp"] < "2025-06-01"]
    visits = pd.read_csv(world / "visits.csv", dtype=str, keep_default_na=False)
    assert visits["timestamp"].max() > "2025-12"
    data = _write(tmp_path / "stopped", transactions=stopped, visits=visits)
    config = store.config_with(tmp_path, tracking={"registered_model": "stopped"})
    trained_here = cli("train", "--data", data, "--config", config)
    assert trained_here.exit_code == 0, trained_here.output
    last = pd.Timestamp(stopped["timestamp"].max()).normalize() + DAY
    metadata = load_bundle(load_config(config)).metadata
    assert metadata["calibration_cutoff"] == str((last - 90 * DAY).date())
    # scoring at the default as-of (the day after the last visit): nobody bought in the 90 days before
    _clean_failure(
        cli("score", "--data", data, "--out", tmp_path / "s.csv", "--config", config), "No customer bought"
    )
    scored = cli("score", "--data", data, "--out", tmp_path / "s.csv", "--as-of", last.date(), "--config", config)
    assert scored.exit_code == 0, scored.output
