"""The week's lists: ABC value tiers, value at risk, the contact plan's columns, ranking; the worklist of active
customers and the lapsed list, planned together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.plan import (
    CAPACITY,
    CONTROL,
    NO_CHANNEL,
    NOT_ELIGIBLE,
    RECENTLY_CONTACTED,
    ContactPlan,
    Playbook,
    allowed_actions,
    lapsed_actions,
    plan_contacts,
)
from models.week_over_week import Basis, week_over_week


def value_tiers(
    value: pd.Series, cuts: tuple[float, float], max_shares: tuple[float, float] = (1.0, 1.0)
) -> pd.Series:
    """A = customers holding the top ``cuts[0]`` of total value, B the next up to ``cuts[1]``, C the rest; but A
    never more than ``max_shares[0]`` of the customers, A and B together never more than ``max_shares[1]``.

    Customers are taken by value, highest first (ties by index); a customer is in A while the value of the
    customers ranked before them is below cuts[0] of the total and their place in that order is within
    max_shares[0] of the customers (so where spend is flat, A stays the few key accounts). Zero total value:
    everybody is C.
    """
    amounts = value.to_numpy(dtype="float64")
    positive = np.nan_to_num(np.clip(amounts, 0, None))  # a missing value holds nothing and ranks last: C
    total = float(positive.sum())
    if total <= 0:
        return pd.Series("C", index=value.index, name="value_tier")
    order = np.lexsort((_sort_positions(value.index), -amounts))
    before = (np.cumsum(positive[order]) - positive[order]) / total
    place = np.arange(1, len(amounts) + 1)  # 1 = the most valuable
    in_a = (before < cuts[0]) & (place <= max_shares[0] * len(amounts))
    in_b = (before < cuts[1]) & (place <= max_shares[1] * len(amounts))
    tier = np.empty(len(amounts), dtype=object)
    tier[order] = np.where(in_a, "A", np.where(in_b, "B", "C"))
    tier[np.isnan(amounts)] = "C"
    return pd.Series(tier, index=value.index, name="value_tier")


def _sort_positions(keys) -> np.ndarray:
    """Each key's place in ascending order (equal keys by position): a tie-break for ``np.lexsort``; no string
    sort when the keys are already in order, as scored customers are."""
    keys = pd.Index(keys)
    if keys.is_monotonic_increasing:
        return np.arange(len(keys))
    places = np.empty(len(keys), dtype=np.intp)
    places[keys.argsort(kind="stable")] = np.arange(len(keys))
    return places


def tier_floors(value: np.ndarray, tiers: np.ndarray) -> dict[str, float]:
    """The lowest value in tiers A and B (inf for an empty tier): the floor a value must reach to be in it."""
    value, tiers = np.asarray(value, dtype="float64"), np.asarray(tiers, dtype=object)
    return {t: float(value[tiers == t].min()) if (tiers == t).any() else np.inf for t in ("A", "B")}


def tier_of(value: np.ndarray, floors: dict[str, float]) -> np.ndarray:
    """A, B or C for values measured against the floors of :func:`tier_floors`."""
    value = np.asarray(value, dtype="float64")
    return np.where(value >= floors["A"], "A", np.where(value >= floors["B"], "B", "C")).astype(object)


def _ranked(frame: pd.DataFrame, first: np.ndarray, first_key: str, then_key: str) -> pd.DataFrame:
    """Rows with ``first`` True by ``first_key`` (highest first), then the others by ``then_key``; ties by
    customer_id; a 1-based ``rank`` column first."""
    key = np.where(first, frame[first_key].to_numpy(dtype="float64"), frame[then_key].to_numpy(dtype="float64"))
    key = np.nan_to_num(key, nan=-np.inf)
    order = np.lexsort((_sort_positions(frame["customer_id"]), -key, ~np.asarray(first, dtype=bool)))
    ranked = frame.take(order).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


WINBACK_COLUMNS = (
    "rank", "customer_id", "churn_probability", "customer_value", "value_tier", "value_at_risk",
    "expected_net_value", "action_channel", "recommended_action", "in_target", "control_group", "owner_id",
    "owner_status", "reasons", "reason_codes", "new_this_week", "risk_change", "days_since_last_purchase",
    "last_purchase_date", "segment", "lifecycle_stage", "open_complaints", "model_version", "as_of",
)
LAPSED_COLUMNS = (
    "rank", "customer_id", "past_value", "value_tier", "days_since_last_purchase", "last_purchase_date",
    "reactivation_probability", "expected_net_value", "action_channel", "recommended_action", "in_target",
    "control_group", "owner_id", "owner_status", "reasons", "reason_codes", "as_of",
)
# Beyond the CSV's columns the frames carry, for the scored table and the report: the planned action's name
# (also for control rows: what they would have had) and the account manager on record.
EXTRA_COLUMNS = ("action_id", "account_manager_id")


def _channel_words(channel: str) -> str:
    return channel.replace("_", " ") + ("s" if not channel.endswith("s") else "")


def no_contact_text(status: str, blocked_channel: str | None, campaign_id: str = "",
                    days_since_contact: float = np.nan) -> str:
    """Why a row gets no contact this week, in words."""
    if status == CONTROL:
        return f"Held out: control group of campaign {campaign_id}, do not contact"
    if status == RECENTLY_CONTACTED:
        days = int(days_since_contact)
        return f"No contact this week: contacted {days} day{'s' if days != 1 else ''} ago"
    if status == CAPACITY:
        return f"No action this week: {_channel_words(blocked_channel)} are fully booked"
    if status == NOT_ELIGIBLE:
        return "No action this week: the playbook has no contact for this reason and tier"
    return "No action this week: no contact is worth its cost"


def plan_columns(plan: ContactPlan, playbook: Playbook, campaign_id: str = "",
                 days_since_contact: np.ndarray | None = None) -> pd.DataFrame:
    """The list's plan columns from a :class:`ContactPlan` (rows in the plan's order); ``days_since_contact``:
    per row, the days since the customer's last contact (NaN: none in the cooldown)."""
    contacted = plan.contacted
    channel = np.full(len(contacted), NO_CHANNEL, dtype=object)
    days = np.full(len(contacted), np.nan) if days_since_contact is None else days_since_contact
    text = np.array([no_contact_text(s, b, campaign_id, d)
                     for s, b, d in zip(plan.status, plan.blocked_channel, days, strict=True)], dtype=object)
    for i in np.flatnonzero(contacted):
        action = playbook.actions[plan.action[i]]
        channel[i], text[i] = action.channel, action.text
    return pd.DataFrame({
        "expected_net_value": np.round(plan.expected_net_value, 2),
        "action_channel": pd.array(channel, dtype="str"),
        "recommended_action": pd.array(text, dtype="str"),
        "in_target": contacted,
        "control_group": plan.control,
        "action_id": pd.array(plan.action, dtype="str"),
    })


