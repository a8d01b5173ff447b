"""Campaign periods, persistent arms, and the customers a campaign's evaluation compares.

A campaign period is ``weeks`` weeks long; periods follow each other from an anchor date (before and after it), and
the campaign of an as-of date is the period containing it. A customer's arm is a property of (customer, campaign):
control iff a stable uniform draw of (customer_id, campaign id) is below the control share. It is applied only to
the customers a list plans to contact (the target), so the arms compare customers who would all have been
contacted, and a customer keeps their arm in every weekly list of the period.

The evaluation counts each customer once, at their first appearance in the campaign's target (treated or
control): later lists see a customer after their arm has acted on them (a saved customer stays active and is
listed again; one who left is not), so only the first appearance compares like with like. The outcome is no
purchase in the horizon after that list's as-of date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.labels import churn_labels
from features.tables import as_timestamp
from models.plan import control_arm
from models.uplift import MIN_CELL, SRM_P_VALUE, sample_ratio_mismatch, shrunk_save_rate

# One row per list row, as the evaluation reads a list's history entry (see pipeline.history).
LIST_ROW_COLUMNS = (
    "as_of", "list", "customer_id", "churn_probability", "customer_value", "value_tier", "in_target",
    "control_group", "action_id", "owner_id",
)


@dataclass(frozen=True)
class CampaignPeriod:
    """A campaign period: its id and its days [start, end)."""

    id: str
    start: pd.Timestamp
    end: pd.Timestamp


def campaign_period(as_of, *, name: str, weeks: int, start) -> CampaignPeriod:
    """The period of ``weeks`` weeks containing ``as_of``, periods counted from the anchor date ``start``; its id
    is ``f"{name}-{period start:%Y-%m-%d}"``."""
    length = 7 * weeks
    offset = (as_timestamp(as_of).normalize() - as_timestamp(start).normalize()).days
    first = as_timestamp(start).normalize() + pd.Timedelta(days=length * (offset // length))
    return CampaignPeriod(f"{name}-{first:%Y-%m-%d}", first, first + pd.Timedelta(days=length))


@dataclass(frozen=True)
class ListInfo:
    """One list of a campaign as its history entry records it."""

    as_of: pd.Timestamp
    campaign_id: str
    control_share: float
    horizon_days: int


def planned_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows a list planned to contact: its target, the control group included."""
    return rows[(rows["in_target"] | rows["control_group"]).to_numpy(dtype=bool)]


def arm_check(rows: pd.DataFrame, entering: pd.DataFrame, info: ListInfo) -> dict:
    """Whether one list's arms are as the campaign drew them.

    ``rows``: the list's rows, ``entering``: those of its customers entering the campaign with it (their first
    appearance; LIST_ROW_COLUMNS). The ratio check tests the entering customers' arm sizes against the control
    share (the same in every tier, so under a sound draw the control count is binomial); only they are comparable:
    a customer already in the campaign is listed or not after their arm acted (a contacted one waits out the
    cooldown, a kept one stays active). Every planned row is checked against the campaign's draw. Returns the arm
    sizes of the entering customers, the ratio check's p-value, the rows off the draw and ``passed``: False when
    the ratio check fails (the list is then not evaluated; rows off the draw are left out even when it passes).
    """
    control = int(entering["control_group"].sum())
    treated = len(entering) - control
    p_value = sample_ratio_mismatch(treated, control, info.control_share)
    planned = planned_rows(rows)
    drawn = control_arm(planned["customer_id"], info.campaign_id, info.control_share)
    off_draw = planned["control_group"].to_numpy(dtype=bool) != drawn
    return {
        "as_of": info.as_of, "campaign_id": info.campaign_id, "control_share": info.control_share,
        "planned": len(planned), "treated_n": treated, "control_n": control, "srm_p_value": p_value,
        "off_draw": int(off_draw.sum()), "off_draw_ids": tuple(planned["customer_id"][off_draw].astype("str")),
        "passed": bool(p_value >= SRM_P_VALUE),
    }


