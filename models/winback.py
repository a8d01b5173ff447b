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
    ordered = value.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    total = float(ordered.clip(lower=0).sum())
    if total <= 0:
        return pd.Series("C", index=value.index, name="value_tier")
    before = (ordered.clip(lower=0).cumsum() - ordered.clip(lower=0)) / total
    tier = np.where(before < cuts[0], "A", np.where(before < cuts[1], "B", "C"))
    return pd.Series(tier, index=ordered.index, name="value_tier").reindex(value.index)


def rank_by_value_at_risk(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by value_at_risk (highest first), ties by customer_id, with a 1-based ``rank`` column first."""
    ranked = frame.sort_values(["value_at_risk", "customer_id"], ascending=[False, True], kind="stable")
    ranked = ranked.reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def _stable_uniform(customer_ids: pd.Series, salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per customer, fixed by (customer_id, salt) whatever else is in the list."""
    hashed = pd.util.hash_pandas_object(customer_ids.astype("str") + "|" + salt, index=False).to_numpy()
    return hashed / np.float64(2**64)


def control_group(customer_ids: pd.Series, tiers: pd.Series, share: float, as_of: pd.Timestamp) -> np.ndarray:
    """Seeded by the as-of date: in each tier, the round(share x n) customers with the lowest stable draw."""
    draw = pd.Series(_stable_uniform(customer_ids, as_of.strftime("%Y-%m-%d")), index=customer_ids.index)
    position = draw.groupby(tiers.to_numpy()).rank(method="first")
    tier_size = tiers.map(tiers.value_counts())
    return (position <= np.round(share * tier_size)).to_numpy()


def target_flags(n_rows: int, *, fraction: float | None, size: int | None) -> np.ndarray:
    """True for the first rows of the ranked list: ``size`` rows when given, else ``fraction`` of the rows."""
    count = size if size is not None else int(round((fraction or 0.0) * n_rows))
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
    tier = tiers.to_numpy()
    actions = np.array([playbook.default[t] for t in TIERS], dtype=object)[pd.Index(TIERS).get_indexer(tier)]
    for family in reversed(playbook.priority):
        if family in has_family.columns and family in playbook.actions:
            per_tier = np.array([playbook.actions[family][t] for t in TIERS], dtype=object)
            chosen = has_family[family].to_numpy(dtype=bool)
            actions = np.where(chosen, per_tier[pd.Index(TIERS).get_indexer(tier)], actions)
    low_risk = np.isin(tier, playbook.low_risk_tiers) & (churn_probability.to_numpy() < playbook.low_risk_probability)
    return np.where(low_risk, playbook.low_risk_action, actions)
