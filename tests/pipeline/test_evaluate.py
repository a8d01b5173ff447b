"""`churn evaluate` as a user runs it: the contract's evaluation.csv checked against a count by hand, its report,
the save rates and the MLflow run; and the catalogue of what goes wrong (no history, a horizon still running, an
unknown campaign or date, tampered arms), each a one-screen message, exit 1, outputs untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.pipeline.test_catalogue import assert_clean, files_in

DAY = pd.Timedelta(days=1)
CONTRACT = ["group", "level", "treated_n", "control_n", "treated_churn_rate", "control_churn_rate", "uplift",
            "uplift_ci_low", "uplift_ci_high", "retained_value", "cost", "roi"]


@pytest.fixture(scope="module")
def loop(cli, store, tmp_path_factory) -> Path:
    """A campaign world from `churn generate --campaigns` (its lists in <root>/history) and a first evaluation."""
    root = tmp_path_factory.mktemp("loop")
    made = cli("generate", "--out", root / "data", "--customers", 3000, "--seed", 5, "--campaigns",
               "--config", store.config_file)
    assert_clean(made, 0, "13 weekly lists of campaign retention-2025-07-07", str(root / "history"))
    done = cli("evaluate", "--data", root / "data", "--out", root / "out" / "evaluation.csv",
               "--history", root / "history", "--config", store.config_file)
    assert_clean(done, 0, "Campaign retention-2025-07-07", "uplift", "evaluation_report.html")
    return root


@pytest.fixture
def copy(loop, tmp_path) -> Path:
    """A copy of the loop's folder (data, history, out) that a case may spoil."""
    return Path(shutil.copytree(loop, tmp_path / "loop"))


def evaluate(cli, store, root: Path, *options):
    return cli("evaluate", "--data", root / "data", "--out", root / "out" / "evaluation.csv", "--history",
               root / "history", "--config", store.config_file, *options)


def test_the_evaluation_has_the_contract_columns_and_the_counts_by_hand(loop):
    cells = pd.read_csv(loop / "out" / "evaluation.csv")
    assert list(cells.columns[: len(CONTRACT)]) == CONTRACT
    assert set(cells["group"]) == {"overall", "value_tier", "action", "owner"}
    # By hand: each customer at the first kept list that planned them; churned = no purchase in the 90 days after.
    lists = []
    for entry in sorted((loop / "history").glob("2025-*")):
        rows = pd.read_parquet(entry / "bucket=0" / "part-0.parquet")
        lists.append(rows[rows["in_target"] | rows["control_group"]].assign(
            as_of=pd.Timestamp(json.loads((entry / "_scored.json").read_text())["as_of"])))
    first = pd.concat(lists).sort_values("as_of", kind="stable").drop_duplicates("customer_id")
    tx = pd.read_csv(loop / "data" / "transactions.csv", dtype={"customer_id": str}, parse_dates=["timestamp"])
    end = tx["timestamp"].max().normalize() + DAY  # outcomes are known for lists whose 90 days end by then
    first = first[first["as_of"] + 90 * DAY <= end]
    tx = tx[tx["amount"] > 0]
    bought = {(c, a) for a in first["as_of"].unique() for c in
              tx.loc[(tx["timestamp"] >= a) & (tx["timestamp"] < a + 90 * DAY), "customer_id"]}
    first["churned"] = [(c, a) not in bought for c, a in zip(first["customer_id"], first["as_of"], strict=True)]
    overall = cells[cells["group"] == "overall"].iloc[0]
    treated, control = first[first["in_target"]], first[first["control_group"]]
    assert (overall["treated_n"], overall["control_n"]) == (len(treated), len(control))
    assert overall["uplift"] == pytest.approx(control["churned"].mean() - treated["churned"].mean())
    by_action = cells[cells["group"] == "action"].set_index("level")
    counts = first.groupby("action_id")["in_target"].agg(["sum", "size"])
    assert (by_action["treated_n"] == counts["sum"].reindex(by_action.index)).all()
    assert (by_action["treated_n"] + by_action["control_n"] == counts["size"].reindex(by_action.index)).all()


def test_the_report_the_save_rates_and_the_mlflow_run(loop, store):
    page = (loop / "out" / "evaluation_report.html").read_text(encoding="utf-8")
    for words in ("Campaign retention-2025-07-07: what the contacts achieved", "ratio check", "Contamination",
                  "Uplift per action", "Too small to tell yet", "Save rates for the next lists"):
        assert words in page
    rates = pd.read_csv(loop / "history" / "save_rates.csv")
    assert {"action", "prior", "measured", "used", "customers", "campaign_id"} <= set(rates.columns)
    assert rates["used"].between(0, 1).all()
    runs = mlflow.search_runs(experiment_names=["evaluation"], filter_string="tags.kind = 'evaluation'")
    assert (runs["tags.campaign_id"] == "retention-2025-07-07").any()
    assert "metrics.overall.uplift" in runs.columns


