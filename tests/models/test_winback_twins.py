"""Twins: two customers alike in everything but one open complaint. Only the one with the complaint is given
the complaint reason and the playbook's complaint action; and no listed reason ever lowers a customer's risk.

The model is a small LightGBM trained on the snapshots of a generated world in which open complaints are
planted as a churn driver (a seeded 30% of the rows get an open complaint and churn), so that it has surely
learned what an open complaint means; the twins are then added to the world and the whole world is scored
with pipeline.scoring's score_customers, explain_customers and worklists (no MLflow, no files).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from features import make_tables, prepare_tables
from features.labels import data_end
from models.bgnbd import fit_bgnbd, rfm_summary
from models.estimator import ChurnClassifier
from models.explain import population_notable, population_typical
from models.modelframe import model_specs
from models.plan import deciding_families
from pipeline.config import PROJECT_ROOT, load_config, load_playbook
from pipeline.scoring import (
    ScoredCustomers,
    explain_customers,
    lapsed_with_owners,
    score_customers,
    worklists,
)
from pipeline.synthetic import generate_world
from pipeline.train import estimate_plan, fit_shipped_model, training_data

TEST_CONFIG = PROJECT_ROOT / "configs" / "test.yaml"
PLAIN, COMPLAINER = "TWIN-PLAIN", "TWIN-COMPLAINT"
COMPLAINT_AGE_DAYS = 20


@pytest.fixture(scope="module")
def cfg():
    return load_config(TEST_CONFIG, {"model.lightgbm.num_threads": 1})


@pytest.fixture(scope="module")
def world():
    return generate_world(300, seed=5).tables


@pytest.fixture(scope="module")
def trained(world, cfg):
    """The model, from snapshots where open complaints mean churn (a planted 30% of rows)."""
    data = training_data(prepare_tables(make_tables(world)), cfg)
    snapshots = data.snapshots.copy()
    planted = np.random.default_rng(0).random(len(snapshots)) < 0.3
    snapshots.loc[planted, "open_complaints"] = snapshots.loc[planted, "open_complaints"] + 1.0
    snapshots.loc[planted, "churned"] = True
    data = replace(data, snapshots=snapshots)
    shipped = fit_shipped_model(data, cfg, estimate_plan(data, cfg), "isotonic")
    return shipped.model


def with_twins(world: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The world plus two copies of an active customer who never complained; one copy opens a complaint."""
    tx = world["transactions"]
    recent = tx[(tx["amount"] > 0) & (tx["timestamp"] >= as_of - pd.Timedelta(days=30))]["customer_id"]
    original = min(set(recent) - set(world["complaints"]["customer_id"]))

    def twin(frame: pd.DataFrame, twin_id: str) -> pd.DataFrame:
        rows = frame[frame["customer_id"] == original].assign(customer_id=twin_id)
        if "transaction_id" in rows:
            rows = rows.assign(transaction_id=rows["transaction_id"] + "-" + twin_id)
        return rows

    frames = {
        name: pd.concat([frame, twin(frame, PLAIN), twin(frame, COMPLAINER)], ignore_index=True)
        for name, frame in world.items()
        if name in ("transactions", "visits", "customers")
    }
    complaint = pd.DataFrame({
        "customer_id": [COMPLAINER],
        "opened_at": [as_of - pd.Timedelta(days=COMPLAINT_AGE_DAYS) + pd.Timedelta(hours=10)],
        "resolved_at": [pd.NaT],
        "category": ["service"],
        "severity": [3],
        "satisfaction": [pd.NA],
    })
    frames["complaints"] = pd.concat([world["complaints"], complaint.astype(world["complaints"].dtypes)],
                                     ignore_index=True)
    frames["account_managers"] = world["account_managers"]
    return frames


@dataclass(frozen=True)
class Scored:
    """The world with the twins, scored (row for row with ``ids``), its ranked list, the model, what is typical
    of its active population."""

    result: ScoredCustomers
    ids: list[str]
    ranked: pd.DataFrame
    model: ChurnClassifier
    typical: dict[str, float]
    contributions: pd.DataFrame


