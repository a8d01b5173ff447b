"""A retention campaign run inside the synthetic world, with a known true effect (pure: no file I/O, no clock).

Over the last campaign period whose weekly lists all have their outcome window inside the history, the simulated
team lists the active customers every week and plans contacts by its own rule: each customer's risk from the
latent state at the as-of date (the chance they already left silently, from the hazard on the days of silence
since their last purchase, and otherwise of no purchase over the horizon at the day's rate and hazard held
constant), their latent value (expected margin over the horizon), a playbook-like action by value tier and
dominant driver (an open complaint, a departed account manager, a decline phase, else care), planned by
expected net value within the weekly capacities (:func:`models.plan.plan_contacts`, the pipeline's planner, with
its persistent arms: control iff the stable draw of (customer_id, campaign id) lies below the control share).
Customers contacted in the cooldown are passed over, as the pipeline does.

The team works each customer once per campaign, at their first week in the target: a treated customer is
contacted with the channel's compliance (the others are planned but never reached), a control customer with a
small contamination (an owner who calls anyway); every contact goes into the contact log. A contact on day c acts
from day c + 1 for EFFECT_DAYS days on the two parts of the law that make a customer churn: it multiplies the
daily hazard of leaving for good by exp(hazard effect) and the purchase rate by exp(rate effect), each by the
driver, the channel and the tier (:func:`contact_effect`): a call about an open complaint or from the new
account manager mostly keeps the customer from leaving, a call to a declining customer mostly brings an order; an
email does a fraction of what a call does, and a canned email about an open complaint raises the hazard.

A contacted customer lives on by the same law with the changed hazard and rate: their Exp(1) threshold (the
generator's death draw) is drawn again given the death day it gave (on its truncated interval), so the new death
day follows the new hazard exactly and nothing before the contact changes; purchases of a longer life are drawn
(Poisson at the day's rate), those after a shorter one dropped, and a higher rate adds Poisson purchases at the
difference (a sum of Poisson draws is Poisson at the sum of the rates). The tables are those of the world
without the campaign, less what a shorter life no longer holds, plus what the added purchases and days show
(:func:`pipeline.synthetic.observed_world` with the LifeChanges): outside the contacted customers' lives after
their contact, the campaign world is the world as it was.

The truth, per customer at their first appearance (its as-of date T and horizon H): P0 and P1, the exact
probabilities of no purchase in [T, T + H) without and with their contact, given that they are there at T
(:func:`pipeline.oracle.no_purchase_probability` on the latent paths; 1 for a customer already gone); their
intention-to-treat effect is (compliance - contamination) x (P0 - P1). Means over a list's first appearances
(and over the campaign's) by action and tier are the true uplifts the evaluation estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.campaign import campaign_period
from models.owners import customer_owners
from models.plan import Action, Playbook, allowed_actions, plan_contacts
from models.winback import EXTRA_COLUMNS, LAPSED_COLUMNS, WINBACK_COLUMNS, plan_columns, value_tiers
from pipeline.oracle import no_purchase_probability
from pipeline.synthetic import (
    DAY_NS,
    HISTORY_END,
    HISTORY_START,
    MANAGER_LEFT_DAYS,
    MARGIN_RATE_B2B,
    N_DAYS,
    SEGMENTS,
    LatentWorld,
    LifeChanges,
    World,
    observed_world,
    seasonal_hazard,
)

CAMPAIGN_STREAM = 19  # the campaign's own random stream: the world's draws stay as they are up to the lives
MARGIN_RATE_B2C = 0.30  # the configuration's default margin (B2B customers carry their own)
DRIVERS = ("open_complaint", "account_manager", "decline")  # in priority order; none of them: care
FAMILY_OF_DRIVER = {"open_complaint": "open_complaint", "account_manager": "introduction", "decline": "decline",
                    "care": "care"}
SUFFIX = {"senior_manager_call": "senior_call", "account_manager_call": "call", "email": "email"}
TIER_CHANNELS = {"A": ("senior_manager_call", "account_manager_call", "email"),
                 "B": ("account_manager_call", "email"), "C": ("email",)}
DRIVER_WORDS = {"open_complaint": "an open complaint", "account_manager": "their account manager left recently",
                "decline": "buying less and less", "care": "no single reason"}
CODES = {"open_complaint": "open_complaint", "account_manager": "account_manager", "decline": "decline", "care": ""}

# The true effect of a contact, as log multipliers of the daily hazard of leaving and of the purchase rate:
# -/+ strength(driver) x reach(channel) x response(tier); a canned email about an open complaint adds to the hazard.
HAZARD_STRENGTH = {"open_complaint": 1.5, "account_manager": 1.2, "decline": 0.6, "care": 0.4}
RATE_STRENGTH = {"open_complaint": 0.2, "account_manager": 0.3, "decline": 0.9, "care": 0.6}
CHANNEL_REACH = {"senior_manager_call": 1.0, "account_manager_call": 0.7, "email": 0.25}
TIER_RESPONSE = {"A": 1.0, "B": 0.85, "C": 0.7}
EMAIL_ABOUT_OPEN_COMPLAINT = 0.6  # added to the hazard's log multiplier: the email annoys more than it helps
EFFECT_DAYS = 90
COMPLIANCE = {"senior_manager_call": 0.9, "account_manager_call": 0.75, "email": 0.85}  # planned contacts made
CONTAMINATION = 0.03  # control customers contacted all the same
CONTACT_DELAY_DAYS = 5  # a planned contact is made on a uniform day of the first five of the list's week
CHUNK = 1024  # customers whose whole lives are recomputed at once


@dataclass(frozen=True)
class CampaignSimulation:
    """What the simulated team plans with: the campaign periods, the control share, the churn definition, the
    cooldown after a contact, the value tiers, the weekly capacities and each action's (cost, save-rate prior)."""

    name: str
    weeks: int
    start: pd.Timestamp
    control_share: float
    horizon_days: int
    active_window_days: int
    cooldown_days: int
    tier_cuts: tuple[float, float]
    tier_max_shares: tuple[float, float]
    capacity_per_week: Mapping[str, int | None]
    actions: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class CampaignWorld:
    """A world with a campaign: its tables (contacts included) and truth (campaign_effects: the true uplifts;
    campaign_customers: each customer's at their first list; campaign_contacts: each contact's multipliers), and
    the weekly lists as (as-of date, worklist rows, lapsed rows, manifest facts)."""

    world: World
    lists: list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame, dict]]


