"""The as-of oracle: P(no purchase in the window | all that exists at as_of), averaged over drawn futures.

Hand-made one-customer truths on the generator's calendar (seasonality 1) give closed forms, or exact
expectations over the few random things left after as_of; a generated world checks that the oracle rebuilds
the generator's law (the realised future reproduces the truth's paths), reads what the paths show, ignores
the realised future, and is calibrated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from features import make_tables
from pipeline.oracle import (
    _complaint_days,
    _known_at,
    _replicated,
    _resolve_open_complaints,
    _window_paths,
    _window_rate_and_hazard,
    as_of_no_purchase_probability,
    true_no_purchase_probability,
)
from pipeline.synthetic import (
    DECLINE_ADDED_HAZARD,
    DECLINE_AFTER_BAD_RESOLUTION,
    DECLINE_AFTER_MANAGER_LEFT,
    DECLINE_RATE_MULTIPLIER,
    DECLINE_STEP_DAYS,
    HISTORY_END,
    HISTORY_START,
    MANAGER_DEPARTURE_DAYS,
    MANAGER_DEPARTURE_PROBABILITY,
    MANAGER_KEPT_DAYS,
    MANAGER_LEFT_DAYS,
    MANAGER_LEFT_HAZARD,
    N_DAYS,
    SATISFACTION_HAZARD,
    UNRESOLVED_FACTOR,
    generate_world,
)

DAY = pd.Timedelta(days=1)
AS_OF = pd.Timestamp("2025-03-03")
T0 = (AS_OF - HISTORY_START).days
H = 90
RATE, HAZARD = 0.02, 0.002


# --- hand-made truths ---------------------------------------------------------------------------------------


def hand_made(people: list[dict], paths=None, complaints=None, managers=None, purchases=None):
    """(truth, tables) of a few B2C customers on the generator's calendar with seasonality 1.

    Defaults: signed up long before history (no short-tenure effect), base rate RATE and hazard HAZARD, no
    spontaneous decline, no complaints, not price sensitive, no manager, one purchase the day before AS_OF
    (so surely still there), a single constant path segment.
    """
    defaults = {
        "segment": "B2C",
        "signup_date": pd.Timestamp("2020-01-01"),
        "start_date": HISTORY_START,
        "base_rate": RATE,
        "base_hazard": HAZARD,
        "decline_onset_rate": 0.0,
        "promo_propensity": 0.1,
        "complaint_rate": 0.0,
        "decline_start": pd.NaT,
        "death_date": pd.NaT,
        "account_manager_id": None,
    }
    people = pd.DataFrame([{**defaults, **p} for p in people])
    ids = people["customer_id"]
    calendar = pd.DataFrame(
        {
            "date": pd.date_range(HISTORY_START, HISTORY_END - DAY, freq="D").as_unit("ns"),
            "seasonality_B2C": 1.0,
            "seasonality_B2B": 1.0,
        }
    )
    if paths is None:
        paths = pd.DataFrame(
            {
                "customer_id": ids,
                "start": people["start_date"],
                "end": HISTORY_END,
                "rate": people["base_rate"],
                "hazard": people["base_hazard"],
            }
        )
    if purchases is None:
        purchases = pd.DataFrame({"customer_id": ids, "timestamp": AS_OF - DAY / 2})
    truth = {
        "calendar": calendar,
        "customers": people.drop(columns="account_manager_id"),
        "paths": paths,
    }
    tables = make_tables(
        {
            "transactions": purchases.assign(amount=10.0),
            "customers": people[["customer_id", "signup_date", "segment", "account_manager_id"]],
            "complaints": complaints
            if complaints is not None
            else pd.DataFrame({"customer_id": [], "opened_at": []}),
            "account_managers": managers
            if managers is not None
            else pd.DataFrame({"account_manager_id": ["AM001"], "departed_at": [pd.NaT]}),
        }
    )
    return truth, tables


def silent_window(hazard: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """P(no purchase) over the window per row, by the daily recursion written out."""
    p = np.ones(len(hazard))  # P(still there and silent so far)
    done = np.zeros(len(hazard))  # P(left silently so far)
    for d in range(hazard.shape[1]):
        done += p * hazard[:, d]
        p *= (1 - hazard[:, d]) * np.exp(-rate[:, d])
    return done + p


def paths_with_decline(hazard_before: np.ndarray, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Window hazard and rate (rows x H) for a base hazard per day and a decline onset day per row (inf = none)."""
    days = T0 + np.arange(H)
    since = days[None, :] - onset[:, None]
    step = np.clip(np.nan_to_num(since, neginf=-1) // DECLINE_STEP_DAYS, 0, 3).astype(int)
    declining = since >= 0
    hazard = np.broadcast_to(hazard_before, since.shape) + np.where(
        declining, DECLINE_ADDED_HAZARD[step], 0.0
    )
    rate = RATE * np.where(declining, DECLINE_RATE_MULTIPLIER[step], 1.0)
    return hazard, rate


def constant(hazard: float, rate: float = RATE, days: int = H) -> float:
    q = (1 - hazard) * np.exp(-rate)
    return hazard * (1 - q**days) / (1 - q) + q**days


def test_constant_rate_and_hazard_with_nothing_left_to_happen_is_the_closed_form():
    truth, tables = hand_made(
        [
            {"customer_id": "C1"},
            {"customer_id": "C2"},
            {"customer_id": "C3", "account_manager_id": "AM001"},  # the first manager always stays
            {"customer_id": "C4", "signup_date": AS_OF + DAY, "start_date": AS_OF + DAY},
        ],
        purchases=pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "timestamp": [AS_OF - DAY / 2, AS_OF - 10 * DAY, AS_OF - DAY / 2],
            }
        ),
    )
    probability = as_of_no_purchase_probability(truth, tables, AS_OF, H, replications=3, seed=0)
    assert probability["C1"] == pytest.approx(constant(HAZARD), rel=1e-12)
    assert probability["C3"] == pytest.approx(constant(HAZARD), rel=1e-12)
    # C2 bought 10 days before AS_OF, then 9 silent days: still there with A / (A + D).
    q = (1 - HAZARD) * np.exp(-RATE)
    there = q**9 / (q**9 + HAZARD * (1 - q**9) / (1 - q))
    assert probability["C2"] == pytest.approx(1 - there + there * constant(HAZARD), rel=1e-12)
    assert np.isnan(probability["C4"])
    assert probability.name == "as_of_no_purchase_probability" and probability.index.name == "customer_id"


