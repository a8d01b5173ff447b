"""Grouped contributions (models/contributions.py) against LightGBM's own pred_contrib, and the switch back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator

from models import contributions, estimator
from models.estimator import ChurnBooster, ChurnClassifier
from tests.models.small_model import FEATURES


def _awkward_rows(data: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Scoring rows with what the grouping must keep apart: exact zeros, missing values, values on and next to
    the booster's thresholds, and a category the booster never saw."""
    rng = np.random.default_rng(seed)
    rows = data[FEATURES].sample(n, replace=True, random_state=seed).reset_index(drop=True)
    quiet = rows["days_quiet"].to_numpy().copy()
    quiet[rng.random(n) < 0.1] = 0.0
    quiet[rng.random(n) < 0.1] = -0.0
    quiet[rng.random(n) < 0.1] = np.nan
    promo = rows["promo_share"].to_numpy().copy()
    promo[rng.random(n) < 0.1] = np.nan
    plan = rows["plan"].to_numpy(dtype=object)
    plan[rng.random(n) < 0.05] = None
    plan[rng.random(n) < 0.05] = "enterprise"  # unseen at training
    return pd.DataFrame(
        {"days_quiet": quiet, "promo_share": promo, "plan": pd.Series(plan, dtype="str")}
    )


def _thresholds(model: ChurnBooster, feature: int) -> np.ndarray:
    dump = model.booster_.dump_model()["tree_info"]
    found = []

    def walk(node):
        if "split_feature" in node:
            if node["split_feature"] == feature and node["decision_type"] == "<=":
                found.append(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in dump:
        walk(tree["tree_structure"])
    return np.array(found)


def test_grouped_contributions_equal_lightgbms_pred_contrib(data, model):
    rows = _awkward_rows(data, 3000, seed=11)
    on_threshold = _thresholds(model, 0)[:200]
    rows.loc[: len(on_threshold) - 1, "days_quiet"] = on_threshold  # exactly on a split
    rows.loc[200: 200 + len(on_threshold) - 1, "days_quiet"] = np.nextafter(on_threshold, np.inf)
    ours = model.contributions(rows, method="grouped")
    theirs = model.booster_.predict(model.schema_.prepare(rows), pred_contrib=True)
    np.testing.assert_allclose(ours.to_numpy(), theirs, rtol=0, atol=1e-12)
    # the switch back is LightGBM's own values, exactly
    np.testing.assert_array_equal(model.contributions(rows, method="lightgbm").to_numpy(), theirs)
    # every row's drivers in LightGBM's order, with LightGBM's signs
    feature_part = ours.to_numpy()[:, :-1]
    np.testing.assert_array_equal(np.sign(feature_part), np.sign(theirs[:, :-1]))
    np.testing.assert_array_equal(
        np.argsort(-feature_part, axis=1, kind="stable"), np.argsort(-theirs[:, :-1], axis=1, kind="stable")
    )


def test_grouped_contributions_do_not_depend_on_chunks_or_threads(data, model, monkeypatch):
    rows = _awkward_rows(data, 2500, seed=12)
    whole = model.contributions(rows).to_numpy()
    monkeypatch.setattr(contributions, "CONTRIBUTION_CHUNK_ROWS", 300)  # 9 chunks over 2 threads
    matrix = contributions.lightgbm_matrix(model.schema_.prepare(rows), model.booster_.pandas_categorical)
    for threads in (1, 2):
        np.testing.assert_array_equal(contributions.tree_contributions(model.booster_, matrix, threads), whole)


def test_the_classifier_takes_its_contribution_method_from_its_parameter(data, model, monkeypatch):
    rows = _awkward_rows(data, 500, seed=13)
    later = data.iloc[-900:]
    calibrated = ChurnClassifier(FrozenEstimator(model), method="sigmoid").fit(later[FEATURES], later["churned"])
    asked = []
    real = contributions.contributions
    monkeypatch.setattr(
        estimator, "contributions", lambda booster, matrix, method: asked.append(method) or real(booster, matrix, method)
    )
    grouped = calibrated.predict_with_contributions(rows)
    lightgbm = calibrated.set_params(contribution_method="lightgbm").predict_with_contributions(rows)
    assert asked == ["grouped", "lightgbm"]
    np.testing.assert_allclose(lightgbm[1].to_numpy(), grouped[1].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(lightgbm[0], grouped[0], rtol=0, atol=1e-12)


def test_an_unknown_contribution_method_is_refused(data, model):
    with pytest.raises(ValueError, match="unknown contribution method 'shap': use one of grouped, lightgbm"):
        model.contributions(data[FEATURES].iloc[:3], method="shap")