def test_one_list_evaluates_the_customers_it_brought_into_the_campaign(loop, cli, store, tmp_path):
    result = cli("evaluate", "--data", loop / "data", "--history", loop / "history", "--as-of", "2025-07-14",
                 "--out", tmp_path / "one.csv", "--config", store.config_file)
    assert_clean(result, 0, "(1 list, 2025-07-14 to 2025-07-14)")
    evaluation = mlflow.get_experiment_by_name("evaluation").experiment_id
    latest = mlflow.search_runs([evaluation], order_by=["start_time DESC"], max_results=1).iloc[0]
    assert f"#/experiments/{evaluation}/runs/{latest['run_id']}?workflowType=machine_learning" in "".join(
        result.output.split())
    overall = pd.read_csv(tmp_path / "one.csv").iloc[0]
    second = pd.read_parquet(loop / "history" / "2025-07-14" / "bucket=0" / "part-0.parquet")
    earlier = pd.read_parquet(loop / "history" / "2025-07-07" / "bucket=0" / "part-0.parquet")
    new = second[(second["in_target"] | second["control_group"])
                 & ~second["customer_id"].isin(earlier.loc[earlier["in_target"] | earlier["control_group"],
                                                          "customer_id"])]
    assert overall["treated_n"] + overall["control_n"] == len(new)


def test_no_history_is_an_error_saying_where_lists_are_kept(copy, cli, store):
    shutil.rmtree(copy / "history")
    (copy / "history").mkdir()
    assert_clean(evaluate(cli, store, copy), 1, "No list history in", "churn score` keeps every list")


def test_a_horizon_still_running_says_when_the_outcomes_are_known(copy, cli, store):
    tx = pd.read_csv(copy / "data" / "transactions.csv", dtype=str)
    tx[tx["timestamp"] < "2025-09-01"].to_csv(copy / "data" / "transactions.csv", index=False)
    before = files_in(copy / "out")
    assert_clean(evaluate(cli, store, copy), 1, "The horizon of the list of 2025-07-07 (90 days) has not passed",
                 "known once the data reach 2025-10-05")
    assert files_in(copy / "out") == before


def test_an_unknown_campaign_or_date_names_those_kept(loop, cli, store):
    assert_clean(evaluate(cli, store, loop, "--campaign", "retention-2020-01-06"), 1,
                 "--campaign retention-2020-01-06: no list of that campaign", "campaigns kept: retention-2025-07-07")
    assert_clean(evaluate(cli, store, loop, "--as-of", "2025-07-08"), 1, "--as-of 2025-07-08: no list of that date",
                 "2025-07-07, 2025-07-14")
    assert_clean(evaluate(cli, store, loop, "--as-of", "2025-07-07", "--campaign", "x"), 1, "give one of them")


def tamper(entry: Path, share: float) -> list[str]:
    """Move ``share`` of a kept list's control customers into the treated arm, as a hand edit would; their ids."""
    part = entry / "bucket=0" / "part-0.parquet"
    rows = pd.read_parquet(part)
    moved = rows.index[rows["control_group"]][: int(share * rows["control_group"].sum())]
    rows.loc[moved, "control_group"], rows.loc[moved, "in_target"] = False, True
    rows.to_parquet(part, index=False)
    return rows.loc[moved, "customer_id"].tolist()


def test_a_list_with_tampered_arms_fails_the_ratio_check_and_is_left_out_in_words(copy, cli, store):
    tamper(copy / "history" / "2025-07-07", 0.8)
    result = evaluate(cli, store, copy)
    assert_clean(result, 0, "The list of 2025-07-07 fails the ratio check", "not evaluated")
    report = (copy / "out" / "evaluation_report.html").read_text(encoding="utf-8")
    assert "FAILS the ratio check: not evaluated" in report
    # Asked for that list alone, nothing is left to evaluate: an error, and the outputs stay as they were.
    before = files_in(copy / "out")
    assert_clean(evaluate(cli, store, copy, "--as-of", "2025-07-07"), 1, "no list can be evaluated",
                 "The list of 2025-07-07 fails the ratio check")
    assert files_in(copy / "out") == before


def test_arms_moved_by_hand_in_later_lists_are_found_and_left_out(loop, copy, cli, store):
    """Later lists hold many customers already in the campaign; moving their arms does not shift the ratio of the
    new ones, but every planned arm is checked against the draw: the moved customers are named and left out."""
    moved = tamper(copy / "history" / "2025-08-04", 0.5)
    result = evaluate(cli, store, copy)
    assert_clean(result, 0, f"In the list of 2025-08-04, {len(moved)} customers' arms differ from the campaign's draw",
                 "left out")
    before, after = (pd.read_csv(folder / "out" / "evaluation.csv").iloc[0] for folder in (loop, copy))
    assert after["treated_n"] == before["treated_n"] and after["control_n"] == before["control_n"] - len(moved)