def test_a_decline_triggered_before_as_of_but_not_started_is_weighed_by_bayes_and_its_delay_drawn_beyond():
    # Resolved 40 days before AS_OF with the worst rating: may start a decline up to 60 days on.
    resolved = AS_OF - 40 * DAY + 12 * pd.Timedelta(hours=1)
    truth, tables = hand_made(
        [{"customer_id": "C1"}],
        complaints=pd.DataFrame(
            {
                "customer_id": ["C1"],
                "opened_at": [AS_OF - 45 * DAY],
                "resolved_at": [resolved],
                "severity": [1],
                "satisfaction": [1],
            }
        ),
    )
    replications = 20_000
    value = as_of_no_purchase_probability(truth, tables, AS_OF, H, replications=replications, seed=3)["C1"]
    # The rating's hazard x3 lasts 120 days from the day after. The decline would start on ceil(r + 1 + 60 U);
    # by AS_OF it has not, so U > u0 = (T0 - 2 - r) / 60: it fires w.p. p (1 - u0) / (1 - p u0), U ~ U(u0, 1).
    r = (resolved - HISTORY_START) / DAY
    days = T0 + np.arange(H)
    hazard_before = HAZARD * np.where(days < np.floor(r) + 1 + 120, SATISFACTION_HAZARD[0], 1.0)
    p, max_delay = DECLINE_AFTER_BAD_RESOLUTION
    u0 = (T0 - 2 - r) / max_delay
    fires = p * (1 - u0) / (1 - p * u0)
    onsets = np.arange(T0, T0 + max_delay)
    lo, hi = r + 1 + u0 * max_delay, r + 1 + max_delay  # the onset's continuous time is uniform on (lo, hi)
    weight = np.clip(np.minimum(onsets, hi) - np.maximum(onsets - 1, lo), 0, None) / (hi - lo)
    assert weight.sum() == pytest.approx(1.0)
    hazard, rate = paths_with_decline(hazard_before, np.append(onsets, np.inf))
    f = silent_window(hazard, rate)
    outcome_p = np.append(fires * weight, 1 - fires)
    expected = outcome_p @ f
    standard_error = np.sqrt((outcome_p @ f**2 - expected**2) / replications)
    assert value == pytest.approx(expected, abs=4 * standard_error)
    never_starts, starts_at_as_of = f[-1], f[0]
    assert starts_at_as_of - 0.05 > value > never_starts + 0.005


