"""`churn generate --campaigns`: the simulated loop keeps the pipeline's arms and rules, its truth is exact (the
realised outcomes match it), and `churn evaluate` recovers the true uplift on the world it makes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.tables import COLUMNS, conform_table
from pipeline.campaigns import EFFECT_DAYS
from pipeline.config import load_config
from pipeline.evaluate import write_evaluation
from pipeline.generate import campaign_simulation, write_world
from pipeline.synthetic import N_DAYS, generate_world, latent_world
from tests.pipeline.conftest import TEST_CONFIG

N_CUSTOMERS, SEED = 6_000, 3
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def campaign_world(tmp_path_factory):
    """A world with its campaign, as `churn generate --campaigns` writes it: data, _truth and the history."""
    root = tmp_path_factory.mktemp("campaign")
    write_world(root / "data", N_CUSTOMERS, SEED, campaign=campaign_simulation(load_config(TEST_CONFIG)),
                history=str(root / "history"))
    return root


def read(path: Path, **kwargs) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"customer_id": str}, **kwargs)


def kept_lists(history: Path) -> pd.DataFrame:
    """Every kept list's rows with their as-of date and campaign, read straight from the Parquet files."""
    frames = []
    for entry in sorted(history.iterdir()):
        if not (entry / "_scored.json").is_file():
            continue
        manifest = json.loads((entry / "_scored.json").read_text())
        frame = pd.read_parquet(entry / "bucket=0" / "part-0.parquet")
        frames.append(frame.assign(as_of=pd.Timestamp(manifest["as_of"]), campaign_id=manifest["campaign_id"]))
    return pd.concat(frames, ignore_index=True)


def test_the_weekly_lists_keep_each_customers_arm_for_the_whole_campaign(campaign_world):
    lists = kept_lists(campaign_world / "history")
    assert lists["campaign_id"].nunique() == 1 and lists["as_of"].nunique() == 13
    assert (lists["as_of"].diff().dropna().unique() >= pd.Timedelta(0)).all()
    planned = lists[lists["in_target"] | lists["control_group"]]
    campaign = planned["campaign_id"].iloc[0]
    draw = pd.util.hash_pandas_object(planned["customer_id"].astype("str") + "|" + campaign, index=False).to_numpy()
    assert (planned["control_group"].to_numpy() == (draw / 2.0**64 < 0.1)).all()
    arms = planned.groupby("customer_id")["control_group"].nunique()
    assert (arms == 1).all() and (planned.groupby("customer_id").size() > 1).sum() > 100  # many listed again


def test_contacts_follow_the_plan_once_per_customer_with_non_compliance_and_some_contamination(campaign_world):
    contacts = read(campaign_world / "data" / "contacts.csv", parse_dates=["contacted_at"])
    assert list(contacts.columns) == list(COLUMNS["contacts"])
    truth = read(campaign_world / "data" / "_truth" / "campaign_customers.csv", parse_dates=["as_of"])
    assert contacts["customer_id"].is_unique
    entered = truth.set_index("customer_id")
    assert set(contacts["customer_id"]) == set(entered.index[entered["contacted"]])
    lag = contacts["contacted_at"].dt.normalize() - entered.loc[contacts["customer_id"], "as_of"].to_numpy()
    assert lag.min() >= pd.Timedelta(0) and lag.max() < 5 * DAY  # in the first days of their first list's week
    treated = entered[entered["arm"] == "treated"]["contacted"].mean()
    control = entered[entered["arm"] == "control"]["contacted"].mean()
    assert 0.6 < treated < 0.95 and 0 < control < 0.1
    assert (contacts["action"] == entered.loc[contacts["customer_id"], "action"].to_numpy()).all()
    frame = conform_table("contacts", contacts)
    pd.testing.assert_frame_equal(conform_table("contacts", frame), frame)


