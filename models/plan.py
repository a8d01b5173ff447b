"""The week's contact plan: expected net value of each allowed action, channel capacities, and the control group.

Expected net value (ENV) of contacting a customer with an action = probability x the action's save rate x the
customer's value - the action's cost: the value the contact is expected to keep, net of what it costs. The
probability is the churn probability on the worklist and the reactivation probability on the lapsed list. Each
customer gets the allowed action with the highest positive ENV whose channel still has capacity this week, filled
greedily by ENV over all customers; customers contacted too recently are passed over. The planned contacts whose
arm in the campaign is control (a stable draw of customer and campaign, the same in every list of the campaign)
are held out and not contacted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numba import njit

TIERS = ("A", "B", "C")
NO_CHANNEL = "none"

# Why a row has no contact this week (see ContactPlan.status).
CONTACT, CONTROL, CAPACITY, NOT_WORTH, NOT_ELIGIBLE = "contact", "control", "capacity", "not_worth", "not_eligible"
RECENTLY_CONTACTED = "recently_contacted"


@dataclass(frozen=True)
class Action:
    """A contact the team can make: the channel it uses, its words on the list, its cost and save-rate prior."""

    name: str
    channel: str
    text: str
    cost: float
    save_rate: float


@dataclass(frozen=True)
class Playbook:
    """The actions, and which of them each reason family and value tier allows.

    ``families``: family -> tier -> action names; the first family in ``priority`` among a customer's reasons
    decides; ``default`` (tier -> names) when none does; ``lapsed`` (tier -> names) for the lapsed list.
    """

    actions: Mapping[str, Action]
    priority: tuple[str, ...]
    families: Mapping[str, Mapping[str, tuple[str, ...]]]
    default: Mapping[str, tuple[str, ...]]
    lapsed: Mapping[str, tuple[str, ...]]

    def with_save_rates(self, save_rates: Mapping[str, float]) -> Playbook:
        """The same playbook with the save rates of the named actions replaced (e.g. measured ones)."""
        unknown = set(save_rates) - set(self.actions)
        if unknown:
            raise KeyError(f"no such action: {', '.join(sorted(unknown))}")
        actions = {
            name: replace(action, save_rate=float(save_rates.get(name, action.save_rate)))
            for name, action in self.actions.items()
        }
        return replace(self, actions=actions)


def deciding_families(has_family: pd.DataFrame, priority: Sequence[str]) -> np.ndarray:
    """Per row the first family of ``priority`` that is among its reasons (``has_family``: a boolean column
    per family), else None."""
    deciding = np.full(len(has_family), None, dtype=object)
    for family in reversed(priority):
        if family in has_family.columns:
            deciding[has_family[family].to_numpy(dtype=bool)] = family
    return deciding


def allowed_actions(playbook: Playbook, families: np.ndarray, tiers: np.ndarray) -> list[tuple[str, ...]]:
    """The action names each row may get: its deciding family's (or the default) for its tier."""
    table = {(f, t): playbook.families[f][t] for f in playbook.families for t in TIERS}
    table |= {(None, t): playbook.default[t] for t in TIERS}
    return [table.get((f, t), ()) for f, t in zip(families.tolist(), tiers.tolist(), strict=True)]


def lapsed_actions(playbook: Playbook, tiers: np.ndarray) -> list[tuple[str, ...]]:
    """The win-back action names each lapsed row may get, by tier (none for a tier the playbook leaves out)."""
    return [tuple(playbook.lapsed.get(t, ())) for t in tiers.tolist()]


@dataclass(frozen=True)
class ContactPlan:
    """Per row: the planned action (None when none had a positive ENV with capacity left), its ENV, the best
    ENV of any allowed action, whether the row is held out as control, and why it is or is not contacted."""

    action: np.ndarray  # action name or None
    expected_net_value: np.ndarray  # of the planned action; else of the best allowed action (NaN: none allowed)
    control: np.ndarray
    status: np.ndarray  # CONTACT, CONTROL, CAPACITY, NOT_WORTH, NOT_ELIGIBLE or RECENTLY_CONTACTED
    blocked_channel: np.ndarray  # for CAPACITY rows: the channel of their best action, else None

    @property
    def contacted(self) -> np.ndarray:
        return self.status == CONTACT


@njit(cache=True)
def _fill_greedily(rows, channels, values, capacity, n_rows, passed_over):
    # capacity[c] < 0: unlimited. Pairs come sorted best first; a row takes its first pair with capacity left;
    # rows passed over (contacted too recently) take none.
    chosen = np.full(n_rows, -1)
    blocked = np.zeros(n_rows, dtype=np.bool_)
    left = capacity.copy()
    for k in range(rows.shape[0]):
        if values[k] <= 0.0:
            break
        row = rows[k]
        if chosen[row] >= 0 or passed_over[row]:
            continue
        channel = channels[k]
        if left[channel] == 0:
            blocked[row] = True
            continue
        chosen[row] = k
        if left[channel] > 0:
            left[channel] -= 1
    return chosen, blocked