def test_an_open_complaint_is_resolved_beyond_its_age_by_the_generator_law():
    opened = AS_OF - 3 * DAY  # severity 1: days to resolve lognormal(log 2, 1)
    truth, tables = complaint_truth(opened, 1, shown_factor=1.5)
    known = _known_at(truth["customers"], tables, truth["paths"], T0, np.array([True]))
    assert known.open["never_probability"].iloc[0] == 0.0  # the path shows no x1.5: it will be resolved
    draws = _resolve_open_complaints(_replicated(known.open, 20_000), T0, np.random.default_rng(0))
    days_to_resolve = draws["resolved"] - (T0 - 3)
    assert (days_to_resolve >= 3).all()

    def lognormal_cdf(days):
        return ndtr(np.log(days) - np.log(2.0))

    within_two_more = (lognormal_cdf(5) - lognormal_cdf(3)) / (1 - lognormal_cdf(3))
    assert (days_to_resolve < 5).mean() == pytest.approx(within_two_more, abs=0.015)
    assert draws["satisfaction"].between(1, 5).all() and draws["satisfaction"].nunique() >= 3


def test_a_manager_still_employed_leaves_later_by_the_generator_law_given_their_customers():
    # C2 started 30 days before AS_OF with the same manager: the manager was still employed 60 days after
    # that, so cannot leave before T0 + 31.
    truth, tables = hand_made(
        [
            {"customer_id": "C1", "account_manager_id": "AM002"},
            {
                "customer_id": "C2",
                "account_manager_id": "AM002",
                "signup_date": AS_OF - 30 * DAY,
                "start_date": AS_OF - 30 * DAY,
            },
            {"customer_id": "C3", "account_manager_id": "AM001"},
        ],
        managers=pd.DataFrame({"account_manager_id": ["AM001", "AM002"], "departed_at": [pd.NaT, pd.NaT]}),
    )
    replications = 4000
    probability = as_of_no_purchase_probability(
        truth, tables, AS_OF, H, customer_ids=["C1", "C3"], replications=replications, seed=5
    )
    assert probability["C3"] == pytest.approx(constant(HAZARD), rel=1e-12)
    low, high = MANAGER_DEPARTURE_DAYS
    earliest = T0 - 30 + MANAGER_KEPT_DAYS + 1
    later = MANAGER_DEPARTURE_PROBABILITY * (high - earliest) / (high - low)
    leaves = later / (1 - MANAGER_DEPARTURE_PROBABILITY + later)
    # Departure day d uniform on [earliest, high); hazard x5 from d; a decline from ceil(d + 1 + 60 U) w.p. 0.4.
    p, max_delay = DECLINE_AFTER_MANAGER_LEFT
    departure = np.arange(earliest, T0 + H)  # later departures leave the window untouched
    days = T0 + np.arange(H)
    hazard_before = HAZARD * np.where(
        (days[None, :] >= departure[:, None]) & (days[None, :] < departure[:, None] + MANAGER_LEFT_DAYS),
        MANAGER_LEFT_HAZARD,
        1.0,
    )
    outcomes, outcome_p = [], []
    for k, d in enumerate(departure):
        onset = np.append(d + 2 + np.arange(max_delay), np.inf)  # ceil(d + 1 + 60 U): d + 2 .. d + 61
        hazard, rate = paths_with_decline(hazard_before[k], onset)
        outcomes.append(silent_window(hazard, rate))
        outcome_p.append(leaves / (high - earliest) * np.append(np.full(max_delay, p / max_delay), 1 - p))
    outcomes.append([constant(HAZARD)])
    outcome_p.append([1 - leaves * len(departure) / (high - earliest)])
    f, weight = np.concatenate(outcomes), np.concatenate(outcome_p)
    expected = weight @ f
    standard_error = np.sqrt((weight @ f**2 - expected**2) / replications)
    assert probability["C1"] == pytest.approx(expected, abs=4 * standard_error)
    # So that the check tells a possible departure from none:
    assert expected - constant(HAZARD) > 6 * standard_error