def first_appearances(rows: pd.DataFrame) -> pd.DataFrame:
    """Each customer's row in the first list (by as-of date) whose target held them, treated or control."""
    planned = planned_rows(rows)
    order = np.lexsort((planned["list"].to_numpy(dtype=str), planned["as_of"].to_numpy()))
    return planned.take(order).drop_duplicates("customer_id", keep="first").reset_index(drop=True)


def observed_outcomes(first: pd.DataFrame, transactions: pd.DataFrame, horizon_days: Mapping) -> pd.Series:
    """Per first-appearance row: True when the customer made no purchase in the horizon after that list's as-of
    date (``horizon_days``: as-of date -> the list's horizon)."""
    churned = np.zeros(len(first), dtype=bool)
    for as_of, members in first.groupby("as_of", sort=True):
        labels = churn_labels(transactions, members["customer_id"], as_of, int(horizon_days[as_of]))
        churned[members.index.to_numpy()] = labels.to_numpy(dtype=bool)
    return pd.Series(churned, index=first.index, name="churned")


def contacts_in_window(first: pd.DataFrame, contacts: pd.DataFrame, horizon_days: Mapping) -> pd.DataFrame:
    """The contact-log rows of each first-appearance row's customer in [as_of, as_of + horizon): ``row`` (the
    position in ``first``), ``action`` (as logged, may be empty) and ``contacted_at``."""
    if contacts.empty or first.empty:
        return pd.DataFrame({"row": pd.Series([], dtype="int64"), "action": pd.Series([], dtype="str"),
                             "contacted_at": pd.Series([], dtype="datetime64[ns]")})
    starts = first["as_of"].map(as_timestamp)
    ends = starts + pd.to_timedelta(first["as_of"].map(horizon_days).astype("int64"), unit="D")
    windows = pd.DataFrame({"customer_id": first["customer_id"].astype("str").to_numpy(), "row": np.arange(len(first)),
                            "start": starts.to_numpy(), "end": ends.to_numpy()})
    logged = pd.DataFrame({"customer_id": contacts["customer_id"].astype("str").to_numpy(),
                           "action": contacts["action"].astype("str").to_numpy() if "action" in contacts else None,
                           "contacted_at": contacts["contacted_at"].to_numpy()})
    joined = windows.merge(logged, on="customer_id")
    inside = (joined["contacted_at"] >= joined["start"]) & (joined["contacted_at"] < joined["end"])
    return joined.loc[inside.to_numpy(), ["row", "action", "contacted_at"]].reset_index(drop=True)


def campaign_customers(
    first: pd.DataFrame,
    transactions: pd.DataFrame,
    contacts: pd.DataFrame | None,
    costs: Mapping[str, float],
    horizon_days: Mapping,
) -> pd.DataFrame:
    """The evaluation frame: one row per customer at their first appearance, with ``treated`` (the assigned arm),
    ``churned`` (observed), ``contacted`` and ``contacts`` (from the log, in the horizon after the list; NA without
    a log) and ``cost`` (of the contacts logged, each at its action's cost, else at the planned action's; without
    a log every treated customer is taken as contacted once, at the planned action's cost).
    """
    frame = first.reset_index(drop=True)
    planned_cost = frame["action_id"].astype("object").map(dict(costs)).astype("float64").fillna(0.0).to_numpy()
    frame = frame.assign(
        treated=frame["in_target"].to_numpy(dtype=bool),
        churned=observed_outcomes(frame, transactions, horizon_days).to_numpy(),
    )
    if contacts is None:
        return frame.assign(contacted=pd.array([pd.NA] * len(frame), dtype="boolean"), contacts=np.nan,
                            cost=np.where(frame["treated"], planned_cost, 0.0))
    logged = contacts_in_window(frame, contacts, horizon_days)
    action_cost = logged["action"].astype("object").map(dict(costs)).astype("float64")
    each = action_cost.fillna(pd.Series(planned_cost[logged["row"].to_numpy()], index=logged.index))
    count = np.bincount(logged["row"], minlength=len(frame))
    return frame.assign(contacted=pd.array(count > 0, dtype="boolean"), contacts=count,
                        cost=np.bincount(logged["row"], weights=each.to_numpy(), minlength=len(frame)))


