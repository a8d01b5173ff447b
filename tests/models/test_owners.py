"""Owners at the as-of date: the account manager, else their successor, else the team lead, else nobody."""

from __future__ import annotations

import pandas as pd

from models.owners import customer_owners, files_per_owner, manager_owners

AS_OF = pd.Timestamp("2024-06-03")


def managers() -> pd.DataFrame:
    rows = [
        ("M1", None, None, None),  # employed
        ("M2", "2024-01-31", "M1", "M6"),  # left; successor M1 (employed) wins over the team lead
        ("M3", "2024-02-01", "M4", None),  # left; successor M4 left too, and M4's successor is M1
        ("M4", "2024-03-01", "M1", None),
        ("M5", "2024-04-01", None, "M6"),  # left, no successor: team lead M6
        ("M6", None, None, None),
        ("M7", "2024-05-01", None, None),  # left, nobody on record
        ("M8", "2024-06-03", None, None),  # leaves on the as-of day: not yet gone
        ("M9", "2024-01-01", "M10", "M7"),  # successors in a circle, team lead gone too: nobody
        ("M10", "2024-02-01", "M9", None),
        ("M11", "2024-05-01", "M12", "M6"),  # successor not in the table: taken to be employed
    ]
    frame = pd.DataFrame(rows, columns=["account_manager_id", "departed_at", "successor_id", "team_lead_id"])
    return frame.assign(departed_at=pd.to_datetime(frame["departed_at"]))


def test_manager_owners_by_hand():
    owners = manager_owners(managers(), AS_OF).fillna({"owner_id": ""})
    assert owners.to_dict("index") == {
        "M1": {"owner_id": "M1", "owner_status": "account_manager"},
        "M2": {"owner_id": "M1", "owner_status": "successor"},
        "M3": {"owner_id": "M1", "owner_status": "successor"},
        "M4": {"owner_id": "M1", "owner_status": "successor"},
        "M5": {"owner_id": "M6", "owner_status": "team_lead"},
        "M6": {"owner_id": "M6", "owner_status": "account_manager"},
        "M7": {"owner_id": "", "owner_status": "needs_owner"},
        "M8": {"owner_id": "M8", "owner_status": "account_manager"},
        "M9": {"owner_id": "", "owner_status": "needs_owner"},
        "M10": {"owner_id": "", "owner_status": "needs_owner"},
        "M11": {"owner_id": "M12", "owner_status": "successor"},
    }


def test_customer_owners_keep_rows_and_handle_no_or_unknown_manager():
    ids = pd.Series(["M2", None, "M7", "MX", "M5", "M1"], index=[5, 6, 7, 8, 9, 10], dtype="str")
    owners = customer_owners(ids, managers(), AS_OF)
    assert list(owners.index) == [5, 6, 7, 8, 9, 10]
    assert owners["owner_id"].fillna("").tolist() == ["M1", "", "", "MX", "M6", "M1"]
    assert owners["owner_status"].tolist() == [
        "successor", "unmanaged", "needs_owner", "account_manager", "team_lead", "account_manager",
    ]


def test_without_successor_columns_a_departed_manager_needs_an_owner():
    table = managers()[["account_manager_id", "departed_at"]]
    owners = customer_owners(pd.Series(["M2", "M1"], dtype="str"), table, AS_OF)
    assert owners["owner_id"].fillna("").tolist() == ["", "M1"]
    assert owners["owner_status"].tolist() == ["needs_owner", "account_manager"]


def test_a_departure_after_the_as_of_date_is_not_known_yet():
    owners = customer_owners(pd.Series(["M7"], dtype="str"), managers(), pd.Timestamp("2024-05-01"))
    assert owners["owner_id"].tolist() == ["M7"]
    assert owners["owner_status"].tolist() == ["account_manager"]


def test_files_per_owner_hand_each_owner_their_targeted_rows_in_list_order():
    worklist = pd.DataFrame({
        "rank": [1, 2, 3, 4, 5, 6, 7, 8, 9],
        "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"],
        "owner_id": pd.array(["M1", "M2", "M1", None, "M1", "a/b", "a_b", None, "_no_owner"], dtype="str"),
        "owner_status": ["account_manager", "successor", "account_manager", "needs_owner", "account_manager",
                         "account_manager", "team_lead", "unmanaged", "account_manager"],
        "in_target": [True, True, True, True, False, True, True, True, True],  # C5: control or left out
    })
    lapsed = pd.DataFrame({
        "rank": [1, 2, 3], "customer_id": ["L1", "L2", "L3"], "owner_id": pd.array(["", "M2", ""], dtype="str"),
        "owner_status": ["needs_owner", "account_manager", "unmanaged"], "in_target": [True, True, True],
    })
    files = files_per_owner(worklist, lapsed)
    got = {name: list(rows["customer_id"]) for name, rows in files.items()}
    assert got == {
        "M1.csv": ["C1", "C3"],
        "M2.csv": ["C2"],
        "_no_owner-2.csv": ["C9"],  # an owner whose id is a reserved name gets the next free one
        "a_b.csv": ["C6"],  # "a/b" made safe first (sorted before "a_b"), so "a_b" itself takes "a_b-2"
        "a_b-2.csv": ["C7"],
        "_retention_team.csv": ["C8"],  # no account manager: the retention team's own calls
        "_no_owner.csv": ["C4"],  # the manager left and nobody took over
        "M2_lapsed.csv": ["L2"],
        "_retention_team_lapsed.csv": ["L3"],
        "_no_owner_lapsed.csv": ["L1"],  # an empty owner in a CSV read back is nobody too
    }
    assert files_per_owner(worklist.assign(in_target=False), lapsed.iloc[:0]) == {}