def complaint_truth(opened: pd.Timestamp, severity: int, shown_factor: float):
    """C1 with a complaint opened at ``opened``, still open in the data; from the day after, its hazard path
    shows ``shown_factor`` (1 + severity / 2, times UNRESOLVED_FACTOR if it will never be resolved)."""
    effect_from = opened.normalize() + DAY
    return hand_made(
        [{"customer_id": "C1"}],
        paths=pd.DataFrame(
            {
                "customer_id": ["C1", "C1"],
                "start": [HISTORY_START, effect_from],
                "end": [effect_from, HISTORY_END],
                "rate": RATE,
                "hazard": [HAZARD, HAZARD * shown_factor],
            }
        ),
        complaints=pd.DataFrame(
            {"customer_id": ["C1"], "opened_at": [opened], "resolved_at": [pd.NaT], "severity": [severity]}
        ),
    )


def test_a_complaint_the_path_shows_never_resolved_stays_open_through_the_window():
    opened, open_factor = AS_OF - 100 * DAY + 10 * pd.Timedelta(hours=1), 1 + 0.5 * 2
    truth, tables = complaint_truth(opened, 2, shown_factor=open_factor * UNRESOLVED_FACTOR)
    never = as_of_no_purchase_probability(truth, tables, AS_OF, H, replications=50, seed=0)["C1"]
    # Its decline trigger lies > 60 days back, so nothing random is left: constant hazard x 2 x 1.5.
    assert never == pytest.approx(constant(HAZARD * open_factor * UNRESOLVED_FACTOR), rel=1e-8)
    truth, tables = complaint_truth(opened, 2, shown_factor=open_factor)
    resolved_soon = as_of_no_purchase_probability(truth, tables, AS_OF, H, replications=50, seed=0)["C1"]
    assert abs(resolved_soon - never) > 1e-3


def test_what_an_open_complaint_path_cannot_show_is_bayes_from_the_prior_and_its_age():
    opened = AS_OF - DAY + 10 * pd.Timedelta(hours=1)  # its effect would start on AS_OF: not in any path yet
    truth, tables = hand_made(
        [{"customer_id": "C1"}],
        complaints=pd.DataFrame(
            {"customer_id": ["C1"], "opened_at": [opened], "resolved_at": [pd.NaT], "severity": [2]}
        ),
    )
    customers = truth["customers"]
    known = _known_at(customers, tables, truth["paths"], T0, np.array([True]))
    prior = 0.06 + 0.03  # never resolved, severity 2
    age = (AS_OF - opened) / DAY
    not_yet_resolved = 1 - ndtr(np.log(age) - np.log(2.0 * 1.3))  # lognormal days to resolve, sd 1
    assert known.open["never_probability"].iloc[0] == pytest.approx(
        prior / (prior + (1 - prior) * not_yet_resolved), rel=1e-9
    )


