"""Who owns each customer at the as-of date: their account manager, unless that manager has left.

A manager who left before as_of is replaced by their successor (followed along a chain of successors who left
too), else by their team lead (likewise), else nobody: the customer needs an owner.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# owner_status values
ACCOUNT_MANAGER = "account_manager"  # the customer's own manager, still employed
SUCCESSOR = "successor"  # the manager left; their successor owns the customer
TEAM_LEAD = "team_lead"  # the manager left without a successor; the team lead owns the customer
NEEDS_OWNER = "needs_owner"  # the manager left and nobody is on record to take over
UNMANAGED = "unmanaged"  # no account manager (the retention team owns the contact)


def _departed_before(managers: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, bool]:
    left = (managers["departed_at"] < as_of).to_numpy(dtype=bool, na_value=False)
    return dict(zip(managers["account_manager_id"].astype("str"), left, strict=True))


def _link(managers: pd.DataFrame, column: str) -> dict[str, str]:
    if column not in managers.columns:
        return {}
    linked = managers[managers[column].notna()]
    return dict(zip(linked["account_manager_id"].astype("str"), linked[column].astype("str"), strict=True))


def _employed_along(start: str | None, successor: dict[str, str], left: dict[str, bool]) -> str | None:
    """``start`` if still employed, else the first employed manager along its successors (None: none)."""
    seen = set()
    current = start
    while current is not None and current not in seen:
        if not left.get(current, False):  # a manager missing from the table is taken to be employed
            return current
        seen.add(current)
        current = successor.get(current)
    return None


def manager_owners(managers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per account manager (index): the owner of their customers at ``as_of`` and the owner_status."""
    left = _departed_before(managers, as_of)
    successor, team_lead = _link(managers, "successor_id"), _link(managers, "team_lead_id")
    rows = {}
    for manager in managers["account_manager_id"].astype("str"):
        if not left[manager]:
            rows[manager] = (manager, ACCOUNT_MANAGER)
            continue
        heir = _employed_along(successor.get(manager), successor, left)
        if heir is not None:
            rows[manager] = (heir, SUCCESSOR)
            continue
        lead = _employed_along(team_lead.get(manager), successor, left)
        rows[manager] = (lead, TEAM_LEAD) if lead is not None else (None, NEEDS_OWNER)
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["owner_id", "owner_status"])
    return frame.astype({"owner_id": "str"}).rename_axis("account_manager_id")


def customer_owners(account_manager_ids: pd.Series, managers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer (rows of ``account_manager_ids``): owner_id (None when nobody) and owner_status.

    A manager id absent from ``managers`` is taken to be still employed (validation warns about such ids).
    """
    ids = account_manager_ids.astype("str")
    assigned = ids.notna().to_numpy()
    by_manager = manager_owners(managers.drop_duplicates("account_manager_id", keep="last"), as_of)
    position = np.where(assigned, by_manager.index.get_indexer(ids), -1)
    known = position >= 0
    owner = ids.to_numpy(dtype=object, na_value=None)
    status = np.where(assigned, ACCOUNT_MANAGER, UNMANAGED).astype(object)
    owner[known] = by_manager["owner_id"].to_numpy(dtype=object, na_value=None)[position[known]]
    status[known] = by_manager["owner_status"].to_numpy(dtype=object)[position[known]]
    return pd.DataFrame(
        {"owner_id": pd.array(owner, dtype="str"), "owner_status": status}, index=account_manager_ids.index
    )


# The files of targeted customers without an owner: the retention team's own (no account manager), and those
# whose manager left with nobody on record to take over.
RETENTION_TEAM_FILE, NO_OWNER_FILE = "_retention_team", "_no_owner"


def files_per_owner(worklist: pd.DataFrame, lapsed: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each owner's share of this week's contacts, as file name -> rows: ``<owner>.csv`` their targeted rows of
    the worklist, ``<owner>_lapsed.csv`` their targeted lapsed customers (in list order; control rows are never
    contacted, so never handed out). Customers without an account manager go to ``_retention_team[...]``, those
    whose manager left with nobody to take over to ``_no_owner[...]``. An owner id is made safe as a file name
    (characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``; a name already taken, by another
    owner or by the two above, gets ``-2``, ``-3``...)."""
    names: dict[str, str] = {}
    taken = {RETENTION_TEAM_FILE, NO_OWNER_FILE}

    def name_of(owner: str) -> str:
        if owner not in names:
            base = re.sub(r"[^A-Za-z0-9._-]", "_", owner).lstrip(".") or "_"
            name, n = base, 1
            while name.lower() in taken:
                n += 1
                name = f"{base}-{n}"
            taken.add(name.lower())
            names[owner] = name
        return names[owner]

    files: dict[str, pd.DataFrame] = {}
    for rows, suffix in ((worklist, ""), (lapsed, "_lapsed")):
        targeted = rows[rows["in_target"].to_numpy(dtype=bool)]
        owners = targeted["owner_id"].astype("object")
        unowned = (owners.isna() | (owners == "")).to_numpy()
        team = unowned & (targeted["owner_status"] == UNMANAGED).to_numpy()
        groups = [(name_of(o), (owners == o).to_numpy() & ~unowned) for o in sorted(set(owners[~unowned].astype(str)))]
        groups += [(RETENTION_TEAM_FILE, team), (NO_OWNER_FILE, unowned & ~team)]
        files |= {f"{name}{suffix}.csv": targeted[mine] for name, mine in groups if mine.any()}
    return files