def generate_campaign_world(latent: LatentWorld, settings: CampaignSimulation) -> CampaignWorld:
    """Run the campaign in ``latent`` and draw the tables from the lives it changed."""
    simulated = _Simulation(latent, settings)
    simulated.run()
    added = (np.concatenate(simulated.added_buyer), np.concatenate(simulated.added_day))
    world = observed_world(latent, LifeChanges(simulated.death_day, added, simulated.rng))
    tables = {**world.tables, "contacts": simulated.contact_log()}
    truth = {**world.truth, "campaign_effects": simulated.true_effects(),
             "campaign_customers": simulated.true_customers(), "campaign_contacts": simulated.contact_effects()}
    return CampaignWorld(World(tables, truth), simulated.lists)


def simulated_period(settings: CampaignSimulation):
    """The latest campaign period whose every weekly list (from its first day, a week apart) has its horizon
    inside the history."""
    last_as_of = HISTORY_END - pd.Timedelta(days=settings.horizon_days)
    return campaign_period(last_as_of - pd.Timedelta(days=7 * (settings.weeks - 1)), name=settings.name,
                           weeks=settings.weeks, start=settings.start)


def contact_effect(driver: str, channel: str, tier: str) -> tuple[float, float]:
    """The log multipliers a contact puts on the hazard of leaving (negative: it keeps customers) and on the
    purchase rate (positive: it brings orders)."""
    weight = CHANNEL_REACH[channel] * TIER_RESPONSE[tier]
    harm = EMAIL_ABOUT_OPEN_COMPLAINT if (driver, channel) == ("open_complaint", "email") else 0.0
    return harm - HAZARD_STRENGTH[driver] * weight, 0.0 if harm else RATE_STRENGTH[driver] * weight