@dataclass(frozen=True)
class ListSettings:
    """The scoring settings the lists need: the plan's, the tiers', the campaign whose arms hold out the control
    group, and the cooldown after a contact (days; 0: none)."""

    tier_cuts: tuple[float, float]
    tier_max_shares: tuple[float, float]
    capacity_per_week: dict[str, int | None]
    control_share: float
    campaign_id: str
    contact_cooldown_days: int = 0


def days_since_contact(customer_ids: pd.Series, last_contacts: pd.Series | None, as_of: pd.Timestamp,
                       cooldown_days: int) -> np.ndarray:
    """Calendar days from each customer's last contact (``last_contacts``: customer_id -> contacted_at) to the
    as-of date's day, where that contact lies in the cooldown before as_of; else NaN."""
    if last_contacts is None or not len(last_contacts) or cooldown_days <= 0:
        return np.full(len(customer_ids), np.nan)
    last = pd.to_datetime(pd.Series(customer_ids.astype("str").to_numpy()).map(last_contacts))
    recent = last >= as_of - pd.Timedelta(days=cooldown_days)
    days = (as_of.normalize() - last.dt.normalize()).dt.days.astype("float64")
    return days.where(recent).to_numpy()


def build_lists(
    scored: pd.DataFrame,
    *,
    reasons: list[str],
    reason_codes: list[str],
    deciding_family: np.ndarray,
    lapsed: pd.DataFrame,
    playbook: Playbook,
    settings: ListSettings,
    basis: Basis | None,
    as_of: pd.Timestamp,
    model_version: str,
    last_contacts: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranked worklist and lapsed list, planned together (they share the channels' weekly capacity).

    ``scored`` holds per active customer: customer_id, churn_probability, customer_value, owner_id, owner_status,
    account_manager_id, days_since_last_purchase, last_purchase_date, segment, lifecycle_stage, open_complaints;
    ``reasons``, ``reason_codes`` and ``deciding_family`` (the playbook family deciding the actions) row for row.
    ``lapsed`` holds models.lapsed's facts plus owner_id and owner_status. Lapsed customers whose past value
    reaches the active customers' tier A or B floor are listed; the rest are let go. Customers whose last contact
    (``last_contacts``: customer_id -> contacted_at, before as_of) lies in the cooldown get none this week.
    """
    work = scored.reset_index(drop=True).copy()
    # Rounded as the list shows them (cents), so the ranking reads right off the printed numbers.
    work["value_at_risk"] = (work["churn_probability"] * work["customer_value"]).round(2)
    work["value_tier"] = value_tiers(
        pd.Series(work["customer_value"].array, index=work["customer_id"].array), settings.tier_cuts,
        settings.tier_max_shares,
    ).to_numpy()
    work["reasons"] = pd.array(reasons, dtype="str")
    work["reason_codes"] = pd.array(reason_codes, dtype="str")
    floors = tier_floors(work["customer_value"].to_numpy(), work["value_tier"].to_numpy())
    gone = lapsed.reset_index(drop=True).assign(value_tier=tier_of(lapsed["past_value"].to_numpy(), floors))
    gone = gone[gone["value_tier"] != "C"].reset_index(drop=True)

    allowed = [*allowed_actions(playbook, np.asarray(deciding_family, dtype=object), work["value_tier"].to_numpy()),
               *lapsed_actions(playbook, gone["value_tier"].to_numpy())]
    keys = pd.concat([work["customer_id"], gone["customer_id"]], ignore_index=True).astype("str")
    since_contact = days_since_contact(keys, last_contacts, as_of, settings.contact_cooldown_days)
    plan = plan_contacts(
        allowed,
        np.concatenate([work["churn_probability"].to_numpy(dtype="float64"),
                        gone["reactivation_probability"].to_numpy(dtype="float64")]),
        np.concatenate([work["customer_value"].to_numpy(dtype="float64"), gone["past_value"].to_numpy(dtype="float64")]),
        playbook,
        settings.capacity_per_week,
        order=_sort_positions(keys),
        keys=keys,
        campaign_id=settings.campaign_id,
        control_share=settings.control_share,
        recently_contacted=~np.isnan(since_contact),
    )
    columns = plan_columns(plan, playbook, settings.campaign_id, since_contact)
    n = len(work)
    work = pd.concat([work, columns.iloc[:n].reset_index(drop=True)], axis=1)
    gone = pd.concat([gone, columns.iloc[n:].reset_index(drop=True)], axis=1)

    changes = week_over_week(work["customer_id"], work["churn_probability"].to_numpy(), work["in_target"].to_numpy(),
                             basis)
    work = pd.concat([work, changes], axis=1)
    stamp = {"model_version": model_version, "as_of": as_of.strftime("%Y-%m-%d")}
    worklist = _ranked(work.assign(**stamp), work["in_target"].to_numpy(), "expected_net_value", "value_at_risk")
    lapsed_list = _ranked(gone.assign(as_of=stamp["as_of"]), gone["in_target"].to_numpy(), "expected_net_value",
                          "expected_net_value")
    extra = [c for c in EXTRA_COLUMNS if c in worklist.columns]
    return (worklist[[*WINBACK_COLUMNS, *extra]],
            lapsed_list[[*LAPSED_COLUMNS, *[c for c in EXTRA_COLUMNS if c in lapsed_list.columns]]])


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula (= + - @, tab, CR first) get a leading apostrophe.

    Numeric and boolean columns are left untouched.
    """
    safe = frame.copy()
    for name in safe.columns:
        column = safe[name]
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            continue
        text = column.astype("str")
        risky = text.str.match(r"^[=+\-@\t\r]", na=False) & column.notna()
        if risky.any():
            safe[name] = column.astype("object").where(~risky, "'" + text)
    return safe