def test_the_truth_is_exact_the_realised_outcomes_follow_it(campaign_world):
    """Per customer at their first list the truth gives P(no purchase in the horizon) without (P0) and with (P1)
    the contact; the realised outcomes of the contacted follow P1 and of the others P0 (within 4 sd)."""
    truth = read(campaign_world / "data" / "_truth" / "campaign_customers.csv", parse_dates=["as_of"])
    tx = read(campaign_world / "data" / "transactions.csv", parse_dates=["timestamp"])
    bought = tx[tx["amount"] > 0]
    churned = np.ones(len(truth), dtype=bool)
    for as_of, members in truth.groupby("as_of"):
        window = bought[(bought["timestamp"] >= as_of) & (bought["timestamp"] < as_of + 90 * DAY)]
        churned[members.index] = ~members["customer_id"].isin(set(window["customer_id"])).to_numpy()
    expected = np.where(truth["contacted"], truth["p1"], truth["p0"])
    for rows in (truth["contacted"].to_numpy(), ~truth["contacted"].to_numpy()):
        gap = churned[rows].sum() - expected[rows].sum()
        assert abs(gap) < 4 * np.sqrt((expected[rows] * (1 - expected[rows])).sum())
    assert (truth["p1"] < truth["p0"]).mean() > 0.5  # contacts mostly keep customers
    assert ((truth["p1"] > truth["p0"]) == (truth["action"] == "open_complaint_email")).loc[truth["p0"] < 1].mean() > 0.95


def test_contacts_change_only_the_contacted_customers_lives_and_only_after_the_contact(campaign_world):
    plain = latent_world(N_CUSTOMERS, SEED)
    truth = read(campaign_world / "data" / "_truth" / "customers.csv", parse_dates=["death_date"])
    effects = read(campaign_world / "data" / "_truth" / "campaign_contacts.csv", parse_dates=["from", "to"])
    assert ((effects["to"] - effects["from"]) == EFFECT_DAYS * DAY).all()
    before = pd.Series(pd.Timestamp("2023-01-02") + pd.to_timedelta(plain.death_day, unit="D"), index=plain.customer_ids)
    before[plain.death_day >= N_DAYS] = pd.NaT  # alive at the end of history
    now = truth.set_index("customer_id")["death_date"]
    moved = now.index[~((now == before) | (now.isna() & before.isna()))]
    assert len(moved) > 0 and set(moved) <= set(effects["customer_id"])
    start = effects.set_index("customer_id").loc[moved, "from"]
    for death in (before[moved], now[moved]):  # left (if at all) only after their contact acted
        assert (death.isna() | (death.to_numpy() >= start.to_numpy())).all()


def test_evaluate_recovers_the_true_overall_uplift_and_the_adjusted_interval_is_narrower(campaign_world, store):
    cfg = load_config(store.config_file)
    result = write_evaluation(campaign_world / "data", campaign_world / "history",
                              campaign_world / "out" / "evaluation.csv", cfg)
    effects = read(campaign_world / "data" / "_truth" / "campaign_effects.csv")
    true = effects[(effects["as_of"] == "all") & (effects["group"] == "overall")].iloc[0]
    overall = result.cells.iloc[0]
    assert overall["treated_n"] + overall["control_n"] == true["customers"]
    assert overall["uplift_ci_low"] <= true["true_uplift"] <= overall["uplift_ci_high"]
    assert overall["adjusted_ci_low"] <= true["true_uplift"] <= overall["adjusted_ci_high"]
    assert overall["adjusted_ci_high"] - overall["adjusted_ci_low"] < overall["uplift_ci_high"] - overall["uplift_ci_low"]
    assert overall["effect_on_contacted_ci_low"] <= true["true_effect_on_contacted"] <= overall[
        "effect_on_contacted_ci_high"]
    assert not result.notes or all("horizon" in note for note in result.notes)  # every list passes its checks


def test_outside_the_contacted_customers_lives_after_contact_the_world_is_the_one_without_a_campaign(campaign_world):
    plain = generate_world(N_CUSTOMERS, SEED).tables["transactions"]
    campaign = read(campaign_world / "data" / "transactions.csv", parse_dates=["timestamp"])
    contacts = read(campaign_world / "data" / "contacts.csv", parse_dates=["contacted_at"])
    first_contact = contacts.groupby("customer_id")["contacted_at"].min().dt.normalize() + DAY  # effects start

    def before_any_effect(tx: pd.DataFrame) -> set:
        start = tx["customer_id"].map(first_contact)
        kept = tx[start.isna().to_numpy() | (tx["timestamp"] < start).to_numpy()]
        return set(zip(kept["customer_id"], kept["timestamp"], kept["amount"], strict=True))

    assert before_any_effect(campaign) == before_any_effect(plain)
    assert len(campaign) != len(plain)  # and the contacted customers' later purchases differ