def pooled_arm_check(customers: pd.DataFrame, control_share: float) -> pd.DataFrame:
    """The evaluated customers' arms by value tier and in all, each with its ratio check against the share."""
    rows = []
    for tier, members in [*customers.groupby("value_tier", sort=True, observed=True), ("all", customers)]:
        treated = int(members["treated"].sum())
        control = len(members) - treated
        rows.append({"value_tier": tier, "treated_n": treated, "control_n": control,
                     "control_share": control / len(members) if len(members) else np.nan,
                     "srm_p_value": sample_ratio_mismatch(treated, control, control_share)})
    return pd.DataFrame(rows)


def save_rate_measured(treated_n, control_n, measured) -> np.ndarray:
    """Whether a measured save rate counts: finite, and at least MIN_CELL customers in each arm (else the cell is
    too small to tell, and its rate is noise: 8 controls can make it -343%)."""
    treated, control = np.asarray(treated_n, dtype=float), np.asarray(control_n, dtype=float)
    return np.isfinite(np.asarray(measured, dtype=float)) & (np.minimum(treated, control) >= MIN_CELL)


def measured_rate_words(rates: pd.DataFrame) -> list[str]:
    """Each measured save rate (:func:`measured_save_rates`' rows) as a percentage, or why there is none yet."""
    counts = save_rate_measured(rates["treated_n"], rates["control_n"], rates["measured"])
    return [f"{m:.0%}" if ok else f"too small to tell ({int(t)} treated, {int(c)} control)"
            for m, ok, t, c in zip(rates["measured"], counts, rates["treated_n"], rates["control_n"], strict=True)]


def measured_save_rates(cells: pd.DataFrame, priors: Mapping[str, float], strength: float) -> pd.DataFrame:
    """Per measured action with a prior: the measured save rate (uplift / control churn rate: the share of the
    would-be churners a planned contact kept, non-contacts included), and the rate to use, shrunk towards the
    prior by ``strength`` (the prior's weight in customers) against the cell's effective customers (those of an
    even split measuring as precisely: 4 / (1/treated + 1/control); a 10% control group makes them far fewer than
    the customers), and kept in [0, 1].

    A cell too small to tell (fewer than MIN_CELL customers in an arm) or without churners in control measures
    nothing yet: its rate to use is the prior.
    """
    actions = cells[(cells["group"] == "action") & cells["level"].isin(list(priors))]
    rows = []
    for cell in actions.itertuples(index=False):
        prior = float(priors[cell.level])
        treated, control = int(cell.treated_n), int(cell.control_n)
        effective = 4 / (1 / treated + 1 / control) if treated and control else 0.0
        rate = cell.control_churn_rate
        measured = cell.uplift / rate if np.isfinite(cell.uplift) and np.isfinite(rate) and rate > 0 else np.nan
        counts = bool(save_rate_measured(treated, control, measured))
        used = shrunk_save_rate(measured, effective, prior, strength) if counts else prior
        rows.append({
            "action": cell.level, "prior": prior, "measured": measured, "used": float(np.clip(used, 0.0, 1.0)),
            "customers": treated + control, "effective_customers": round(effective, 1), "treated_n": treated,
            "control_n": control, "control_churn_rate": rate, "uplift": cell.uplift,
            "uplift_ci_low": cell.uplift_ci_low, "uplift_ci_high": cell.uplift_ci_high,
        })
    columns = ["action", "prior", "measured", "used", "customers", "effective_customers", "treated_n", "control_n",
               "control_churn_rate", "uplift", "uplift_ci_low", "uplift_ci_high"]
    return pd.DataFrame(rows, columns=columns)