@pytest.fixture(scope="module")
def scored(world, trained, cfg) -> Scored:
    model = trained
    tables = prepare_tables(make_tables(world))
    as_of = data_end(tables)
    twins = prepare_tables(make_tables(with_twins(world, as_of)))
    unexplained = score_customers(twins, as_of, model, cfg)
    typical = population_typical(unexplained.features, model_specs(cfg.features))
    notable = population_notable(unexplained.features, model_specs(cfg.features), cfg.scoring.reason_notable_share)
    result = explain_customers(unexplained, typical, notable, cfg)
    lapsed = lapsed_with_owners(twins, as_of, fit_bgnbd(rfm_summary(twins.transactions, as_of)), cfg)
    ranked, _ = worklists(result.for_list(), lapsed, load_playbook(cfg), cfg, as_of=as_of, model_version="twins")
    return Scored(result, result.customers["customer_id"].tolist(), ranked, model, typical,
                  unexplained.contributions)


def test_the_twins_differ_only_in_complaint_features(scored, cfg):
    result, ids = scored.result, scored.ids
    plain, complainer = result.features.iloc[ids.index(PLAIN)], result.features.iloc[ids.index(COMPLAINER)]
    same = [plain[c] == complainer[c] or (pd.isna(plain[c]) and pd.isna(complainer[c])) for c in plain.index]
    differ = list(plain.index[~np.array(same)])
    specs = model_specs(cfg.features)
    assert "open_complaints" in differ
    assert {specs[c].family for c in differ} <= {"open_complaint", "complaint"}
    assert (plain["open_complaints"], complainer["open_complaints"]) == (0, 1)


def test_only_the_twin_with_the_open_complaint_gets_the_complaint_reason_and_action(scored, cfg):
    result, ids = scored.result, scored.ids
    plain, complainer = ids.index(PLAIN), ids.index(COMPLAINER)
    assert "open_complaint" in result.reasons.families[complainer]
    assert not {"open_complaint", "complaint"} & set(result.reasons.families[plain])
    assert f"1 complaint still open, oldest {COMPLAINT_AGE_DAYS} days" in result.reasons.texts[complainer]
    assert not any("complaint" in text for text in result.reasons.texts[plain])

    playbook = load_playbook(cfg)
    deciding = deciding_families(result.reasons.has_family(list(playbook.priority)), playbook.priority)
    assert deciding[complainer] == "open_complaint"
    assert deciding[plain] not in ("open_complaint", "complaint")
    rows = scored.ranked.set_index("customer_id")
    tier = rows.loc[COMPLAINER, "value_tier"]
    planned = rows.loc[COMPLAINER, "action_id"]
    assert pd.isna(planned) or planned in playbook.families["open_complaint"][tier]
    complaint_actions = {a for tiers in (playbook.families["open_complaint"], playbook.families["complaint"])
                         for names in tiers.values() for a in names}
    assert pd.isna(rows.loc[PLAIN, "action_id"]) or rows.loc[PLAIN, "action_id"] not in complaint_actions
    assert "still open" in rows.loc[COMPLAINER, "reasons"] and "still open" not in rows.loc[PLAIN, "reasons"]
    assert rows.loc[COMPLAINER, "customer_value"] == rows.loc[PLAIN, "customer_value"]
    assert rows.loc[COMPLAINER, "churn_probability"] > rows.loc[PLAIN, "churn_probability"]


def test_every_listed_reason_raises_risk_and_reads_as_bad_news(scored, cfg):
    result, typical = scored.result, scored.typical
    contributions = scored.contributions
    specs = model_specs(cfg.features)
    n_reasons = 0
    for row, names in enumerate(result.reasons.features):
        assert len(names) <= cfg.scoring.top_reasons
        for name in names:
            n_reasons += 1
            assert contributions.iloc[row][name] > 0, (row, name)
            direction = specs[name].risk_direction
            assert direction != 0
            assert np.sign(result.features.iloc[row][name] - typical[name]) == direction, (row, name)
    assert n_reasons > len(result.reasons.features)  # more than one reason per customer on average
