"""`churn score` end to end: the list's contract, byte-reproducibility, atomic writes, schema refusal,
no future reads, spreadsheet safety, and the report; against the session's champion (churn-model v1)."""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import pipeline.io
from features.labels import data_end
from models.lapsed import REACTIVATION_METADATA
from pipeline.config import load_config, load_playbook
from pipeline.errors import ModelError
from pipeline.io import load_data_dir
from pipeline.score import write_winback
from pipeline.scoring import reactivation_fallback
from pipeline.tracking import load_bundle

DAY = pd.Timedelta(days=1)
# The shared data contract's worklist columns, in their order.
CONTRACT_COLUMNS = [
    "rank", "customer_id", "churn_probability", "customer_value", "value_tier", "value_at_risk",
    "expected_net_value", "action_channel", "recommended_action", "in_target", "control_group", "owner_id",
    "owner_status", "reasons", "reason_codes", "new_this_week", "risk_change", "days_since_last_purchase",
    "last_purchase_date", "segment", "lifecycle_stage", "open_complaints", "model_version", "as_of",
]
LAPSED_CONTRACT_COLUMNS = [
    "rank", "customer_id", "past_value", "value_tier", "days_since_last_purchase", "last_purchase_date",
    "reactivation_probability", "expected_net_value", "action_channel", "recommended_action", "in_target",
    "control_group", "owner_id", "owner_status", "reasons", "reason_codes", "as_of",
]
NUMERIC_COLUMNS = ["rank", "churn_probability", "customer_value", "value_at_risk", "expected_net_value",
                   "days_since_last_purchase", "open_complaints"]
TEXT_COLUMNS = ["customer_id", "owner_id", "owner_status", "segment", "reasons", "reason_codes",
                "recommended_action", "action_channel"]


def read_list(path: Path) -> pd.DataFrame:
    """The win-back CSV as a user's script would read it (ids and text as strings)."""
    return pd.read_csv(path, dtype={c: "str" for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])


