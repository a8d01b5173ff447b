"""Owners at the as-of date: the account manager, else their successor, else the team lead, else nobody."""

from __future__ import annotations

import pandas as pd

from models.owners import customer_owners, manager_owners

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