def test_refuses_unknown_customers_a_foreign_calendar_and_no_replications():
    truth, tables = hand_made([{"customer_id": "C1"}])
    with pytest.raises(ValueError, match="not in the truth"):
        as_of_no_purchase_probability(truth, tables, AS_OF, H, customer_ids=["C1", "X9"])
    with pytest.raises(ValueError, match="replications"):
        as_of_no_purchase_probability(truth, tables, AS_OF, H, replications=0)
    shifted = {**truth, "calendar": truth["calendar"].iloc[1:]}
    with pytest.raises(ValueError, match="calendar starts"):
        as_of_no_purchase_probability(shifted, tables, AS_OF, H)
    with pytest.raises(ValueError, match="inside the truth calendar"):
        as_of_no_purchase_probability(truth, tables, HISTORY_END - 10 * DAY, H)


# --- a generated world --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    """20k customers (~4 s): enough active customers for calibration bins that are not noise."""
    return generate_world(20_000, seed=5)


@pytest.fixture(scope="module")
def tables(world):
    return make_tables(world.tables)


def active_and_churned(world, as_of) -> pd.Series:
    tx = world.tables["transactions"]
    bought = tx[tx["amount"] > 0]
    ts = bought["timestamp"]
    active = bought.loc[(ts >= as_of - H * DAY) & (ts < as_of), "customer_id"].unique()
    after = bought.loc[(ts >= as_of) & (ts < as_of + H * DAY), "customer_id"].unique()
    return pd.Series(~pd.Index(active).isin(after), index=pd.Index(active, name="customer_id"))


def test_calibrated_on_active_customers(world, tables):
    churned = active_and_churned(world, AS_OF)
    probability = as_of_no_purchase_probability(
        world.truth, tables, AS_OF, H, customer_ids=churned.index, replications=50, seed=1
    ).reindex(churned.index)
    bins = pd.cut(probability, [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0], include_lowest=True)
    table = (
        pd.DataFrame({"realised": churned, "predicted": probability})
        .groupby(bins, observed=True)
        .agg(n=("realised", "size"), realised=("realised", "mean"), predicted=("predicted", "mean"))
    )
    well_filled = table[table["n"] >= 300]
    assert len(well_filled) >= 5
    assert ((well_filled["realised"] - well_filled["predicted"]).abs() <= 0.05).all(), table
    assert churned.mean() == pytest.approx(probability.mean(), abs=0.015)


def test_nothing_in_the_truth_or_tables_from_as_of_on_changes_it(world, tables):
    ids = active_and_churned(world, AS_OF).index[:1500]
    before = as_of_no_purchase_probability(
        world.truth, tables, AS_OF, H, customer_ids=ids, replications=10, seed=2
    )

    customers = world.truth["customers"]
    later_decline = customers["decline_start"] >= AS_OF
    paths = world.truth["paths"]
    after_as_of = paths["start"] >= AS_OF
    truth = {
        **world.truth,
        "customers": customers.assign(
            decline_start=customers["decline_start"].where(~later_decline, AS_OF + 3 * DAY),
            death_date=customers["death_date"].where(customers["death_date"] < AS_OF),
        ),
        "paths": paths.assign(hazard=paths["hazard"].where(~after_as_of, 0.2)),
    }
    c = tables.complaints
    resolved_later = c["resolved_at"] >= AS_OF
    managers = tables.account_managers
    changed = tables.replace(
        transactions=tables.transactions[tables.transactions["timestamp"] < AS_OF],
        complaints=c[c["opened_at"] < AS_OF].assign(
            resolved_at=c["resolved_at"].where(~resolved_later, c["resolved_at"] + 40 * DAY),
            satisfaction=c["satisfaction"].where(~resolved_later, 1),
        ),
        account_managers=managers.assign(
            departed_at=managers["departed_at"].where(managers["departed_at"] < AS_OF)
        ),
    )
    assert (
        later_decline.sum() > 100
        and resolved_later.sum() > 10
        and (managers["departed_at"] >= AS_OF).sum() > 3
    )
    assert not true_no_purchase_probability(truth, AS_OF, H).equals(
        true_no_purchase_probability(world.truth, AS_OF, H)
    )
    after = as_of_no_purchase_probability(truth, changed, AS_OF, H, customer_ids=ids, replications=10, seed=2)
    pd.testing.assert_series_equal(after, before, check_exact=True)

    # What exists before as_of does count: drop the complaints opened before it.
    without_past = tables.replace(complaints=c[c["opened_at"] >= AS_OF])
    other = as_of_no_purchase_probability(
        world.truth, without_past, AS_OF, H, customer_ids=ids, replications=10, seed=2
    )
    assert (other != before).sum() > 20