def raw_rows(path: Path) -> list[dict[str, str]]:
    """The CSV's cells exactly as written (what a spreadsheet would get)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def copy_world(world: Path, to: Path) -> Path:
    shutil.copytree(world, to, ignore=shutil.ignore_patterns("_truth"))
    return to


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden ones and those in subfolders included, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def baseline(world, cfg, trained, tmp_path_factory):
    """The list of the world at the default as-of date, with the champion."""
    out = tmp_path_factory.mktemp("baseline") / "winback.csv"
    return write_winback(world, out, None, None, cfg)


@pytest.fixture(scope="module")
def winback(baseline) -> pd.DataFrame:
    return read_list(baseline.out)


# -------------------------------------------------------------------------------------------- the list itself


def test_the_lists_have_the_contract_columns_in_order(baseline):
    assert baseline.out.read_text(encoding="utf-8").splitlines()[0].split(",") == CONTRACT_COLUMNS
    assert baseline.lapsed == baseline.out.with_name("winback_lapsed.csv")
    assert baseline.lapsed.read_text(encoding="utf-8").splitlines()[0].split(",") == LAPSED_CONTRACT_COLUMNS


def test_default_as_of_is_the_day_after_the_last_event(baseline, winback, last_event_day_after):
    assert baseline.as_of == last_event_day_after
    assert set(winback["as_of"]) == {str(last_event_day_after.date())}
    assert set(winback["model_version"]) == {"churn-model v1"}


def test_one_row_per_customer_active_at_as_of_with_hand_counted_recency(
    winback, purchases, cfg, last_event_day_after
):
    as_of = last_event_day_after
    before = purchases[purchases["timestamp"] < as_of]
    last = before.groupby("customer_id")["timestamp"].max()
    active = last[last >= as_of - DAY * cfg.churn.active_window_days]
    assert sorted(winback["customer_id"]) == sorted(active.index)
    rows = winback.set_index("customer_id")
    expected_days = ((as_of - active.dt.normalize()) / DAY).astype(int)  # whole calendar days
    pd.testing.assert_series_equal(
        rows["days_since_last_purchase"].sort_index(), expected_days.sort_index(), check_names=False
    )
    assert (rows["last_purchase_date"].sort_index() == active.dt.strftime("%Y-%m-%d").sort_index()).all()


def test_open_complaints_are_counted_at_as_of(winback, world, last_event_day_after):
    complaints = pd.read_csv(
        world / "complaints.csv", dtype={"customer_id": str}, parse_dates=["opened_at", "resolved_at"]
    )
    as_of = last_event_day_after
    still_open = complaints[(complaints["opened_at"] < as_of)
                            & (complaints["resolved_at"].isna() | (complaints["resolved_at"] >= as_of))]
    expected = still_open.groupby("customer_id").size()
    got = winback.set_index("customer_id")["open_complaints"]
    assert got.sum() > 0
    pd.testing.assert_series_equal(
        got.sort_index(), expected.reindex(got.index, fill_value=0).sort_index(), check_names=False
    )


def test_targeted_rows_first_by_expected_net_value_then_the_rest_by_value_at_risk(winback):
    assert winback["rank"].tolist() == list(range(1, len(winback) + 1))
    targeted = winback[winback["in_target"]]
    assert targeted.index.tolist() == list(range(len(targeted)))  # all targeted rows come first
    order = targeted.sort_values(["expected_net_value", "customer_id"], ascending=[False, True], kind="stable")
    assert order.index.tolist() == targeted.index.tolist()
    rest = winback[~winback["in_target"]]
    order = rest.sort_values(["value_at_risk", "customer_id"], ascending=[False, True], kind="stable")
    assert order.index.tolist() == rest.index.tolist()
    # value at risk = probability x value, up to the rounding of the three printed numbers
    product = winback["churn_probability"] * winback["customer_value"]
    slack = 0.005 + 0.00005 * winback["customer_value"] + 0.005 * winback["churn_probability"] + 1e-9
    assert ((winback["value_at_risk"] - product).abs() <= slack).all()
    assert winback["churn_probability"].between(0, 1).all()


def test_a_row_has_a_contact_if_and_only_if_it_is_in_target_and_controls_have_none(winback, baseline):
    lapsed = read_list(baseline.lapsed)
    for rows in (winback, lapsed):
        assert (rows["in_target"] == (rows["action_channel"] != "none")).all()
        assert not (rows["in_target"] & rows["control_group"]).any()
        held_out = "Held out: control group of campaign retention-2025-10-06, do not contact"  # as-of 2025-12-29
        assert (rows.loc[rows["control_group"], "recommended_action"] == held_out).all()
        assert (rows.loc[rows["in_target"], "expected_net_value"] > 0).all()
        assert rows["recommended_action"].notna().all()
    assert winback["in_target"].sum() > 0 and winback["control_group"].sum() > 0


def test_the_control_group_is_the_planned_customers_whose_campaign_draw_is_below_the_share(baseline, cfg):
    scored = pd.read_parquet(baseline.scored)
    lapsed = read_list(baseline.lapsed)
    planned = pd.concat([scored[["customer_id", "in_target", "control_group"]],
                         lapsed[["customer_id", "in_target", "control_group"]]], ignore_index=True)
    planned = planned[planned["in_target"] | planned["control_group"]]
    # The campaign of 2025-12-29 (periods of 13 weeks from 2025-01-06) starts on 2025-10-06; a customer is in its
    # control group when their stable draw of (customer_id, campaign id) lies below the share.
    draw = pd.util.hash_pandas_object(planned["customer_id"].astype("str") + "|retention-2025-10-06",
                                      index=False).to_numpy() / 2.0**64
    assert (planned["control_group"].to_numpy() == (draw < cfg.scoring.control_share)).all()
    manifest = json.loads((Path(baseline.scored) / "_scored.json").read_text())
    assert (manifest["campaign_id"], manifest["campaign_start"], manifest["campaign_end"]) == (
        "retention-2025-10-06", "2025-10-06", "2026-01-05")
    assert (manifest["control_share"], manifest["horizon_days"]) == (cfg.scoring.control_share, cfg.churn.horizon_days)


def test_customer_value_is_margin_over_the_churn_horizon(winback, world, cfg, last_event_day_after):
    tx = pd.read_csv(world / "transactions.csv", dtype={"customer_id": str}, parse_dates=["timestamp"])
    customers = pd.read_csv(world / "customers.csv", dtype={"customer_id": str}).set_index("customer_id")
    as_of = last_event_day_after
    window = cfg.scoring.value_window_days
    year = tx[(tx["timestamp"] >= as_of - DAY * window) & (tx["timestamp"] < as_of)]
    spend = year.groupby("customer_id")["amount"].sum().clip(lower=0)
    margin = customers["margin_rate"].fillna(cfg.scoring.margin_rate)
    expected = spend * cfg.churn.horizon_days / window * margin.reindex(spend.index)
    got = winback.set_index("customer_id")["customer_value"]
    assert (customers.loc[got.index, "margin_rate"].notna()).any()  # B2B rows carry their own rate
    pd.testing.assert_series_equal(got.sort_index(), expected.reindex(got.index).round(2).sort_index(),
                                   check_names=False, atol=0.011)


def test_no_owner_is_a_manager_who_left(winback, world, last_event_day_after):
    managers = pd.read_csv(world / "account_managers.csv", parse_dates=["departed_at"])
    left = set(managers.loc[managers["departed_at"] < last_event_day_after, "account_manager_id"])
    assert left
    assert not set(winback["owner_id"].dropna()) & left
    customers = pd.read_csv(world / "customers.csv", dtype=str).set_index("customer_id")
    their_manager = customers["account_manager_id"].reindex(winback["customer_id"]).to_numpy()
    lost = np.isin(their_manager, list(left))
    assert lost.any()  # the test world has customers whose manager left
    assert set(winback.loc[lost, "owner_status"]) <= {"successor", "team_lead", "needs_owner"}
    assert (winback.loc[~lost & pd.notna(their_manager), "owner_status"] == "account_manager").all()


def test_reasons_and_actions_come_from_the_registry_and_the_playbook(winback, baseline, cfg):
    playbook = load_playbook(cfg)
    texts = {a.text for a in playbook.actions.values()}
    contacted = winback[winback["in_target"]]
    assert set(contacted["recommended_action"]) <= texts
    for _, row in contacted.iterrows():
        assert playbook.actions[_action_of(playbook, row["recommended_action"])].channel == row["action_channel"]
    assert set(winback.loc[~winback["in_target"], "recommended_action"]) <= {
        "Held out: control group of campaign retention-2025-10-06, do not contact",
        "No action this week: no contact is worth its cost",
        "No action this week: the playbook has no contact for this reason and tier",
        *(f"No action this week: {c.replace('_', ' ')}s are fully booked" for c in cfg.scoring.capacity_per_week),
    }
    reasons = winback["reasons"].fillna("").str.split("; ")
    assert reasons.map(len).max() <= cfg.scoring.top_reasons
    assert winback["reasons"].notna().all()  # a row without a reason says so
    unexplained = winback["reasons"] == "no signal stands out against the other active customers"
    assert 0 < unexplained.mean() < 0.5 and winback.loc[unexplained, "reason_codes"].isna().all()
    codes = winback["reason_codes"].fillna("").str.split(";")
    assert (codes.map(len) <= reasons.map(len)).all()
    assert not winback["reasons"].fillna("").str.contains("chance|likely still active").any()


def _action_of(playbook, text: str) -> str:
    return next(name for name, action in playbook.actions.items() if action.text == text)


def test_the_lapsed_list_holds_valuable_customers_who_are_no_longer_active(baseline, winback, purchases, cfg):
    lapsed = read_list(baseline.lapsed)
    assert len(lapsed) > 0
    assert not set(lapsed["customer_id"]) & set(winback["customer_id"])
    as_of = baseline.as_of
    last = purchases[purchases["timestamp"] < as_of].groupby("customer_id")["timestamp"].max()
    last = last.reindex(lapsed["customer_id"])
    window, lookback = cfg.churn.active_window_days, cfg.scoring.lapsed_lookback_days
    assert (last < as_of - DAY * window).all()
    assert (last.dt.normalize() + DAY * (window + 1) > as_of - DAY * lookback).all()
    assert set(lapsed["value_tier"]) <= {"A", "B"}
    floor = winback.loc[winback["value_tier"].isin(["A", "B"]), "customer_value"].min()
    assert (lapsed["past_value"] >= floor - 0.01).all()
    assert lapsed["reactivation_probability"].between(0, 1).all()
    assert lapsed["reasons"].notna().all() and lapsed["reason_codes"].notna().all()


def test_the_lapsed_lists_reactivation_probability_is_how_often_lapsed_customers_came_back(baseline, cfg, trained):
    fitted = load_bundle(cfg, "models:/churn-model/1").metadata[REACTIVATION_METADATA]
    assert fitted["n_customers"] >= fitted["n_returned"] > 0 and fitted["horizon_days"] == cfg.churn.horizon_days
    rates = fitted["rate"] + ([fitted["one_time_rate"]] if fitted["one_time_rate"] is not None else [])
    assert fitted["rate"] == sorted(fitted["rate"])  # never falls as P(alive) rises
    said = read_list(baseline.lapsed)["reactivation_probability"]
    assert said.between(min(rates) - 1e-4, max(rates) + 1e-4).all()  # the map's shares, not BG/NBD's P(alive)
    page = baseline.report.read_text(encoding="utf-8")
    assert f"customers were lapsed {fitted['n_customers']:,} times (once per cutoff)" in page
    assert not any("P(alive)" in w for w in baseline.warnings)


def test_a_model_without_the_reactivation_map_says_the_list_falls_back_to_p_alive():
    assert reactivation_fallback({REACTIVATION_METADATA: {"rate": [0.1]}}) is None
    older = reactivation_fallback({})
    assert "BG/NBD's P(alive)" in older and "trained before" in older and "churn train" in older
    assert "too few to calibrate" in reactivation_fallback({REACTIVATION_METADATA: None})


# ------------------------------------------------------------------------------------------ reproducibility


def test_same_data_same_model_gives_byte_identical_csv(baseline, world, cfg, tmp_path):
    again = write_winback(world, tmp_path / "again.csv", None, None, cfg)
    assert again.out.read_bytes() == baseline.out.read_bytes()


def test_events_at_or_after_as_of_do_not_change_the_list(baseline, world, store, cli, tmp_path):
    """Purchases, returns, complaints, visits, a sign-up and a manager leaving at T or later: same bytes."""
    as_of = baseline.as_of
    future = copy_world(world, tmp_path / "future")
    winback = read_list(baseline.out)
    someone, another = winback["customer_id"].iloc[0], winback["customer_id"].iloc[-1]
    moments = [as_of, as_of + pd.Timedelta(hours=5), as_of + 20 * DAY]

    tx = pd.read_csv(future / "transactions.csv", dtype=str, keep_default_na=False)
    new_tx = pd.DataFrame({
        "customer_id": [someone, another, another, "NEWCOMER"],
        "timestamp": [str(m) for m in moments] + [str(as_of)],
        "amount": ["5000.0", "-80.0", "120.0", "70.0"],
        "transaction_id": ["FUT1", "FUT2", "FUT3", "FUT4"],
    }).reindex(columns=tx.columns, fill_value="")
    pd.concat([tx, new_tx]).to_csv(future / "transactions.csv", index=False)

    complaints = pd.read_csv(future / "complaints.csv", dtype=str, keep_default_na=False)
    new_complaint = pd.DataFrame(
        {"customer_id": [someone], "opened_at": [str(as_of)], "category": ["service"], "severity": ["5"]}
    ).reindex(columns=complaints.columns, fill_value="")
    pd.concat([complaints, new_complaint]).to_csv(future / "complaints.csv", index=False)

    visits = pd.read_csv(future / "visits.csv", dtype=str, keep_default_na=False)
    new_visits = pd.DataFrame({"customer_id": [someone, another], "timestamp": [str(m) for m in moments[:2]],
                               "channel": ["web", "store"]}).reindex(columns=visits.columns, fill_value="")
    pd.concat([visits, new_visits]).to_csv(future / "visits.csv", index=False)

    customers = pd.read_csv(future / "customers.csv", dtype=str, keep_default_na=False)
    newcomer = pd.DataFrame(
        {"customer_id": ["NEWCOMER"], "signup_date": [str(as_of.date())], "segment": ["B2C"]}
    )
    pd.concat([customers, newcomer.reindex(columns=customers.columns, fill_value="")]).to_csv(
        future / "customers.csv", index=False)
    managers = pd.read_csv(future / "account_managers.csv", dtype=str, keep_default_na=False)
    managers.loc[managers["departed_at"] == "", "departed_at"] = str(as_of.date())  # everyone leaves at T
    managers.to_csv(future / "account_managers.csv", index=False)

    tables, _ = load_data_dir(future)
    assert data_end(tables) > as_of  # the future rows are there: without --as-of the date would move

    out = tmp_path / "out" / "winback.csv"
    result = cli(
        "score", "--data", future, "--out", out, "--as-of", str(as_of.date()), "--config", store.config_file
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == baseline.out.read_bytes()
    assert out.with_name("winback_lapsed.csv").read_bytes() == baseline.lapsed.read_bytes()


# ----------------------------------------------------------------------------------------------- atomicity


def test_a_run_interrupted_mid_write_leaves_the_previous_list_and_no_temp_file(
    world, store, cli, trained, tmp_path, monkeypatch
):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "winback.csv").write_text("rank,customer_id\n1,last week's list\n")
    (folder / "winback_report.html").write_text("<html>last week's report</html>")
    before = files_in(folder)
    partial_sizes = []
    real_write = pipeline.io._write_csv

    def write_half_then_interrupt(text, temp, compress):
        real_write(text.iloc[: len(text) // 2], temp, compress)
        partial_sizes.append(Path(temp).stat().st_size)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.io, "_write_csv", write_half_then_interrupt)
    result = cli("score", "--data", world, "--out", folder / "winback.csv", "--config", store.config_file)
    assert partial_sizes and partial_sizes[0] > 1000  # the crash really came half-way through the write
    assert result.exit_code == 130
    assert "stopped before the outputs were replaced" in result.output
    assert files_in(folder) == before


KILLED_RUN = """
import os, signal, sys
import pipeline.io