def action_name(driver: str, channel: str) -> str:
    return f"{FAMILY_OF_DRIVER[driver]}_{SUFFIX[channel]}"


def campaign_playbook(actions: Mapping[str, tuple[float, float]]) -> Playbook:
    """The team's playbook: by driver and tier the channels of TIER_CHANNELS; costs and priors from ``actions``."""
    names = {action_name(d, ch): (d, ch) for d in (*DRIVERS, "care") for ch in SUFFIX}
    missing = sorted(set(names) - set(actions))
    if missing:
        raise ValueError(f"the campaign needs a cost and save rate for the actions {', '.join(missing)}")
    book = {name: Action(name, channel, f"{channel.replace('_', ' ').capitalize()}: {DRIVER_WORDS[driver]}",
                         *actions[name]) for name, (driver, channel) in names.items()}

    def by_tier(driver: str) -> dict[str, tuple[str, ...]]:
        return {tier: tuple(action_name(driver, ch) for ch in channels) for tier, channels in TIER_CHANNELS.items()}

    return Playbook(actions=book, priority=DRIVERS, families={d: by_tier(d) for d in DRIVERS},
                    default=by_tier("care"), lapsed={})


def dense_paths(paths: tuple[np.ndarray, ...], customers: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """Daily rate and hazard of ``customers`` (numbers) on days [lo, hi) from the run-length paths (0 before a
    customer's start)."""
    run_customer, start, end, rate, hazard = paths
    first = np.searchsorted(run_customer, customers, side="left")
    counts = np.searchsorted(run_customer, customers, side="right") - first
    row = np.repeat(np.arange(len(customers)), counts)
    runs = np.repeat(first, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    a, b = np.clip(start[runs], lo, hi) - lo, np.clip(end[runs], lo, hi) - lo
    keep = b > a
    row, runs, a, length = row[keep], runs[keep], a[keep], (b - a)[keep]
    width = hi - lo
    cell = np.repeat(row * width + a, length) + np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    daily_rate, daily_hazard = np.zeros(len(customers) * width), np.zeros(len(customers) * width)
    daily_rate[cell], daily_hazard[cell] = np.repeat(rate[runs], length), np.repeat(hazard[runs], length)
    return daily_rate.reshape(-1, width), daily_hazard.reshape(-1, width)


LOG_COLUMNS = ["customer", "day", "seconds", "channel", "action", "hazard_effect", "rate_effect", "outcome"]


def _factors(days: np.ndarray, contact_day: np.ndarray, effect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per contacted row and day: the hazard and rate multipliers, in force from the day after the contact for
    EFFECT_DAYS days (``effect``: rows of (hazard, rate) log multipliers)."""
    since = days[None, :] - contact_day[:, None]
    acting = (since >= 1) & (since <= EFFECT_DAYS)
    return (np.where(acting, np.exp(effect[:, :1]), 1.0), np.where(acting, np.exp(effect[:, 1:]), 1.0))


def _capped(hazard: np.ndarray) -> np.ndarray:
    return np.minimum(hazard, 1.0)


class _Simulation:
    """The campaign week by week: the state of the world (death days, purchases, contacts) as it changes."""

    def __init__(self, latent: LatentWorld, settings: CampaignSimulation):
        self.latent, self.settings = latent, settings
        self.rng = np.random.default_rng([latent.seed, CAMPAIGN_STREAM])
        self.period = simulated_period(settings)
        self.death_day = latent.death_day.copy()
        self.buyer, self.buy_day = (a.copy() for a in latent.purchases)
        self.added_buyer, self.added_day = [np.array([], dtype=np.int64)], [np.array([], dtype=np.int64)]
        pop = latent.pop
        self.season = latent.calendar[["seasonality_B2C", "seasonality_B2B"]].to_numpy().T[pop.segment]
        margin = np.where(pop.segment == 1, MARGIN_RATE_B2B, MARGIN_RATE_B2C)
        self.value = pop.wallet * pop.share_of_wallet * settings.horizon_days / 365 * margin
        self.playbook = campaign_playbook(settings.actions)
        self.last_contact = np.full(pop.n, -np.inf)
        self.in_campaign = np.zeros(pop.n, dtype=bool)
        self.lists: list = []
        self.contacts: list[dict] = []
        self.firsts: list[pd.DataFrame] = []
        ids = latent.customer_ids
        managers = latent.account_managers["account_manager_id"].to_numpy(dtype=object)
        self.manager_id = pd.Series(np.where(latent.manager_of >= 0, managers[np.maximum(latent.manager_of, 0)], None),
                                    index=ids, dtype="str")

    def dying(self, hazard: np.ndarray, lo: int) -> np.ndarray:
        """The day's hazard of leaving as the generator draws it (with the yearly factor of a seasonal world)."""
        season = self.latent.churn_season
        return hazard if season is None else seasonal_hazard(hazard, season[None, lo: lo + hazard.shape[1]])

    def run(self) -> None:
        for week in range(self.settings.weeks):
            self.week(int((self.period.start - HISTORY_START).days) + 7 * week)

    def week(self, t: int) -> None:
        s, latent = self.settings, self.latent
        as_of = HISTORY_START + pd.Timedelta(days=t)
        last_buy = np.full(latent.pop.n, -1)
        before = self.buy_day < t
        np.maximum.at(last_buy, self.buyer[before], self.buy_day[before])
        active = np.flatnonzero((last_buy >= t - s.active_window_days) & (last_buy >= 0))
        ids = pd.Series(latent.customer_ids[active], dtype="str")
        risk = self.risk(active, last_buy[active], t)
        value = self.value[active]
        tiers = value_tiers(pd.Series(value, index=ids.array), s.tier_cuts, s.tier_max_shares).to_numpy()
        driver = self.drivers(active, t)
        allowed = allowed_actions(self.playbook, np.where(driver == "care", None, driver).astype(object), tiers)
        since = t - self.last_contact[active]
        recent = since <= s.cooldown_days
        plan = plan_contacts(allowed, risk, value, self.playbook, dict(s.capacity_per_week),
                             order=np.arange(len(active)), keys=ids, campaign_id=self.period.id,
                             control_share=s.control_share, recently_contacted=recent)
        self.lists.append(self.list_rows(as_of, active, ids, risk, value, tiers, driver, plan,
                                         np.where(recent, since, np.nan), t - last_buy[active]))
        planned = plan.contacted | plan.control
        new = planned & ~self.in_campaign[active]
        self.enter(t, as_of, active[new], plan.action[new].astype(str), driver[new], tiers[new], plan.control[new])

    def risk(self, customers: np.ndarray, last_buy: np.ndarray, t: int) -> np.ndarray:
        """P(no purchase in [t, t + H)) from the state at t: left silently since the last purchase (Bayes on the
        days of silence), else no purchase over H days at the last day's rate and hazard."""
        window = self.settings.active_window_days
        rate, hazard = dense_paths(self.latent.paths, customers, t - window, t)
        season = self.season[customers, t - window: t]
        dying = self.dying(hazard, t - window)
        silent = np.arange(t - window, t)[None, :] > last_buy[:, None]
        keep = np.where(silent, (1 - dying) * np.exp(-rate * season), 1.0)
        alive = np.cumprod(keep, axis=1)
        left = (np.hstack([np.ones((len(customers), 1)), alive[:, :-1]]) * np.where(silent, dying, 0.0)).sum(axis=1)
        there = alive[:, -1] / (alive[:, -1] + left)
        h = self.settings.horizon_days
        ahead = self.season[customers, t: t + h] * rate[:, -1:]
        quiet = no_purchase_probability(ahead, np.broadcast_to(dying[:, -1:], ahead.shape))
        return (1 - there) + there * quiet

    def drivers(self, customers: np.ndarray, t: int) -> np.ndarray:
        """Each customer's dominant driver at t, in the priority of DRIVERS: a complaint open at t, an account
        manager who left in the MANAGER_LEFT_DAYS before t, a decline phase under way; else care."""
        latent = self.latent
        complaints = latent.complaints
        open_now = complaints[(complaints["opened"] < t) & (complaints["resolved"] >= t)]["customer"].to_numpy()
        left_day = np.where(latent.manager_of >= 0, latent.am_departed_day[np.maximum(latent.manager_of, 0)], np.inf)
        flags = {
            "open_complaint": np.isin(customers, open_now),
            "account_manager": (left_day[customers] < t) & (left_day[customers] >= t - MANAGER_LEFT_DAYS),
            "decline": latent.decline_day[customers] < t,
        }
        driver = np.full(len(customers), "care", dtype=object)
        for name in reversed(DRIVERS):
            driver[flags[name]] = name
        return driver

    def list_rows(self, as_of, active, ids, risk, value, tiers, driver, plan, since_contact, days_since_buy):
        """The week's worklist in the rows `churn score` writes (no model inputs; no lapsed list)."""
        latent = self.latent
        columns = plan_columns(plan, self.playbook, self.period.id, since_contact)
        owners = customer_owners(self.manager_id.iloc[active].reset_index(drop=True), latent.account_managers, as_of)
        complaints = latent.complaints
        open_count = np.bincount(complaints.loc[(complaints["opened"] < (as_of - HISTORY_START).days)
                                                & (complaints["resolved"] >= (as_of - HISTORY_START).days),
                                                "customer"].to_numpy(), minlength=latent.pop.n)[active]
        rows = pd.DataFrame({
            "customer_id": ids, "churn_probability": np.round(risk, 4), "customer_value": np.round(value, 2),
            "value_tier": tiers, "value_at_risk": np.round(risk * value, 2),
            **{name: columns[name].array for name in ("expected_net_value", "action_channel", "recommended_action",
                                                       "in_target", "control_group")},
            "owner_id": owners["owner_id"].array, "owner_status": pd.array(owners["owner_status"], dtype="str"),
            "reasons": pd.array([DRIVER_WORDS[d] for d in driver], dtype="str"),
            "reason_codes": pd.array([CODES[d] for d in driver], dtype="str"),
            "new_this_week": pd.array([None] * len(active), dtype="boolean"), "risk_change": np.nan,
            "days_since_last_purchase": days_since_buy.astype(int),
            "last_purchase_date": pd.array((as_of - pd.to_timedelta(days_since_buy, unit="D")).strftime("%Y-%m-%d"),
                                           dtype="str"),
            "segment": pd.array(np.array(SEGMENTS)[latent.pop.segment[active]], dtype="str"),
            "lifecycle_stage": pd.array([None] * len(active), dtype="str"), "open_complaints": open_count,
            "model_version": "simulated", "as_of": f"{as_of:%Y-%m-%d}",
            "action_id": columns["action_id"].array,
            "account_manager_id": pd.array(self.manager_id.iloc[active].to_numpy(), dtype="str"),
        })
        first = rows["in_target"].to_numpy()
        key = np.where(first, rows["expected_net_value"], rows["value_at_risk"])
        order = np.lexsort((np.arange(len(rows)), -np.nan_to_num(key, nan=-np.inf), ~first))
        rows = rows.take(order).reset_index(drop=True)
        rows.insert(0, "rank", np.arange(1, len(rows) + 1))
        lapsed = pd.DataFrame({name: pd.Series([], dtype="object") for name in (*LAPSED_COLUMNS, *EXTRA_COLUMNS)})
        facts = {"as_of": f"{as_of:%Y-%m-%d}", "model_version": "simulated (churn generate --campaigns)",
                 "campaign_id": self.period.id, "campaign_start": f"{self.period.start:%Y-%m-%d}",
                 "campaign_end": f"{self.period.end:%Y-%m-%d}", "control_share": self.settings.control_share,
                 "horizon_days": self.settings.horizon_days, "active_window_days": self.settings.active_window_days}
        return as_of, rows[[*WINBACK_COLUMNS, *EXTRA_COLUMNS]], lapsed, facts

    def enter(self, t, as_of, customers, actions, drivers, tiers, control) -> None:
        """Customers entering the campaign at t: their contacts (by compliance, or contamination), their truth,
        then the lives the contacts change."""
        n = len(customers)
        channel = np.array([self.playbook.actions[a].channel for a in actions], dtype=object)
        effect = np.array([contact_effect(d, ch, tier) for d, ch, tier in zip(drivers, channel, tiers, strict=True)],
                          dtype=float).reshape(n, 2)
        contact_day = t + self.rng.integers(0, CONTACT_DELAY_DAYS, n)
        reach = np.array([COMPLIANCE[ch] for ch in channel])
        contacted = self.rng.random(n) < np.where(control, CONTAMINATION, reach)
        p0, p1 = self.window_probabilities(customers, t, contact_day, effect)
        self.in_campaign[customers] = True
        self.firsts.append(pd.DataFrame({
            "customer_id": self.latent.customer_ids[customers], "as_of": as_of, "action": actions, "value_tier": tiers,
            "control": control, "contacted": contacted, "p0": p0, "p1": p1,
            "itt": (reach - CONTAMINATION) * (p0 - p1),
        }))
        seconds = self.rng.uniform(9 * 3600, 17 * 3600, n)
        for i in np.flatnonzero(contacted):
            self.contacts.append({
                "customer": customers[i], "day": contact_day[i], "seconds": seconds[i], "channel": channel[i],
                "action": actions[i], "hazard_effect": effect[i, 0], "rate_effect": effect[i, 1],
                "outcome": "sent" if channel[i] == "email" else "reached",
            })
        self.last_contact[customers[contacted]] = contact_day[contacted]
        self.relive(customers[contacted], contact_day[contacted], effect[contacted])

    def window_probabilities(self, customers, t, contact_day, effect) -> tuple[np.ndarray, np.ndarray]:
        """P(no purchase in [t, t + H)) without and with the contact, for customers there at t (1 if gone)."""
        h = self.settings.horizon_days
        rate, hazard = dense_paths(self.latent.paths, customers, t, t + h)
        dying = self.dying(hazard, t)
        ahead = rate * self.season[customers, t: t + h]
        hazard_factor, rate_factor = _factors(np.arange(t, t + h), contact_day, effect)
        there = self.death_day[customers] >= t
        p0, p1 = np.ones(len(customers)), np.ones(len(customers))
        p0[there] = no_purchase_probability(ahead[there], dying[there])
        p1[there] = no_purchase_probability((ahead * rate_factor)[there], _capped(dying * hazard_factor)[there])
        return p0, p1

    def relive(self, customers: np.ndarray, contact_day: np.ndarray, effect: np.ndarray) -> None:
        """New death days and purchases of contacted customers: the same law with the changed hazard and rate."""
        for first in range(0, len(customers), CHUNK):
            who, day, log_mult = (a[first: first + CHUNK] for a in (customers, contact_day, effect))
            rate, hazard = dense_paths(self.latent.paths, who, 0, N_DAYS)
            dying = self.dying(hazard, 0)
            cumulative = np.cumsum(-np.log1p(-dying), axis=1)
            rows = np.arange(len(who))
            was = self.death_day[who]
            below = np.where(was > 0, cumulative[rows, np.maximum(was - 1, 0)], 0.0)
            above = np.where(was < N_DAYS, cumulative[rows, np.minimum(was, N_DAYS - 1)], np.inf)
            # The generator's threshold given the death day it gave: Exp(1) truncated to (below, above].
            u = self.rng.random(len(who))
            threshold = below - np.log1p(-u * -np.expm1(-(above - below)))
            hazard_factor, rate_factor = _factors(np.arange(N_DAYS), day, log_mult)
            changed = np.minimum(_capped(dying * hazard_factor), 1 - 1e-12)
            now = (np.cumsum(-np.log1p(-changed), axis=1) < threshold[:, None]).sum(axis=1)
            days = np.arange(N_DAYS)[None, :]
            new_days = (days >= was[:, None]) & (days < now[:, None])
            both = days < np.minimum(was, now)[:, None]
            # Purchases: the whole new rate on days of a longer life, the rise of the rate on days lived anyway.
            extra = rate * self.season[who] * np.where(new_days, rate_factor, np.where(both, rate_factor - 1, 0.0))
            self.new_lives(who, now, self.rng.poisson(extra))

    def new_lives(self, who: np.ndarray, now: np.ndarray, added: np.ndarray) -> None:
        """Drop the purchases after each customer's new death day, add ``added`` (customers x days counts)."""
        cut = np.full(self.latent.pop.n, N_DAYS)
        cut[who] = now
        keep = self.buy_day < cut[self.buyer]
        row, day = np.nonzero(added)
        n_bought = added[row, day]
        buyer, day = np.repeat(who[row], n_bought), np.repeat(day, n_bought)
        self.added_buyer.append(buyer)
        self.added_day.append(day)
        self.buyer = np.concatenate([self.buyer[keep], buyer])
        self.buy_day = np.concatenate([self.buy_day[keep], day])
        self.death_day[who] = now

    def contact_log(self) -> pd.DataFrame:
        log = pd.DataFrame(self.contacts, columns=LOG_COLUMNS)
        log = log.sort_values(["day", "seconds", "customer"], kind="stable")
        stamps = (np.datetime64(HISTORY_START, "ns") + log["day"].to_numpy(dtype=np.int64) * np.timedelta64(DAY_NS, "ns")
                  + np.round(log["seconds"].to_numpy(dtype=float)).astype(np.int64) * np.timedelta64(10**9, "ns"))
        return pd.DataFrame({
            "customer_id": pd.array(self.latent.customer_ids[log["customer"].to_numpy(dtype=np.int64)], dtype="str"),
            "contacted_at": stamps,
            "channel": pd.array(log["channel"].to_numpy(dtype=object), dtype="str"),
            "action": pd.array(log["action"].to_numpy(dtype=object), dtype="str"),
            "campaign_id": pd.array([self.period.id] * len(log), dtype="str"),
            "outcome": pd.array(log["outcome"].to_numpy(dtype=object), dtype="str"),
        })

    def contact_effects(self) -> pd.DataFrame:
        """Per contact: the customer, the days [from, to) its multipliers hold, and the multipliers."""
        log = pd.DataFrame(self.contacts, columns=LOG_COLUMNS)
        first = HISTORY_START + pd.to_timedelta(log["day"].to_numpy(dtype=np.int64) + 1, unit="D")
        return pd.DataFrame({
            "customer_id": pd.array(self.latent.customer_ids[log["customer"].to_numpy(dtype=np.int64)], dtype="str"),
            "from": first, "to": first + pd.Timedelta(days=EFFECT_DAYS),
            "hazard_multiplier": np.exp(log["hazard_effect"].to_numpy(dtype=float)),
            "rate_multiplier": np.exp(log["rate_effect"].to_numpy(dtype=float)),
        })

    def true_customers(self) -> pd.DataFrame:
        """Per customer at their first list: the action and tier, the arm, whether contacted, P0 and P1 (no
        purchase in the horizon without and with the contact) and the intention-to-treat effect."""
        firsts = pd.concat(self.firsts, ignore_index=True)
        return firsts.assign(arm=np.where(firsts["control"], "control", "treated"))[
            ["customer_id", "as_of", "action", "value_tier", "arm", "contacted", "p0", "p1", "itt"]]

    def true_effects(self) -> pd.DataFrame:
        """The true intention-to-treat uplift (and the effect on the contacted) per list and for the campaign,
        overall, by action and by tier, over the customers entering the campaign there."""
        firsts = pd.concat(self.firsts, ignore_index=True)
        rows = []
        for as_of, members in [*firsts.groupby("as_of", sort=True), ("all", firsts)]:
            label = as_of if isinstance(as_of, str) else f"{as_of:%Y-%m-%d}"
            for group, column in (("overall", None), ("action", "action"), ("value_tier", "value_tier")):
                cells = [("all", members)] if column is None else members.groupby(column, sort=True)
                for level, cell in cells:
                    rows.append({"campaign_id": self.period.id, "as_of": label, "group": group, "level": level,
                                 "customers": len(cell), "true_uplift": cell["itt"].mean(),
                                 "true_effect_on_contacted": (cell["p0"] - cell["p1"]).mean()})
        return pd.DataFrame(rows)