def plan_contacts(
    allowed: Sequence[tuple[str, ...]],
    probability: np.ndarray,
    value: np.ndarray,
    playbook: Playbook,
    capacity_per_week: Mapping[str, int | None],
    *,
    order: np.ndarray,
    keys: pd.Series,
    campaign_id: str,
    control_share: float,
    recently_contacted: np.ndarray | None = None,
) -> ContactPlan:
    """Plan the week's contacts.

    ``allowed``: the action names each row may get; ``probability`` x save rate x ``value`` - cost is each
    action's ENV. Pairs are taken by ENV, highest first (equal ENV: the row first in ``order``, a tie-break
    rank per row, then the action's place in the row's list); a row gets its first pair whose channel has
    capacity left (``capacity_per_week``: channel -> contacts a week, None = unlimited); rows
    ``recently_contacted`` get none. The planned rows whose arm in ``campaign_id`` is control
    (:func:`control_arm` of ``keys``) are held out.
    """
    n = len(allowed)
    names = list(playbook.actions)
    code_of = {name: i for i, name in enumerate(names)}
    channels = sorted({a.channel for a in playbook.actions.values()})
    channel_code = np.array([channels.index(playbook.actions[name].channel) for name in names], dtype=np.int64)
    save = np.array([playbook.actions[name].save_rate for name in names])
    cost = np.array([playbook.actions[name].cost for name in names])

    lengths = np.fromiter((len(a) for a in allowed), dtype=np.int64, count=n)
    row = np.repeat(np.arange(n), lengths)
    action = np.fromiter((code_of[name] for a in allowed for name in a), dtype=np.int64, count=int(lengths.sum()))
    place = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    env = np.asarray(probability, dtype="float64")[row] * save[action] * np.asarray(value, dtype="float64")[row]
    # In cents, as the list shows them: a contact worth less than a cent is not worth it.
    env = np.round(env - cost[action], 2)
    env = np.where(np.isfinite(env), env, -np.inf)  # a missing probability or value is never worth a contact

    pairs = np.lexsort((place, np.asarray(order)[row], -env))
    capacity = np.array([_capacity(capacity_per_week, c) for c in channels], dtype=np.int64)
    passed_over = np.zeros(n, dtype=bool) if recently_contacted is None else np.asarray(recently_contacted, dtype=bool)
    chosen_pair, blocked = _fill_greedily(
        row[pairs], channel_code[action[pairs]], env[pairs], capacity, n, passed_over
    )

    best_pair = np.full(n, -1)
    with_pairs, first = np.unique(row[pairs], return_index=True)  # each row's first pair in ENV order: its best
    best_pair[with_pairs] = pairs[first]
    planned = chosen_pair >= 0
    action_name = np.full(n, None, dtype=object)
    action_name[planned] = np.array(names, dtype=object)[action[pairs[chosen_pair[planned]]]]
    value_out = np.full(n, np.nan)
    value_out[with_pairs] = env[pairs[first]]
    value_out[planned] = env[pairs[chosen_pair[planned]]]
    value_out[~np.isfinite(value_out)] = np.nan

    control = planned & control_arm(keys, campaign_id, control_share)
    status = np.full(n, NOT_WORTH, dtype=object)
    status[lengths == 0] = NOT_ELIGIBLE
    status[blocked & ~planned] = CAPACITY
    status[passed_over] = RECENTLY_CONTACTED
    status[planned] = CONTACT
    status[control] = CONTROL
    blocked_channel = np.full(n, None, dtype=object)
    capacity_rows = status == CAPACITY
    blocked_channel[capacity_rows] = np.array(channels, dtype=object)[channel_code[action[best_pair[capacity_rows]]]]
    return ContactPlan(action_name, value_out, control, status, blocked_channel)


def _capacity(capacity_per_week: Mapping[str, int | None], channel: str) -> int:
    limit = capacity_per_week.get(channel)
    return -1 if limit is None else int(limit)


def stable_uniform(keys: pd.Series, salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per key, fixed by (key, salt) whatever else is in the list."""
    hashed = pd.util.hash_pandas_object(keys.astype("str") + "|" + salt, index=False).to_numpy()
    return hashed / np.float64(2**64)


def control_arm(keys: pd.Series, campaign_id: str, share: float) -> np.ndarray:
    """True for the keys whose arm in the campaign is control: their stable draw of (key, campaign id) lies below
    ``share``. A property of (customer, campaign), the same in every list of the campaign whoever else is on it;
    the share holds in expectation, in every stratum alike."""
    return stable_uniform(pd.Series(keys).reset_index(drop=True), campaign_id) < share
