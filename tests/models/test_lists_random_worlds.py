"""On generated worlds with random risks, reasons and capacities: a row has a contact if and only if it is in the
target, control rows have none, no channel exceeds its capacity, every contact is worth its cost, no owner has
left, and the lapsed list holds only valuable customers who are no longer active."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import ChurnDefinition, FeatureSettings, build_feature_table, make_tables, prepare_tables
from features.cutoff import customers_before
from models.bgnbd import fit_bgnbd, rfm_summary
from models.lapsed import LapsedSettings, lapsed_customers
from models.owners import customer_owners
from models.value import customer_value, margin_rates
from models.winback import ListSettings, build_lists
from pipeline.config import load_config, load_playbook
from pipeline.synthetic import generate_world

CFG = load_config()
PLAYBOOK = load_playbook(CFG)
FAMILIES = [None, *PLAYBOOK.priority]


def _with_owners(frame: pd.DataFrame, managers: pd.Series, tables, as_of) -> pd.DataFrame:
    owners = customer_owners(managers, tables.account_managers, as_of)
    return frame.assign(owner_id=owners["owner_id"].array, owner_status=owners["owner_status"].to_numpy())


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_plan_invariants_on_random_worlds(seed):
    rng = np.random.default_rng(seed)
    tables = prepare_tables(make_tables(generate_world(600, seed=seed).tables))
    as_of = pd.Timestamp("2025-03-03") + pd.Timedelta(days=int(rng.integers(0, 280)))
    features = build_feature_table(tables, as_of, FeatureSettings(), ChurnDefinition())
    customers = customers_before(tables.customers, as_of)
    managers = features["customer_id"].map(
        pd.Series(customers["account_manager_id"].array, index=customers["customer_id"].astype("str").array))
    scored = _with_owners(pd.DataFrame({
        "customer_id": features["customer_id"],
        "churn_probability": rng.beta(1, 4, len(features)),
        "customer_value": customer_value(features, window_days=365, horizon_days=90,
                                         margin_rate=margin_rates(features["customer_id"], customers, 0.3)),
        "account_manager_id": pd.array(managers.to_numpy(dtype=object, na_value=None), dtype="str"),
        "days_since_last_purchase": features["days_since_last_purchase"].astype(int),
        "last_purchase_date": "", "segment": features["segment"], "lifecycle_stage": features["lifecycle_stage"],
        "open_complaints": features["open_complaints"].astype(int),
    }), managers, tables, as_of)
    settings = LapsedSettings(90, 365, 365, 90, 0.3, 90, 0.05, 180, 3, 28, 30)
    lapsed = lapsed_customers(tables, as_of, settings, fit_bgnbd(rfm_summary(tables.transactions, as_of)))
    lapsed = _with_owners(lapsed, lapsed["account_manager_id"], tables, as_of)
    capacity = {"senior_manager_call": int(rng.integers(0, 8)), "account_manager_call": int(rng.integers(0, 20)),
                "email": None if rng.random() < 0.5 else int(rng.integers(0, 60))}
    worklist, gone = build_lists(
        scored, reasons=[""] * len(scored), reason_codes=[""] * len(scored),
        deciding_family=np.array(rng.choice(np.array(FAMILIES, dtype=object), len(scored)), dtype=object),
        lapsed=lapsed, playbook=PLAYBOOK,
        settings=ListSettings(CFG.scoring.value_tier_cuts, CFG.scoring.value_tier_max_shares, capacity, 0.1,
                              f"retention-{as_of.date()}"),
        basis=None, as_of=as_of, model_version="random",
    )

    both = pd.concat([worklist, gone], ignore_index=True)
    assert both["in_target"].any() and len(gone) > 0
    assert (both["in_target"] == (both["action_channel"] != "none")).all()
    assert not (both["control_group"] & both["in_target"]).any()
    assert (both.loc[both["control_group"], "action_channel"] == "none").all()
    assert (both.loc[both["in_target"], "expected_net_value"] > 0).all()
    used = both.loc[both["in_target"], "action_channel"].value_counts()
    for channel, limit in capacity.items():
        assert limit is None or used.get(channel, 0) <= limit
    departed = tables.account_managers.loc[
        (tables.account_managers["departed_at"] < as_of).to_numpy(dtype=bool, na_value=False), "account_manager_id"]
    assert not set(both["owner_id"].dropna()) & set(departed)
    assert set(gone["value_tier"]) <= {"A", "B"}
    assert not set(gone["customer_id"]) & set(worklist["customer_id"])
    assert sorted(worklist["customer_id"]) == sorted(scored["customer_id"])