real_write = pipeline.io._write_csv

def write_half_then_die(text, temp, compress):
    real_write(text.iloc[: len(text) // 2], temp, compress)
    print("HALF-WRITTEN", file=sys.stderr, flush=True)
    os.kill(os.getpid(), int(sys.argv[1]))

pipeline.io._write_csv = write_half_then_die
from pipeline.cli import app
app(sys.argv[2:], prog_name="churn")
"""


def _killed_score(world, store, out: Path, sig: signal.Signals) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(int(sig)), "score", "--data", str(world), "--out", str(out),
         "--config", str(store.config_file)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ), check=False,
    )


def test_a_run_terminated_mid_write_leaves_the_previous_list_and_no_temp_file(
    world, store, trained, tmp_path
):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "winback.csv").write_text("rank,customer_id\n1,last week's list\n")
    before = files_in(folder)
    completed = _killed_score(world, store, folder / "winback.csv", signal.SIGTERM)
    assert "HALF-WRITTEN" in completed.stderr  # it did get to the write
    assert completed.returncode != 0
    assert files_in(folder) == before


def test_a_killed_run_leaves_the_previous_list_and_the_next_run_sweeps_its_temp_file(
    world, store, cfg, baseline, tmp_path
):
    folder = tmp_path / "out"
    folder.mkdir()
    previous = "rank,customer_id\n1,last week's list\n"
    (folder / "winback.csv").write_text(previous)
    completed = _killed_score(world, store, folder / "winback.csv", signal.SIGKILL)
    assert "HALF-WRITTEN" in completed.stderr
    assert completed.returncode == -signal.SIGKILL
    assert (folder / "winback.csv").read_text() == previous
    assert not (folder / "winback_report.html").exists()
    left = sorted(p.name.split(".")[1] for p in folder.glob(".*.staged"))
    assert left == ["winback", "winback_scored"]  # the half-written list, the scored table not moved in yet
    assert [p.name.split(".")[1] for p in (folder / "history").glob(".*.staged")] == ["2025-12-29"]  # its entry
    write_winback(world, folder / "winback.csv", None, None, cfg)
    assert sorted(p.name for p in folder.iterdir()) == [
        "history", "winback.csv", "winback_lapsed.csv", "winback_report.html", "winback_scored"]
    assert sorted(p.name for p in (folder / "history").iterdir()) == ["2025-12-29"]
    assert (folder / "winback.csv").read_bytes() == baseline.out.read_bytes()


# ------------------------------------------------------------------------------------------------- refusals


def test_a_config_with_other_feature_windows_is_refused_naming_the_key_and_both_values(
    world, store, cli, trained, tmp_path
):
    config = store.config_with(tmp_path, features={"windows_days": [30, 60, 90]})
    result = cli("score", "--data", world, "--out", tmp_path / "out" / "x.csv", "--config", config)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "conflicts with the model's definition" in result.output
    assert "features.windows_days: the model was trained with [30, 90, 365]; the configuration gives [30, 60, 90]" in (
        result.output
    )
    assert "--override-definition" in result.output
    assert not (tmp_path / "out").exists()


def test_overriding_the_definition_with_other_feature_windows_is_refused_naming_the_columns(
    world, store, cli, trained, tmp_path
):
    # With --override-definition the config's windows are used: the model's input columns then differ.
    config = store.config_with(tmp_path, features={"windows_days": [30, 60, 90]})
    with pytest.raises(ModelError) as error:
        write_winback(world, tmp_path / "x.csv", None, None, load_config(config), override_definition=True)
    message = error.value.message
    missing = re.search(r"missing columns: ([^;.]+)", message)[1].split(", ")
    extra = re.search(r"extra columns: ([^;.]+)", message)[1].split(", ")
    kinds = ("purchase_count", "spend", "complaint_count", "visit_count")
    assert sorted(missing) == sorted(f"{k}_365d" for k in kinds)
    assert sorted(extra) == sorted(f"{k}_60d" for k in kinds)

    result = cli(
        "score", "--data", world, "--out", tmp_path / "out" / "x.csv", "--config", config, "--override-definition"
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "missing columns: " in result.output and "spend_365d" in result.output
    assert not (tmp_path / "out" / "x.csv").exists()


def test_the_scored_table_goes_to_scored_out_and_a_foreign_folder_there_is_refused_before_scoring(
    world, store, cli, baseline, tmp_path
):
    elsewhere = tmp_path / "tables" / "scored"
    result = cli("score", "--data", world, "--out", tmp_path / "a.csv", "--scored-out", elsewhere,
                 "--config", store.config_file)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.csv").read_bytes() == baseline.out.read_bytes()
    assert not (tmp_path / "a_scored").exists()
    scored = pd.read_parquet(elsewhere)
    assert sorted(scored["customer_id"]) == sorted(read_list(baseline.out)["customer_id"])

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not a scored table")
    result = cli("score", "--data", world, "--out", tmp_path / "b.csv", "--scored-out", foreign,
                 "--config", store.config_file)
    assert result.exit_code == 1
    assert "is not an earlier output of this command" in result.output
    assert "scoring the customers" not in result.output  # refused before the work
    assert not (tmp_path / "b.csv").exists()
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]


# ------------------------------------------------------------------------------------ spreadsheet injection


FORMULA_IDS = ["=1+2", "+C1", "-C2", "@SUM(A1)", "\tC3"]
CARRIAGE_RETURN_ID = "\rC4"
HOSTILE_SEGMENT = "=cmd|' /C calc'!A0"


def hostile_world(world: Path, baseline, folder: Path, ids: list[str]) -> tuple[Path, str, str]:
    """A copy of the world: its first active customers renamed to ``ids``, the next one given a formula as
    segment, the first account manager renamed to "@..." (and given to the first renamed customer).

    Returns (data folder, the customer holding the hostile segment, the manager's original id).
    """
    data = copy_world(world, folder / "data")
    active = read_list(baseline.out)["customer_id"].head(len(ids) + 1).tolist()
    renamed = dict(zip(active, ids, strict=False))
    segment_owner = active[len(ids)]
    frames = {name: pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
              for name in ("transactions", "customers", "complaints", "visits", "account_managers")}
    for frame in frames.values():
        if "customer_id" in frame:
            frame["customer_id"] = frame["customer_id"].replace(renamed)
    customers = frames["customers"]
    customers.loc[customers["customer_id"] == segment_owner, "segment"] = HOSTILE_SEGMENT
    manager = frames["account_managers"]["account_manager_id"].iloc[0]
    customers.loc[customers["customer_id"] == ids[0], "account_manager_id"] = manager
    for frame in (customers, frames["account_managers"]):
        for column in ("account_manager_id", "successor_id", "team_lead_id"):
            if column in frame:
                frame[column] = frame[column].replace({manager: "@" + manager})
    for name, frame in frames.items():  # quoted, so that a carriage return stays inside its cell
        frame.to_csv(data / f"{name}.csv", index=False, quoting=csv.QUOTE_ALL)
    assert set(ids) <= set(load_data_dir(data)[0].customers["customer_id"])  # read back intact
    return data, segment_owner, manager


def test_formula_like_text_gets_an_apostrophe_and_numbers_stay_numbers(world, baseline, cfg, tmp_path):
    data, segment_owner, manager = hostile_world(world, baseline, tmp_path, FORMULA_IDS)
    out = write_winback(data, tmp_path / "hostile.csv", None, None, cfg).out
    rows = {row["customer_id"]: row for row in raw_rows(out)}
    assert len(rows) == len(raw_rows(baseline.out))
    for original in FORMULA_IDS:
        assert "'" + original in rows, f"{original!r} not written with an apostrophe"
        assert original not in rows
    assert rows["'" + FORMULA_IDS[0]]["owner_id"] == "'@" + manager  # the first manager never leaves
    assert rows[segment_owner]["segment"] == "'" + HOSTILE_SEGMENT
    assert not any(row["owner_id"].startswith("@") for row in rows.values())
    for row in rows.values():
        for column in NUMERIC_COLUMNS:
            float(row[column])  # a number as written, never a prefixed text
        assert row["control_group"] in ("true", "false") and row["in_target"] in ("true", "false")
    untouched = [cid for cid in rows if cid.startswith("C")]
    assert len(untouched) > 50


def test_a_carriage_return_id_stays_one_cell_with_an_apostrophe(world, baseline, cfg, tmp_path):
    data, _, _ = hostile_world(world, baseline, tmp_path, [CARRIAGE_RETURN_ID])
    out = write_winback(data, tmp_path / "hostile.csv", None, None, cfg).out
    rows = raw_rows(out)
    assert len(rows) == len(raw_rows(baseline.out))  # the same customers, one row each
    assert all(None not in row and None not in row.values() for row in rows)  # no row cut in two
    assert "'" + CARRIAGE_RETURN_ID in {row["customer_id"] for row in rows}


# --------------------------------------------------------------------------------------------------- report


def test_the_report_embeds_png_plots_and_the_backtest_metrics(baseline, trained):
    assert baseline.report == baseline.out.with_name("winback_report.html")
    page = baseline.report.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 4  # value by manager, reasons, actions, tiers
    assert '<img alt="value at risk by account manager"' in page  # customers here have managers
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)

    predictions = trained.result.backtest.predictions
    latest = predictions[predictions["eval_cutoff"] == predictions["eval_cutoff"].max()]
    shipped = latest[f"model_{trained.result.calibration}"]
    auc = roc_auc_score(latest["churned"], shipped)
    brier = float(np.mean((shipped - latest["churned"]) ** 2))
    recency_auc = roc_auc_score(latest["churned"], latest["baseline_recency"])
    assert f"ROC-AUC {auc:.3f}" in page
    assert f"Brier score {brier:.3f}" in page
    assert f"the recency rule {recency_auc:.0%}" in page  # compared with a baseline in words
    assert "held out of campaign <b>retention-2025-10-06</b>" in page
    assert "of the customers the plan would contact" in page
    assert "EUR " in page and "e+0" not in page


# ------------------------------------------------------------------------------------- the list history


def test_each_list_is_kept_in_the_history_under_its_as_of_date(baseline):
    entry = baseline.out.parent / "history" / "2025-12-29"
    assert Path(baseline.history) == entry
    scored = files_in(Path(baseline.scored))
    kept = files_in(entry)
    assert {name: kept[name] for name in scored} == scored  # the scored table, byte for byte
    assert set(kept) - set(scored) == {"_lapsed.parquet"}
    lapsed = pd.read_parquet(entry / "_lapsed.parquet")
    assert lapsed["customer_id"].tolist() == read_list(baseline.lapsed)["customer_id"].tolist()
    assert {"action_id", "in_target", "control_group", "value_tier"} <= set(lapsed.columns)


def test_a_list_written_elsewhere_compares_with_the_latest_kept_list(world, cfg, trained, tmp_path,
                                                                    last_event_day_after):
    history = tmp_path / "history"
    week_before = (last_event_day_after - 7 * DAY).date()
    write_winback(world, tmp_path / "a" / "winback.csv", week_before, None, cfg, history=history)
    this_week = write_winback(world, tmp_path / "b" / "winback.csv", None, None, cfg, history=history)
    assert read_list(this_week.out)["new_this_week"].notna().all()
    assert f"Compared with the list of {week_before}" in this_week.report.read_text(encoding="utf-8")
    assert sorted(p.name for p in history.iterdir()) == [str(week_before), str(last_event_day_after.date())]


def test_measured_save_rates_replace_the_priors_of_the_actions_they_measured(world, store, trained, tmp_path):
    cfg = load_config(store.config_with(tmp_path, scoring={"save_rates": "measured"}))
    history = tmp_path / "history"
    missing = write_winback(world, tmp_path / "first" / "winback.csv", None, None, cfg, history=history)
    assert any("holds no measured save rates yet" in w for w in missing.warnings)  # the priors are used
    prior = load_playbook(cfg).actions["engagement_email"]
    pd.DataFrame({"action": ["engagement_email", "no_such_action"], "prior": [prior.save_rate, 0.1],
                  "measured": [0.4, 0.2], "used": [0.3, 0.2], "customers": [800, 10], "treated_n": [700, 5],
                  "control_n": [100, 5],
                  "uplift": [0.1, 0.0], "uplift_ci_low": [0.02, -0.3], "uplift_ci_high": [0.18, 0.3],
                  "campaign_id": "retention-2025-07-07", "lists": "2025-07-07 to 2025-09-29",
                  }).to_csv(history / "save_rates.csv", index=False)
    result = write_winback(world, tmp_path / "second" / "winback.csv", None, None, cfg, history=history)
    assert result.measured_actions == ("engagement_email",)
    scored = pd.read_parquet(result.scored)
    emails = scored[(scored["action_id"] == "engagement_email") & scored["in_target"]]
    assert len(emails) > 0
    expected = (emails["churn_probability"] * 0.3 * emails["customer_value"] - prior.cost).round(2)
    assert (emails["expected_net_value"] - expected).abs().max() < 0.02  # inputs rounded as the list shows them
    page = result.report.read_text(encoding="utf-8")
    assert "Save rates: measured, in place of the priors" in page and "retention-2025-07-07" in page