def test_the_seed_reproduces_it_and_another_seed_moves_it_by_monte_carlo_noise_only(world, tables):
    ids = active_and_churned(world, AS_OF).index[:1000]
    one = as_of_no_purchase_probability(
        world.truth, tables, AS_OF, H, customer_ids=ids, replications=100, seed=7
    )
    pd.testing.assert_series_equal(
        as_of_no_purchase_probability(
            world.truth, tables, AS_OF, H, customer_ids=ids, replications=100, seed=7
        ),
        one,
        check_exact=True,
    )
    other = as_of_no_purchase_probability(
        world.truth, tables, AS_OF, H, customer_ids=ids, replications=100, seed=8
    )
    difference = (other - one).abs()
    assert difference.max() > 0 and difference.max() < 0.03 and difference.mean() < 0.002


def test_the_realised_future_reproduces_the_truth_paths_and_the_path_shows_which_complaints_stay_open(
    world, tables
):
    customers = world.truth["customers"]
    started = (customers["start_date"] <= AS_OF).to_numpy()
    ids = customers["customer_id"].to_numpy()[started]
    known = _known_at(customers, tables, world.truth["paths"], T0, started)

    # Open complaints at AS_OF whose effect is already in the path: those resolved later read as 0, those
    # the data never sees resolved (never, or after the end of history) as 1.
    still_open = known.open[known.open["opened_day"] <= T0 - 2]
    realised = _complaint_days(tables.complaints, ids).set_index(["customer", "opened"])["resolved"]
    resolved_later = (
        realised.reindex(pd.MultiIndex.from_frame(still_open[["customer", "opened"]])).notna().to_numpy()
    )
    assert resolved_later.sum() >= 10 and (~resolved_later).sum() >= 100
    np.testing.assert_array_equal(
        still_open["never_probability"].to_numpy(), np.where(resolved_later, 0.0, 1.0)
    )

    # Customers alive through the window with no complaint unresolved in the data: the realised complaints,
    # manager departure and decline onset give exactly the truth's window paths.
    complaints = _complaint_days(tables.complaints, ids)
    unresolved = np.zeros(len(ids), dtype=bool)
    unresolved[complaints.loc[complaints["resolved"].isna(), "customer"]] = True
    death = customers["death_date"].to_numpy()[started]
    through = pd.isna(death) | (death >= AS_OF + H * DAY)
    chosen = np.flatnonzero(through & ~unresolved)
    mine = complaints[complaints["customer"].isin(chosen)]
    mine = mine.assign(customer=pd.Index(chosen).get_indexer(mine["customer"]))
    manager_of = tables.customers.set_index("customer_id")["account_manager_id"].reindex(ids[chosen])
    departed = tables.account_managers.set_index("account_manager_id")["departed_at"]
    left_on = ((departed.reindex(manager_of.astype("str")) - HISTORY_START) / DAY).to_numpy(dtype=float)
    decline_on = ((customers["decline_start"][started].iloc[chosen] - HISTORY_START) / DAY).to_numpy(
        dtype=float
    )
    rate, hazard = _window_rate_and_hazard(
        known.people.iloc[chosen].reset_index(drop=True),
        mine,
        np.nan_to_num(left_on, nan=np.inf),
        np.nan_to_num(decline_on, nan=N_DAYS).astype(np.int64),
        T0 + np.arange(H),
    )
    true_rate, true_hazard = _window_paths(world.truth["paths"], ids[chosen], T0, H, HISTORY_START)
    assert len(chosen) > 3000 and (mine["opened"] >= T0).sum() > 50
    np.testing.assert_array_equal(rate, true_rate)
    np.testing.assert_allclose(hazard, true_hazard, rtol=1e-12)
