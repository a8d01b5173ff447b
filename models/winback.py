"""The win-back list: ABC value tiers, value at risk, ranking, the playbook action, control group and target flag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TIERS = ("A", "B", "C")


def value_tiers(value: pd.Series, cuts: tuple[float, float]) -> pd.Series:
    """A = customers holding the top ``cuts[0]`` of total value, B the next up to ``cuts[1]``, C the rest.

    Customers are taken by value, highest first (ties by index); a customer is in A while the value of the
    customers ranked before them is below cuts[0] of the total. Zero total value: everybody is C.
    """
    amounts = value.to_numpy(dtype="float64")
    positive = np.nan_to_num(np.clip(amounts, 0, None))  # a missing value holds nothing and ranks last: C
    total = float(positive.sum())
    if total <= 0:
        return pd.Series("C", index=value.index, name="value_tier")
    order = np.lexsort((_sort_positions(value.index), -amounts))
    before = (np.cumsum(positive[order]) - positive[order]) / total
    tier = np.empty(len(amounts), dtype=object)
    tier[order] = np.where(before < cuts[0], "A", np.where(before < cuts[1], "B", "C"))
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


def rank_by_value_at_risk(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by value_at_risk (highest first), ties by customer_id, with a 1-based ``rank`` column first."""
    order = np.lexsort(
        (_sort_positions(frame["customer_id"]), -frame["value_at_risk"].to_numpy(dtype="float64"))
    )
    ranked = frame.take(order).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def _stable_uniform(customer_ids: pd.Series, salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per customer, fixed by (customer_id, salt) whatever else is in the list."""
    hashed = pd.util.hash_pandas_object(customer_ids.astype("str") + "|" + salt, index=False).to_numpy()
    return hashed / np.float64(2**64)


def control_group(customer_ids: pd.Series, tiers: pd.Series, share: float, as_of: pd.Timestamp) -> np.ndarray:
    """Seeded by the as-of date: in each tier, the round(share x n) customers with the lowest stable draw
    (equal draws by position)."""
    draw = _stable_uniform(customer_ids, as_of.strftime("%Y-%m-%d"))
    tier_codes, _ = pd.factorize(tiers.to_numpy())
    chosen = np.zeros(len(draw), dtype=bool)
    for code in range(tier_codes.max(initial=-1) + 1):
        members = np.flatnonzero(tier_codes == code)
        first = members[np.argsort(draw[members], kind="stable")]
        chosen[first[: int(np.round(share * len(members)))]] = True
    return chosen


def target_flags(n_rows: int, *, fraction: float | None, size: int | None) -> np.ndarray:
    """True for the first rows of the ranked list: ``size`` rows when given, else ``fraction`` of the rows."""
    count = size if size is not None else round((fraction or 0.0) * n_rows)
    return np.arange(n_rows) < min(count, n_rows)


@dataclass(frozen=True)
class Playbook:
    """Action by reason family and value tier; families are tried in ``priority`` order among a row's reasons."""

    priority: tuple[str, ...]
    actions: dict[str, dict[str, str]]  # family -> tier -> action
    default: dict[str, str]  # tier -> action when no reason family matches
    low_risk_probability: float
    low_risk_tiers: tuple[str, ...]
    low_risk_action: str



def recommended_actions(
    has_family: pd.DataFrame, tiers: pd.Series, churn_probability: pd.Series, playbook: Playbook
) -> np.ndarray:
    """The playbook's action per row.

    ``has_family`` holds one boolean column per reason family: True where that family is among the row's
    top reasons. Low-risk rows of the low-risk tiers get the low-risk action; otherwise the first family in
    priority order that the row has decides, and rows with none get the tier's default.
    """
    tier = pd.Categorical(tiers.to_numpy(), categories=TIERS).codes
    actions = np.array([playbook.default[t] for t in TIERS], dtype=object)[tier]
    for family in reversed(playbook.priority):
        if family in has_family.columns and family in playbook.actions:
            per_tier = np.array([playbook.actions[family][t] for t in TIERS], dtype=object)
            chosen = has_family[family].to_numpy(dtype=bool)
            actions[chosen] = per_tier[tier[chosen]]
    low_risk_tier = np.array([t in playbook.low_risk_tiers for t in TIERS])
    low_risk = low_risk_tier[tier] & (churn_probability.to_numpy() < playbook.low_risk_probability)
    actions[low_risk] = playbook.low_risk_action
    return actions


WINBACK_COLUMNS = (
    "rank", "customer_id", "churn_probability", "customer_value", "value_tier", "value_at_risk", "reasons",
    "recommended_action", "days_since_last_purchase", "last_purchase_date", "account_manager_id", "segment",
    "lifecycle_stage", "open_complaints", "control_group", "in_target", "model_version", "as_of",
)


def build_winback_list(
    scored: pd.DataFrame,
    *,
    reasons: list[str],
    has_family: pd.DataFrame,
    playbook: Playbook,
    tier_cuts: tuple[float, float],
    control_share: float,
    target_fraction: float | None,
    target_size: int | None,
    as_of: pd.Timestamp,
    model_version: str,
) -> pd.DataFrame:
    """The ranked list from scored rows.

    ``scored`` holds per customer: customer_id, churn_probability, customer_value, days_since_last_purchase,
    last_purchase_date, account_manager_id, segment, lifecycle_stage, open_complaints (one row each).
    """
    frame = scored.reset_index(drop=True).copy()
    frame["value_at_risk"] = frame["churn_probability"] * frame["customer_value"]
    frame["value_tier"] = value_tiers(pd.Series(frame["customer_value"].array, index=frame["customer_id"].array), tier_cuts).to_numpy()
    frame["reasons"] = reasons
    frame["recommended_action"] = recommended_actions(
        has_family.reset_index(drop=True), frame["value_tier"], frame["churn_probability"], playbook
    )
    frame["control_group"] = control_group(frame["customer_id"], frame["value_tier"], control_share, as_of)
    ranked = rank_by_value_at_risk(frame)
    ranked["in_target"] = target_flags(len(ranked), fraction=target_fraction, size=target_size)
    ranked["model_version"] = model_version
    ranked["as_of"] = as_of.strftime("%Y-%m-%d")
    return ranked[list(WINBACK_COLUMNS)]


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
