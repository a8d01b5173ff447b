"""The synthetic world: reproducible, on contract, churning for the reasons the practice names, and its oracle exact."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pandas as pd
import pytest

from features.tables import COLUMNS, conform_table
from pipeline.generate import write_world
from pipeline.oracle import posterior_no_purchase_probability, true_no_purchase_probability
from pipeline.synthetic import HISTORY_END, HISTORY_START, PRICE_RISE, PRICE_RISE_DATE, generate_world

DAY = pd.Timedelta(days=1)
WINDOW = 90  # default active_window_days and horizon_days


@pytest.fixture(scope="module")
def small_world():
    return generate_world(2_000, seed=11)


@pytest.fixture(scope="module")
def world():
    """Large enough (20k customers, ~4 s) that churn-rate differences and calibration bins are not noise."""
    return generate_world(20_000, seed=5)


def purchases_of(world) -> pd.DataFrame:
    tx = world.tables["transactions"]
    return tx[tx["amount"] > 0]


def churned_at(purchases: pd.DataFrame, as_of) -> pd.Series:
    """Active customers at as_of (bought in the 90 days before) -> True if no purchase in the 90 days from it."""
    as_of = pd.Timestamp(as_of)
    ts = purchases["timestamp"]
    active = purchases.loc[(ts >= as_of - WINDOW * DAY) & (ts < as_of), "customer_id"].unique()
    bought_after = purchases.loc[(ts >= as_of) & (ts < as_of + WINDOW * DAY), "customer_id"].unique()
    return pd.Series(~pd.Index(active).isin(bought_after), index=pd.Index(active, name="customer_id"))


def churn_rate_by(flag_at, purchases: pd.DataFrame, cutoffs) -> pd.Series:
    """Churn rate of active customers with flag_at(as_of, index) True vs False, pooled over the cutoffs."""
    pooled = []
    for as_of in map(pd.Timestamp, cutoffs):
        churned = churned_at(purchases, as_of)
        pooled.append(pd.DataFrame({"churned": churned.to_numpy(), "flag": flag_at(as_of, churned.index)}))
    return pd.concat(pooled).groupby("flag")["churned"].mean()


# --- reproducibility ----------------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(small_world):
    again = generate_world(2_000, seed=11)
    for name, frame in small_world.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], frame)
    for name, frame in small_world.truth.items():
        pd.testing.assert_frame_equal(again.truth[name], frame)


def test_different_seeds_give_different_worlds(small_world):
    other = generate_world(2_000, seed=12)
    assert not other.tables["transactions"].equals(small_world.tables["transactions"])
    assert not other.tables["customers"]["signup_date"].equals(small_world.tables["customers"]["signup_date"])


# --- contract ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name in COLUMNS if name != "contacts"])  # no campaign: no contacts
def test_tables_are_already_in_contract_form(small_world, name):
    frame = small_world.tables[name]
    assert list(frame.columns) == list(COLUMNS[name])
    assert len(frame) > 0
    pd.testing.assert_frame_equal(conform_table(name, frame), frame)


def test_ids_are_formatted_and_unique(small_world):
    t = small_world.tables
    assert t["customers"]["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert t["customers"]["customer_id"].is_unique
    assert t["transactions"]["transaction_id"].str.fullmatch(r"T\d{7}").all()
    assert t["transactions"]["transaction_id"].is_unique
    assert t["account_managers"]["account_manager_id"].str.fullmatch(r"AM\d{3}").all()
    known = set(t["customers"]["customer_id"])
    for name in ("transactions", "complaints", "visits"):
        assert set(t[name]["customer_id"]) <= known
    assert set(t["customers"]["account_manager_id"].dropna()) <= set(
        t["account_managers"]["account_manager_id"]
    )


def test_events_lie_inside_history_and_the_customer_lifetime(small_world):
    life = small_world.truth["customers"].set_index("customer_id")[["signup_date", "death_date"]]
    for name, column in (("transactions", "timestamp"), ("complaints", "opened_at"), ("visits", "timestamp")):
        events = small_world.tables[name].join(life, on="customer_id")
        assert (events[column] < HISTORY_END).all()
        after_death = events["death_date"].notna() & (events[column] >= events["death_date"])
        assert not after_death.any(), name
    tx = small_world.tables["transactions"].join(life, on="customer_id")
    assert (tx["timestamp"] >= tx["signup_date"]).all()
    assert (tx["timestamp"] >= HISTORY_START).all()


def test_complaint_fields(small_world):
    c = small_world.tables["complaints"]
    resolved = c["resolved_at"].notna()
    assert (c.loc[resolved, "resolved_at"] >= c.loc[resolved, "opened_at"]).all()
    assert 0.03 < (~resolved).mean() < 0.3
    assert c["severity"].between(1, 5).all() and c["severity"].notna().all()
    assert c.loc[resolved, "satisfaction"].between(1, 5).all()
    assert c["satisfaction"].isna().equals(~resolved)  # rated only once resolved
    assert set(c["category"]) == {"product_quality", "service", "price", "delivery", "billing", "other"}


def test_amounts_promotions_and_returns(small_world):
    tx = small_world.tables["transactions"]
    assert (tx["list_amount"] >= 0).all()
    bought, returned = tx[tx["amount"] > 0], tx[tx["amount"] < 0]
    assert (tx["amount"] != 0).all()
    assert 0.01 < len(returned) / len(tx) < 0.06
    assert (np.sign(tx["quantity"]) == np.sign(tx["amount"])).all()
    on_promo = bought[bought["promo"]]
    assert (on_promo["list_amount"] > on_promo["amount"]).all()
    assert (bought.loc[~bought["promo"], "list_amount"] == bought.loc[~bought["promo"], "amount"]).all()
    assert 0.1 < bought["promo"].mean() < 0.5
    assert {"store", "web", "app", "phone"} == set(tx["channel"])
    assert tx["category"].nunique() >= 5


def test_list_prices_rise_on_the_fixed_date(world):
    """Same customer, same category: median unit list price after / before the rise is 1 + PRICE_RISE."""
    bought = purchases_of(world)
    unit = bought.assign(unit=bought["list_amount"] / bought["quantity"])
    near = unit[
        (unit["timestamp"] >= PRICE_RISE_DATE - 180 * DAY) & (unit["timestamp"] < PRICE_RISE_DATE + 180 * DAY)
    ]
    after = near["timestamp"] >= PRICE_RISE_DATE
    keys = ["customer_id", "category"]
    before_mean = near[~after].groupby(keys)["unit"].mean()
    after_mean = near[after].groupby(keys)["unit"].mean()
    ratio = (after_mean / before_mean).dropna()
    assert len(ratio) > 1_000
    assert ratio.median() == pytest.approx(1 + PRICE_RISE, abs=0.025)


def test_segments_wallets_and_account_managers(small_world):
    t = small_world.tables
    customers = t["customers"]
    b2b = customers["segment"] == "B2B"
    assert set(customers["segment"]) == {"B2C", "B2B"}
    assert 0.08 < b2b.mean() < 0.25
    assert customers.loc[~b2b, "wallet_estimate"].isna().all()
    assert 0.3 < customers.loc[b2b, "wallet_estimate"].notna().mean() < 0.9
    assert (customers["wallet_estimate"].dropna() > 0).all()
    basket = purchases_of(small_world).join(customers.set_index("customer_id")["segment"], on="customer_id")
    median_basket = basket.groupby("segment")["amount"].median()
    assert median_basket["B2B"] > 5 * median_basket["B2C"]
    has_manager = customers["account_manager_id"].notna()
    assert has_manager[b2b].mean() > 0.8 and 0 < has_manager[~b2b].mean() < 0.1
    departed = t["account_managers"]["departed_at"]
    assert 0 < departed.notna().sum() < len(departed)
    assert departed.dropna().between(HISTORY_START, HISTORY_END).all()


def test_departed_managers_have_successors_still_employed_and_team_leads_never_leave(small_world):
    managers = small_world.tables["account_managers"].set_index("account_manager_id")
    departed = managers["departed_at"]
    successor = managers["successor_id"].dropna()
    assert departed.loc[successor.index].notna().all()  # only those who left are succeeded
    still_there = departed.reindex(successor.to_numpy()).to_numpy()
    left = departed.loc[successor.index].to_numpy()
    assert (pd.isna(still_there) | (still_there > left)).all()  # employed on the day the other one left
    assert 0 < len(successor) < departed.notna().sum()  # some departures have no successor on record
    leads = managers["team_lead_id"].dropna()
    assert departed.reindex(leads.unique()).isna().all()
    assert managers.loc[leads.unique(), "team_lead_id"].isna().all()
    assert 0.5 < managers["team_lead_id"].notna().mean() < 1


def test_margin_rate_is_known_for_b2b_customers_only(small_world):
    customers = small_world.tables["customers"]
    b2b = customers["segment"] == "B2B"
    assert customers.loc[~b2b, "margin_rate"].isna().all()
    assert customers.loc[b2b, "margin_rate"].between(0, 1).all()


def test_customers_join_before_and_throughout_history(small_world):
    signup = small_world.tables["customers"]["signup_date"]
    assert (signup < HISTORY_START).mean() > 0.2
    for year in (2023, 2024, 2025):
        assert (signup.dt.year == year).mean() > 0.1


def test_weekly_seasonality_by_segment(small_world):
    bought = purchases_of(small_world).join(
        small_world.tables["customers"].set_index("customer_id")["segment"], on="customer_id"
    )
    per_weekday = bought.groupby(["segment", bought["timestamp"].dt.day_of_week]).size()
    assert per_weekday["B2C"][5] > 1.3 * per_weekday["B2C"][1]  # Saturday vs Tuesday
    assert per_weekday["B2B"].get(6, 0) < 0.05 * per_weekday["B2B"][1]  # Sunday vs Tuesday


def test_visits_precede_purchases_and_some_browse_without_buying(small_world):
    visits = small_world.tables["visits"].sort_values("timestamp")
    bought = purchases_of(small_world).sort_values("timestamp")
    next_purchase = pd.merge_asof(
        visits,
        bought[["customer_id", "timestamp"]].rename(columns={"timestamp": "bought_at"}),
        left_on="timestamp",
        right_on="bought_at",
        by="customer_id",
        direction="forward",
    )
    followed = (next_purchase["bought_at"] - next_purchase["timestamp"]) <= pd.Timedelta(hours=6)
    assert 0.5 < followed.mean() < 0.95
    assert set(visits["channel"]) == {"store", "web", "app", "call"}
    assert (visits["duration_s"] >= 0).all()


def test_truth_paths_cover_each_customer_from_start_to_end_of_history(small_world):
    paths = small_world.truth["paths"]
    customers = small_world.truth["customers"].set_index("customer_id")
    first = paths.groupby("customer_id")["start"].min()
    last = paths.groupby("customer_id")["end"].max()
    assert first.reindex(customers.index).equals(customers["start_date"].rename("start"))
    assert (last == HISTORY_END).all()
    following = paths.groupby("customer_id")["start"].shift(-1)
    assert (following.dropna() == paths.loc[following.notna(), "end"]).all()
    assert ((paths["hazard"] >= 0) & (paths["hazard"] < 1) & (paths["rate"] > 0)).all()


def test_purchase_count_matches_the_truth_rates_over_lifetimes(small_world):
    """Observed purchases = sum of rate x seasonality over the days each customer was there, up to Poisson noise."""
    truth = small_world.truth
    paths = truth["paths"].join(
        truth["customers"].set_index("customer_id")[["segment", "death_date"]], on="customer_id"
    )
    last = paths["end"].where(
        paths["death_date"].isna() | (paths["death_date"] > paths["end"]), paths["death_date"]
    )
    length = np.maximum(((last - paths["start"]) // DAY).to_numpy(), 0)
    rows = np.repeat(np.arange(len(paths)), length)
    day_index = ((paths["start"] - HISTORY_START) // DAY).to_numpy()[rows] + (
        np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    )
    calendar = truth["calendar"]
    season = np.where(
        paths["segment"].to_numpy()[rows] == "B2B",
        calendar["seasonality_B2B"].to_numpy()[day_index],
        calendar["seasonality_B2C"].to_numpy()[day_index],
    )
    expected = (paths["rate"].to_numpy()[rows] * season).sum()
    observed = len(purchases_of(small_world))
    assert abs(observed - expected) < 4 * np.sqrt(expected)


# --- churn behaviour ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2024-03-04", "2024-09-02", "2025-06-02"])
def test_churn_rate_among_active_customers_is_realistic(world, as_of):
    churned = churned_at(purchases_of(world), as_of)
    assert len(churned) > 4_000
    assert 0.15 <= churned.mean() <= 0.40


def test_customers_with_an_open_complaint_churn_more(world):
    complaints = world.tables["complaints"]

    def open_at(as_of, customers):
        still_open = (complaints["opened_at"] < as_of) & ~(complaints["resolved_at"] < as_of)
        return customers.isin(complaints.loc[still_open, "customer_id"])

    rate = churn_rate_by(open_at, purchases_of(world), pd.date_range("2024-01-01", "2025-09-01", freq="60D"))
    assert rate[True] - rate[False] > 0.06


def test_customers_whose_manager_left_recently_churn_more_than_other_managed_customers(world):
    customers = world.tables["customers"].set_index("customer_id")["account_manager_id"]
    departed = world.tables["account_managers"].set_index("account_manager_id")["departed_at"]
    managed = world.tables["customers"].loc[customers.notna().to_numpy(), "customer_id"]
    bought = purchases_of(world)
    bought = bought[bought["customer_id"].isin(managed)]

    def manager_left(as_of, customers_at):
        left = departed[(departed < as_of) & (departed >= as_of - WINDOW * DAY)].index
        return customers.reindex(customers_at).isin(left).to_numpy()

    rate = churn_rate_by(manager_left, bought, pd.date_range("2023-06-01", "2025-09-01", freq="30D"))
    assert rate[True] - rate[False] > 0.08


def test_promotion_heavy_customers_react_to_the_price_rise(world):
    """Difference in differences: promo-heavy minus other churn rate, after the rise vs before it."""
    bought = purchases_of(world)

    def promo_heavy(as_of, customers):
        year = bought[(bought["timestamp"] < as_of) & (bought["timestamp"] >= as_of - 365 * DAY)]
        return (year.groupby("customer_id")["promo"].mean().reindex(customers) >= 0.5).to_numpy()

    before = churn_rate_by(promo_heavy, bought, [PRICE_RISE_DATE - d * DAY for d in (150, 120, 90)])
    after = churn_rate_by(promo_heavy, bought, [PRICE_RISE_DATE + d * DAY for d in (0, 30, 60)])
    assert (after[True] - after[False]) - (before[True] - before[False]) > 0.05


def test_falling_purchase_frequency_warns_of_churn(world):
    bought = purchases_of(world)

    def orders_halved(as_of, customers):
        recent = bought[(bought["timestamp"] < as_of) & (bought["timestamp"] >= as_of - 90 * DAY)]
        earlier = bought[
            (bought["timestamp"] < as_of - 90 * DAY) & (bought["timestamp"] >= as_of - 180 * DAY)
        ]
        n_recent = recent.groupby("customer_id").size().reindex(customers, fill_value=0)
        n_earlier = earlier.groupby("customer_id").size().reindex(customers, fill_value=0)
        return (n_earlier >= 4).to_numpy() & (n_recent <= n_earlier / 2).to_numpy()

    rate = churn_rate_by(orders_halved, bought, ["2024-06-03", "2025-03-03"])
    assert rate[True] - rate[False] > 0.05


def test_recency_alone_does_not_separate_churners(world):
    as_of = pd.Timestamp("2025-03-03")
    bought = purchases_of(world)
    churned = churned_at(bought, as_of)
    recency = (as_of - bought[bought["timestamp"] < as_of].groupby("customer_id")["timestamp"].max()).reindex(
        churned.index
    )
    # Mann-Whitney AUC: chance that a churner's recency exceeds a stayer's.
    ranks = recency.rank().to_numpy()
    n_churned, n_stayed = churned.sum(), (~churned).sum()
    auc = (ranks[churned.to_numpy()].sum() - n_churned * (n_churned + 1) / 2) / (n_churned * n_stayed)
    assert 0.6 < auc < 0.9


# --- oracle ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2024-06-03", "2025-03-03"])
def test_oracle_is_calibrated_on_active_customers(world, as_of):
    churned = churned_at(purchases_of(world), as_of)
    probability = true_no_purchase_probability(world.truth, as_of, WINDOW).reindex(churned.index)
    assert probability.notna().all()
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


def test_oracle_marks_departed_and_not_yet_signed_up_customers(small_world):
    as_of = pd.Timestamp("2024-07-01")
    probability = true_no_purchase_probability(small_world.truth, as_of, WINDOW)
    customers = small_world.truth["customers"].set_index("customer_id")
    gone = customers["death_date"] < as_of
    not_started = customers["start_date"] > as_of
    there = ~gone & ~not_started
    assert gone.sum() > 100 and not_started.sum() > 100
    assert (probability[gone] == 1.0).all()
    assert probability[not_started].isna().all()
    assert probability[there].between(0, 1).all() and (probability[there] < 1).all()
    assert probability.name == "true_no_purchase_probability" and probability.index.name == "customer_id"


def test_oracle_reads_truth_back_from_csv(small_world):
    as_of = "2025-02-03"
    round_tripped = {
        name: pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype={"customer_id": "str"})
        for name, frame in small_world.truth.items()
    }
    pd.testing.assert_series_equal(
        true_no_purchase_probability(round_tripped, as_of, WINDOW),
        true_no_purchase_probability(small_world.truth, as_of, WINDOW),
        rtol=1e-12,
    )


def hand_made_truth(rate_c1, hazard_c1) -> dict[str, pd.DataFrame]:
    """Two B2C customers over a 4-day calendar; C2 left on day 2."""
    dates = pd.date_range("2024-01-01", periods=4, freq="D").as_unit("ns")
    return {
        "calendar": pd.DataFrame(
            {"date": dates, "seasonality_B2C": [1.0, 2.0, 0.5, 1.0], "seasonality_B2B": 1.0}
        ),
        "customers": pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "segment": ["B2C", "B2C", "B2B"],
                "start_date": dates[[0, 0, 3]],
                "death_date": [pd.NaT, dates[1], pd.NaT],
            }
        ),
        "paths": pd.DataFrame(
            {
                "customer_id": ["C1", "C1", "C2", "C3"],
                "start": dates[[0, 2, 0, 3]],
                "end": [dates[2], dates[3] + DAY, dates[3] + DAY, dates[3] + DAY],
                "rate": [rate_c1[0], rate_c1[1], 0.3, 0.1],
                "hazard": [hazard_c1[0], hazard_c1[1], 0.0, 0.0],
            }
        ),
    }


def test_oracle_without_hazard_is_poisson_silence():
    truth = hand_made_truth(rate_c1=(0.2, 0.4), hazard_c1=(0.0, 0.0))
    from_day_2 = true_no_purchase_probability(truth, "2024-01-02", 3)
    # C1 on days 2, 3, 4: 0.2 * 2.0 + 0.4 * 0.5 + 0.4 * 1.0; C2 leaves on day 2, so it is still there at its start.
    assert from_day_2["C1"] == pytest.approx(np.exp(-1.0), rel=1e-12)
    assert from_day_2["C2"] == pytest.approx(np.exp(-0.3 * 3.5), rel=1e-12)
    assert np.isnan(from_day_2["C3"])  # starts on day 4
    from_day_3 = true_no_purchase_probability(truth, "2024-01-03", 2)
    assert from_day_3["C1"] == pytest.approx(np.exp(-0.4 * 0.5 - 0.4 * 1.0), rel=1e-12)
    assert from_day_3["C2"] == 1.0  # gone before as_of


def test_oracle_with_hazard_follows_the_daily_recursion():
    truth = hand_made_truth(rate_c1=(0.2, 0.4), hazard_c1=(0.1, 0.5))
    probability = true_no_purchase_probability(truth, "2024-01-01", 2)
    # Day 1: leave (0.1) or stay and not buy (0.9 * e^-0.2), then day 2 likewise with h = 0.1, lambda = 0.4.
    day2 = 0.1 + 0.9 * np.exp(-0.4)
    assert probability["C1"] == pytest.approx(0.1 + 0.9 * np.exp(-0.2) * day2, rel=1e-12)
    assert probability["C2"] == pytest.approx(np.exp(-0.3 - 0.6), rel=1e-12)  # still there on day 1


def test_oracle_refuses_windows_outside_the_truth_calendar():
    truth = hand_made_truth(rate_c1=(0.2, 0.4), hazard_c1=(0.0, 0.0))
    with pytest.raises(ValueError, match="inside the truth calendar"):
        true_no_purchase_probability(truth, "2024-01-03", 3)
    with pytest.raises(ValueError, match="inside the truth calendar"):
        true_no_purchase_probability(truth, "2023-12-31", 2)
    with pytest.raises(ValueError, match="midnight"):
        true_no_purchase_probability(truth, "2024-01-01 12:00", 2)


def test_posterior_oracle_weighs_silence_by_bayes_and_ignores_the_realised_death():
    truth = hand_made_truth(rate_c1=(0.2, 0.4), hazard_c1=(0.1, 0.5))
    transactions = pd.DataFrame(
        {"customer_id": ["C1", "C1"], "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
         "amount": [5.0, -5.0]}
    )
    probability = posterior_no_purchase_probability(truth, transactions, "2024-01-03", 2)
    # C1 bought on day 0, then was silent on day 1 (lambda = 0.2 x seasonality 2.0 = 0.4, h = 0.1):
    # still there = 0.9 e^-0.4 / (0.9 e^-0.4 + 0.1). If there, days 2 and 3 have h = 0.5 and
    # lambda = 0.4 x 0.5 = 0.2 then 0.4 x 1.0 = 0.4: P(silent) = 0.5 + 0.5 e^-0.2 (0.5 + 0.5 e^-0.4).
    there = 0.9 * np.exp(-0.4) / (0.9 * np.exp(-0.4) + 0.1)
    window = 0.5 + 0.5 * np.exp(-0.2) * (0.5 + 0.5 * np.exp(-0.4))
    assert probability["C1"] == pytest.approx((1 - there) + there * window, rel=1e-12)
    # C2 never bought and has no hazard: surely still there, whatever its realised death says;
    # window lambda = 0.3 x 0.5 + 0.3 x 1.0 = 0.45.
    assert probability["C2"] == pytest.approx(np.exp(-0.45), rel=1e-12)
    assert true_no_purchase_probability(truth, "2024-01-03", 2)["C2"] == 1.0
    assert np.isnan(probability["C3"])


@pytest.mark.parametrize("as_of", ["2024-06-03", "2025-03-03"])
def test_posterior_oracle_is_calibrated_on_active_customers(world, as_of):
    churned = churned_at(purchases_of(world), as_of)
    transactions = world.tables["transactions"]
    probability = posterior_no_purchase_probability(world.truth, transactions, as_of, WINDOW).reindex(churned.index)
    bins = pd.cut(probability, [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0], include_lowest=True)
    table = (
        pd.DataFrame({"realised": churned, "predicted": probability})
        .groupby(bins, observed=True)
        .agg(n=("realised", "size"), realised=("realised", "mean"), predicted=("predicted", "mean"))
    )
    well_filled = table[table["n"] >= 300]
    assert len(well_filled) >= 4
    assert ((well_filled["realised"] - well_filled["predicted"]).abs() <= 0.05).all(), table
    assert churned.mean() == pytest.approx(probability.mean(), abs=0.015)


# --- the awkward worlds: short histories, transactions only, seasonal churn -------------------------------------

# SHA-256 of `churn generate --customers 300 --seed 3` (CSV) as written before these options existed (customers
# and account_managers since they gained margin_rate, successor_id and team_lead_id).
PINNED_WORLD = {
    "_truth/calendar.csv": "fa8a7eb2c272044f92e260aba642d7653be2f555cd2d3bbe5ce7f7e4bdc117a9",
    "_truth/customers.csv": "2d2398d388456c7481524f16a0c740767a9526d1a59b1641c5161f3b514e9e64",
    "_truth/paths.csv": "9b84a5b2c3f4f1b434bb65da342c67bc447bad621035eaaa81cd3c6df2d81fcd",
    "account_managers.csv": "3a8e0bc86f4aa572aa1a7312de647ddd3cb2bae40d4e018c6b05bb51e8adeb6d",
    "complaints.csv": "b271b260ed97b3314bd1ab7335397bbfc4c18ff26f44d70577c23441b38bf8fa",
    "customers.csv": "ad2034c647fcdc4355103189e63a93b6dc0bc0b153959e8553bb4d18ebbb6173",
    "transactions.csv": "d45595b887b1c958b50b3b0fc67d5f6d18d456f3c3bf467c98251a033ec84cc0",
    "visits.csv": "19ffd2f88c18471fd7fc6d1f203f5c75ec8e6ba2fdf5ea904b54577d25857a90",
}


def test_without_the_options_the_world_is_byte_identical_to_before(tmp_path):
    write_world(tmp_path, 300, 3)
    written = {str(p.relative_to(tmp_path)): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in tmp_path.rglob("*") if p.is_file()}
    assert written == PINNED_WORLD


@pytest.fixture(scope="module")
def full_world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    write_world(out, 300, 3)
    return out


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_history_days_keeps_the_last_days_of_events_and_every_customer(tmp_path, full_world_dir):
    write_world(tmp_path, 300, 3, history_days=365)
    first = str((HISTORY_END - 365 * DAY).date())  # 2024-12-29: the last 365 days end on 2025-12-28
    assert first == "2024-12-29"
    for name, column in (("transactions", "timestamp"), ("complaints", "opened_at"), ("visits", "timestamp")):
        full, cut = _read(full_world_dir / f"{name}.csv"), _read(tmp_path / f"{name}.csv")
        expected = full[full[column] >= first].reset_index(drop=True)  # ISO text sorts as time does
        assert len(expected) < len(full)
        pd.testing.assert_frame_equal(cut, expected)
    for name in ("customers", "account_managers", "_truth/paths", "_truth/calendar"):
        assert (tmp_path / f"{name}.csv").read_bytes() == (full_world_dir / f"{name}.csv").read_bytes()


def test_transactions_only_writes_no_other_table(tmp_path, full_world_dir):
    write_world(tmp_path, 300, 3, only_transactions=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_truth", "transactions.csv"]
    assert (tmp_path / "transactions.csv").read_bytes() == (full_world_dir / "transactions.csv").read_bytes()


def test_seasonal_churn_cycles_the_churn_rate_and_the_oracle_replays_it():
    seasonal = generate_world(8_000, seed=5, seasonal_churn=0.8)
    plain = generate_world(8_000, seed=5)
    winter, summer = "2024-01-15", "2024-07-15"  # windows around the hazard's peak (Feb 14) and its trough
    rate = {
        (name, as_of): churned_at(purchases_of(w), as_of).mean()
        for name, w in (("seasonal", seasonal), ("plain", plain)) for as_of in (winter, summer)
    }
    assert rate["seasonal", winter] - rate["seasonal", summer] > 0.05
    assert abs(rate["plain", winter] - rate["plain", summer]) < 0.02
    no_season = {**seasonal.truth, "calendar": seasonal.truth["calendar"].drop(columns="churn_seasonality")}
    for as_of in (winter, summer):
        churned = churned_at(purchases_of(seasonal), as_of)
        oracle = true_no_purchase_probability(seasonal.truth, as_of, WINDOW).reindex(churned.index)
        assert oracle.mean() == pytest.approx(churned.mean(), abs=0.015)
    # without the yearly factor the law is not the generator's: in summer it overstates churn
    churned = churned_at(purchases_of(seasonal), summer)
    unseasoned = true_no_purchase_probability(no_season, summer, WINDOW).reindex(churned.index)
    assert unseasoned.mean() - churned.mean() > 0.02
    with pytest.raises(ValueError, match="seasonal_churn"):
        generate_world(10, seed=1, seasonal_churn=1.0)
