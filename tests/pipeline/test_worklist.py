"""`churn score` as a retention team runs it: weekly capacities respected, every contact worth its cost, owners who
are still employed, reasons without good news, and the week-over-week columns against last week's list."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.score import write_winback
from tests.pipeline.test_score import copy_world, read_list

DAY = pd.Timedelta(days=1)
CAPACITY = {"senior_manager_call": 2, "account_manager_call": 4, "email": 15}


@pytest.fixture(scope="module")
def tight(world, store, trained, tmp_path_factory):
    """The list with a few calls and emails a week (the test world is small: capacities must bind)."""
    folder = tmp_path_factory.mktemp("tight")
    config = store.config_with(folder, scoring={"capacity_per_week": CAPACITY})
    result = write_winback(world, folder / "winback.csv", None, None, load_config(config))
    return result, read_list(result.out), read_list(result.lapsed)


def test_capacities_are_never_exceeded_and_left_out_rows_say_why(tight):
    _, worklist, lapsed = tight
    contacted = pd.concat([worklist[worklist["in_target"]], lapsed[lapsed["in_target"]]])
    used = contacted["action_channel"].value_counts().to_dict()
    for channel, limit in CAPACITY.items():
        assert used.get(channel, 0) <= limit
    assert sum(used.values()) > 0
    full = worklist["recommended_action"].str.endswith("are fully booked")
    assert full.any()  # the capacities did bind: someone worth a contact was left out for them
    assert (worklist.loc[full, "expected_net_value"] > 0).all()
    assert (contacted["expected_net_value"] > 0).all()


def test_a_channel_fills_by_expected_net_value(tight):
    _, worklist, lapsed = tight
    both = pd.concat([worklist, lapsed])
    checked = 0
    for channel in CAPACITY:
        contacted = both.loc[both["in_target"] & (both["action_channel"] == channel), "expected_net_value"]
        booked_out = both["recommended_action"] == f"No action this week: {channel.replace('_', ' ')}s are fully booked"
        if len(contacted) and booked_out.any():
            # A row booked out of a channel was worth no more there than anyone who got a slot in it.
            assert both.loc[booked_out, "expected_net_value"].max() <= contacted.min()
            checked += 1
    assert checked > 0


NUMBER = r"-?[\d,]+(?:\.\d+)?"


def test_no_reason_on_the_list_states_a_zero_or_favourable_change(tight):
    _, worklist, _ = tight
    reasons = [r for cell in worklist["reasons"].dropna() for r in cell.split("; ")]
    assert reasons
    for reason in reasons:
        assert "chance" not in reason and "likely still active" not in reason, reason
        assert not re.search(r"\b(up|rose) ", reason), reason
        assert not re.search(r"down 0%", reason), reason
        fell = re.search(rf"fell from ({NUMBER}) to ({NUMBER})", reason)
        if fell:
            assert float(fell[1].replace(",", "")) > float(fell[2].replace(",", "")), reason
        typical = re.search(rf"\(typical: ({NUMBER})%?\)", reason)
        stated = re.search(rf"({NUMBER})", reason)
        if typical and stated and not reason.startswith("no "):
            assert stated[1] != typical[1], reason


def test_the_week_after_says_who_is_new_and_how_the_risk_moved(world, store, trained, cfg, tmp_path,
                                                                last_event_day_after):
    out = tmp_path / "out" / "winback.csv"
    week_before = write_winback(world, out, (last_event_day_after - 7 * DAY).date(), None, cfg)
    then = read_list(week_before.out).set_index("customer_id")
    assert then["new_this_week"].isna().all() and then["risk_change"].isna().all()  # nothing to compare with

    this_week = write_winback(world, out, last_event_day_after.date(), None, cfg)
    now = read_list(this_week.out).set_index("customer_id")
    both = now.index.intersection(then.index)
    assert len(both) > 0
    expected_change = (now.loc[both, "churn_probability"] - then.loc[both, "churn_probability"])
    assert (now.loc[both, "risk_change"] - expected_change).abs().max() < 2e-4  # both rounded to 4 places
    newcomers = now.index.difference(then.index)
    assert now.loc[newcomers, "risk_change"].isna().all()
    was_in = then["in_target"].reindex(now.index, fill_value=False).astype(bool)
    assert (now["new_this_week"].astype(bool) == (now["in_target"] & ~was_in)).all()
    page = this_week.report.read_text(encoding="utf-8")
    assert f"Compared with the list of {(last_event_day_after - 7 * DAY).date()}" in page

    again = write_winback(world, out, last_event_day_after.date(), None, cfg)  # a re-run of the same week
    assert again.out.read_bytes() == this_week.out.read_bytes()
    assert again.report.read_text(encoding="utf-8") == page  # the same comparison, customers gone since included
    assert np.isfinite(read_list(again.out)["risk_change"]).any()


def test_arms_hold_for_a_campaign_and_customers_contacted_in_the_cooldown_wait(world, store, trained, tmp_path):
    """The lists of 2025-10-06 and 2025-10-13 (campaign retention-2025-10-06) give every customer in both targets
    the same arm; the list of 2025-09-29 belongs to the campaign before and draws anew. Customers the team
    contacted on 2025-10-09 are held back on 2025-10-13 and say when they were contacted. (Half the target is held
    out, so that the small world's lists hold both arms.)"""
    data = copy_world(world, tmp_path / "data")
    cfg = load_config(store.config_with(tmp_path, scoring={"control_share": 0.5}))

    def planned(day: str) -> pd.DataFrame:
        rows = read_list(write_winback(data, tmp_path / day / "winback.csv", pd.Timestamp(day).date(), None, cfg).out)
        return rows.set_index("customer_id")

    september, october = planned("2025-09-29"), planned("2025-10-06")
    treated = october.index[october["in_target"]][:4].tolist()
    pd.DataFrame({"customer_id": treated, "contacted_at": "2025-10-09 10:30:00", "channel": "email",
                  "action": "care_email", "campaign_id": "retention-2025-10-06", "outcome": "sent",
                  }).to_csv(data / "contacts.csv", index=False)
    week_after = planned("2025-10-13")

    def target(rows: pd.DataFrame) -> pd.Index:
        return rows.index[rows["in_target"] | rows["control_group"]]

    both = target(october).intersection(target(week_after))
    assert len(both) >= 5 and october.loc[both, "control_group"].any() and not october.loc[both, "control_group"].all()
    assert (week_after.loc[both, "control_group"] == october.loc[both, "control_group"]).all()
    before = target(september).intersection(target(october))
    assert (september.loc[before, "control_group"] != october.loc[before, "control_group"]).any()
    waiting = week_after.loc[treated]
    assert not waiting["in_target"].any() and not waiting["control_group"].any()
    assert (waiting["recommended_action"] == "No contact this week: contacted 4 days ago").all()


def test_split_by_owner_hands_out_every_targeted_row_once_and_is_replaced_whole(world, store, trained, cli,
                                                                               tmp_path):
    out = tmp_path / "week" / "winback.csv"
    args = ("score", "--data", world, "--out", out, "--config", store.config_file)
    first = cli(*args, "--split-by-owner")
    assert first.exit_code == 0, first.output
    folder = tmp_path / "week" / "winback_by_owner"
    files = sorted(p.name for p in folder.glob("*.csv"))
    assert f"winback_by_owner ({len(files)} file(s))" in "".join(first.output.split("\n"))
    worklist, lapsed = read_list(out), read_list(tmp_path / "week" / "winback_lapsed.csv")
    handed = {name: read_list(folder / name) for name in files}
    for rows, suffix in ((worklist, ""), (lapsed, "_lapsed")):
        # The test world's lapsed customers rarely came back, so a win-back contact may be worth no one's while:
        # then no owner gets a lapsed file (tests/models/test_owners.py covers the lapsed files themselves).
        mine = pd.concat([rows.head(0), *(f for name, f in handed.items() if name.endswith(f"{suffix}.csv")
                                          and (suffix or not name.endswith("_lapsed.csv")))])
        targeted = rows[rows["in_target"]]
        assert sorted(mine["customer_id"]) == sorted(targeted["customer_id"])  # each targeted row once, no control
        assert list(mine.columns) == list(rows.columns)
    for name, rows in handed.items():
        owner = name.removesuffix(".csv").removesuffix("_lapsed")
        expected = {""} if owner in ("_no_owner", "_retention_team") else {owner}
        assert set(rows["owner_id"].fillna("")) == expected
        if owner == "_retention_team":
            assert set(rows["owner_status"]) == {"unmanaged"}
        if owner == "_no_owner":
            assert "unmanaged" not in set(rows["owner_status"])
        assert list(rows["rank"]) == sorted(rows["rank"])
    assert (folder / "README.txt").read_text(encoding="utf-8").startswith("This week's contacts by owner")

    (folder / "stale.csv").write_text("x\n")  # a file from another week: the folder is replaced whole
    again = cli(*args, "--split-by-owner")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in folder.glob("*.csv")) == files

    foreign = tmp_path / "other" / "winback_by_owner"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    refused = cli("score", "--data", world, "--out", tmp_path / "other" / "winback.csv", "--config",
                  store.config_file, "--split-by-owner")
    assert refused.exit_code == 1 and "is not an earlier output of this command" in " ".join(refused.output.split())
    assert (foreign / "notes.txt").read_text() == "mine" and not (tmp_path / "other" / "winback.csv").exists()
