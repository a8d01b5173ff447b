"""The churn model: feature schema, calibrators, a deterministic booster, the calibrated scikit-learn classifier,
customer-level early-stopping holdout."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models.estimator import (
    BASELINE_COLUMN,
    PROBABILITY_FLOOR,
    Calibrator,
    ChurnBooster,
    ChurnClassifier,
    FeatureSchema,
    FeatureSchemaMismatch,
    calibration_methods,
    holdout_customers,
    make_booster,
)
from tests.models.small_model import FEATURES, SETTINGS, fit_booster, synthetic

# ---------------------------------------------------------------------------------------------- feature schema


def _training_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenure": [10.0, 400.0, 35.5, 90.0],
            "segment": pd.Series(["retail", "b2b", None, "retail"], dtype="str"),
            "count": np.array([1, 0, 3, 2], dtype="int64"),
        }
    )


def test_schema_from_frame_kinds_and_sorted_categories():
    schema = FeatureSchema.from_frame(_training_frame())
    assert schema.names == ("tenure", "segment", "count")
    assert schema.kinds == {"tenure": "numeric", "segment": "categorical", "count": "numeric"}
    # the values seen, missing left out, sorted
    assert schema.categories == {"segment": ("b2b", "retail")}


def test_schema_from_frame_takes_fixed_categories_as_given():
    schema = FeatureSchema.from_frame(_training_frame(), fixed={"segment": ("retail", "b2b", "public")})
    assert schema.categories == {"segment": ("retail", "b2b", "public")}


def test_schema_check_names_missing_extra_and_retyped_columns():
    schema = FeatureSchema.from_frame(_training_frame())
    bad = pd.DataFrame(
        {
            "tenure": pd.Series(["10", "400"], dtype="str"),  # numeric at training, text now
            "segment": ["retail", "b2b"],
            "zzz": [1.0, 2.0],  # unknown to the model
        }  # "count" is missing
    )
    with pytest.raises(FeatureSchemaMismatch) as caught:
        schema.check(bad)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.missing == ["count"]
    assert error.extra == ["zzz"]
    assert error.retyped == {"tenure": ("numeric", "categorical")}
    message = str(error)
    assert "missing columns: count" in message
    assert "extra columns: zzz" in message
    assert "retyped columns: tenure (model numeric, data categorical)" in message


def test_schema_check_flags_a_categorical_feature_that_arrives_as_numbers():
    schema = FeatureSchema.from_frame(_training_frame())
    frame = pd.DataFrame({"tenure": [1.0], "segment": [3], "count": [1]})
    with pytest.raises(FeatureSchemaMismatch, match=r"segment \(model categorical, data numeric\)") as caught:
        schema.check(frame)
    assert caught.value.missing == [] and caught.value.extra == []


def test_schema_check_accepts_the_same_columns_in_another_order():
    schema = FeatureSchema.from_frame(_training_frame())
    schema.check(_training_frame()[["count", "segment", "tenure"]])  # must not raise


def test_schema_prepare_orders_by_name_and_sends_unknown_categories_to_missing():
    schema = FeatureSchema.from_frame(_training_frame())
    scoring = pd.DataFrame(
        {
            "count": np.array([5, 7, 0], dtype="int64"),
            "segment": pd.Series(
                ["public", "b2b", "retail"], index=[40, 41, 42], dtype="str"
            ),  # "public": unseen
            "tenure": [1.0, 2.0, 3.0],
        },
        index=[40, 41, 42],
    )
    before = scoring.copy()
    prepared = schema.prepare(scoring)
    assert list(prepared.columns) == ["tenure", "segment", "count"]
    assert list(prepared.index) == [40, 41, 42]
    assert prepared["tenure"].tolist() == [1.0, 2.0, 3.0]
    assert prepared["count"].dtype == "float64"
    assert prepared["count"].tolist() == [5.0, 7.0, 0.0]
    assert isinstance(prepared["segment"].dtype, pd.CategoricalDtype)
    assert list(prepared["segment"].cat.categories) == ["b2b", "retail"]
    assert pd.isna(prepared["segment"].iloc[0])
    assert prepared["segment"].iloc[1:].tolist() == ["b2b", "retail"]
    # the codes follow the training categories, whatever the scoring frame holds
    assert prepared["segment"].cat.codes.tolist() == [-1, 0, 1]
    pd.testing.assert_frame_equal(scoring, before)


def test_schema_prepare_handles_unknown_categories_without_deprecated_pandas_behaviour():
    # Building a Categorical from values outside its categories is deprecated in pandas 3 and raises in
    # pandas 4 (pyproject allows pandas>=3.0 with no upper bound): a new segment at scoring time must still
    # become missing, not an error, so prepare() must not lean on that behaviour.
    schema = FeatureSchema.from_frame(_training_frame())
    scoring = pd.DataFrame(
        {
            "tenure": [1.0],
            "segment": pd.Series(["public"], dtype="str"),
            "count": np.array([5], dtype="int64"),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        prepared = schema.prepare(scoring)
    assert pd.isna(prepared["segment"].iloc[0])


# ---------------------------------------------------------------------------------------------- calibrator


def test_isotonic_calibrator_by_hand():
    raw = np.array([0.1, 0.2, 0.3, 0.4])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    # Pool adjacent violators: 0, 1, 0, 1 -> the violating pair (1, 0) pools to 0.5 -> 0, 0.5, 0.5, 1;
    # the ends are kept away from 0 and 1 by the 1e-4 floor. Outside the fitted range: clipped to the ends.
    calibrator = Calibrator.fit("isotonic", raw, y)
    assert calibrator.transform(raw) == pytest.approx([1e-4, 0.5, 0.5, 1 - 1e-4])
    assert calibrator.transform(np.array([0.0, 0.25, 0.9])) == pytest.approx([1e-4, 0.5, 1 - 1e-4])


def test_none_calibrator_only_clips():
    calibrator = Calibrator.fit("none", np.array([0.2, 0.8]), np.array([0.0, 1.0]))
    assert calibrator.transform(np.array([0.0, 0.3, 1.0])) == pytest.approx(
        [PROBABILITY_FLOOR, 0.3, 1 - PROBABILITY_FLOOR]
    )


def test_stacked_calibrator_by_hand():
    # Three (booster, baseline) pairs, each repeated: a logistic regression with an intercept and two slopes has
    # as many parameters as patterns, so its maximum likelihood fit reproduces each pattern's churn rate:
    #   (0.5, 0.5), 1 of 2 churn:  logit 1/2 = 0     = a
    #   (0.75, 0.5), 3 of 4:       logit 3/4 = ln 3  = a + b1 ln 3          -> b1 = 1
    #   (0.5, 0.8), 2 of 3:        logit 2/3 = ln 2  = a + b2 ln 4          -> b2 = 1/2
    raw = np.array([0.5] * 2 + [0.75] * 4 + [0.5] * 3)
    baseline = np.array([0.5] * 2 + [0.5] * 4 + [0.8] * 3)
    y = np.array([1, 0] + [1, 1, 1, 0] + [1, 1, 0], dtype=float)
    calibrator = Calibrator.fit("stacked", raw, y, baseline)
    assert calibrator.needs_baseline
    assert calibrator.fitted.intercept_[0] == pytest.approx(0.0, abs=1e-3)
    assert calibrator.fitted.coef_[0] == pytest.approx([1.0, 0.5], abs=1e-3)
    assert calibrator.transform(raw[[0, 2, 6]], baseline[[0, 2, 6]]) == pytest.approx([1 / 2, 3 / 4, 2 / 3], abs=1e-3)
    # a new pair: logit = ln 9 + (1/2) ln(1/4) = ln 4.5 -> 4.5 / 5.5
    assert calibrator.transform(np.array([0.9]), np.array([0.2])) == pytest.approx([4.5 / 5.5], abs=1e-3)
    # the baseline moves the probability the booster alone would give: Platt scaling cannot
    assert calibrator.transform(np.array([0.5, 0.5]), np.array([0.2, 0.8])) == pytest.approx([1 / 3, 2 / 3], abs=1e-3)


def test_stacked_calibrator_refuses_a_missing_baseline():
    raw, y = np.array([0.2, 0.4, 0.6, 0.8]), np.array([0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="needs the baseline's probabilities"):
        Calibrator.fit("stacked", raw, y)
    with pytest.raises(ValueError, match="one number per row, none missing"):
        Calibrator.fit("stacked", raw, y, np.array([0.1, np.nan, 0.3, 0.4]))
    fitted = Calibrator.fit("stacked", raw, y, np.array([0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(ValueError, match="needs the baseline's probabilities"):
        fitted.transform(raw)
    with pytest.raises(ValueError, match="one number per row"):
        fitted.transform(raw, np.array([0.1]))


def test_stacked_calibration_is_offered_only_when_the_baseline_is_a_model_input():
    assert calibration_methods(["days_quiet", BASELINE_COLUMN]) == ("isotonic", "sigmoid", "stacked")
    assert calibration_methods(["days_quiet"]) == ("isotonic", "sigmoid")


def test_unknown_calibration_method_is_refused():
    with pytest.raises(ValueError, match="unknown calibration method 'platt'"):
        Calibrator.fit("platt", np.array([0.5]), np.array([1.0]))


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrators_repair_a_cubed_probability(method):
    rng = np.random.default_rng(11)
    p = rng.random(4000)
    y = (rng.random(4000) < p).astype(float)
    reported = p**3
    fit, test = slice(0, 2000), slice(2000, 4000)
    calibrator = Calibrator.fit(method, reported[fit], y[fit])

    def brier(q):
        return float(np.mean((y[test] - q) ** 2))

    # With p ~ U(0, 1): E[(y - q)^2] = E[p(1 - p)] + E[(p - q)^2]. Calibrated (q = p): 1/2 - 1/3 = 1/6 = 0.1667.
    # Reported q = p^3 adds E[(p - p^3)^2] = E[p^2 - 2p^4 + p^6] = 1/3 - 2/5 + 1/7 = 8/105 = 0.0762 -> 0.2429.
    assert brier(reported[test]) == pytest.approx(1 / 6 + 8 / 105, abs=0.015)
    assert brier(p[test]) == pytest.approx(1 / 6, abs=0.015)
    calibrated = calibrator.transform(reported[test])
    # the calibrator removes nearly all of the 0.076 excess: within 0.006 of the truth's own Brier score
    assert brier(calibrated) < brier(reported[test]) - 0.06
    assert brier(calibrated) < brier(p[test]) + 0.006
    assert calibrated.min() >= PROBABILITY_FLOOR and calibrated.max() <= 1 - PROBABILITY_FLOOR


# ---------------------------------------------------------------------------------------------- booster


def _raw(model: ChurnBooster, rows: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(rows)[:, 1]


def test_same_seed_gives_identical_predictions(data, model):
    again = fit_booster(data, seed=42)
    scoring = data[FEATURES].iloc[:500]
    np.testing.assert_array_equal(_raw(model, scoring), _raw(again, scoring))


def test_another_seed_gives_another_model(data, model):
    # bagging (subsample 0.8) and column sampling (0.8) draw from the seed
    other = fit_booster(data, seed=43)
    scoring = data[FEATURES].iloc[:500]
    assert not np.array_equal(_raw(model, scoring), _raw(other, scoring))


def test_booster_learns_the_planted_signal(data, model):
    # churn rises with days_quiet (coefficient +1.5): the top and bottom deciles must be far apart
    scoring = data[FEATURES]
    raw = _raw(model, scoring)
    low, high = np.quantile(scoring["days_quiet"], [0.1, 0.9])
    assert raw[scoring["days_quiet"] >= high].mean() - raw[scoring["days_quiet"] <= low].mean() > 0.4


def test_early_stopping_on_the_eval_set_stops_before_the_last_round(data, model):
    # 50 rounds at most, stopped after 10 without improvement on the held-out customers
    assert model.booster_.num_trees() < SETTINGS.n_estimators
    unstopped = make_booster(SETTINGS, 42).fit(data[FEATURES], data["churned"])
    assert unstopped.booster_.num_trees() == SETTINGS.n_estimators


def test_column_order_of_the_scoring_frame_does_not_matter(data, model):
    scoring = data[FEATURES].iloc[:300]
    shuffled = scoring[["plan", "promo_share", "days_quiet"]]
    np.testing.assert_array_equal(model.predict_proba(scoring), model.predict_proba(shuffled))


def test_booster_predict_proba_columns_are_stay_and_churn(data, model):
    scoring = data[FEATURES].iloc[:50]
    proba = model.predict_proba(scoring)
    assert proba.shape == (50, 2)
    np.testing.assert_array_equal(proba[:, 1], model.booster_.predict(model.schema_.prepare(scoring)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(scoring), (proba[:, 1] >= 0.5).astype(int))


def test_labels_other_than_0_and_1_are_refused(data):
    with pytest.raises(ValueError, match="churn labels must be 0 .stays. or 1 .churns."):
        make_booster(SETTINGS, 1).fit(data[FEATURES], data["churned"] * 2)


def test_scoring_frame_with_an_extra_column_is_refused(data, model):
    with pytest.raises(FeatureSchemaMismatch, match="extra columns: customer_id"):
        model.predict_proba(data[["customer_id", *FEATURES]].iloc[:5])


# ---------------------------------------------------------------------------------------------- classifier


def _calibrated(model: ChurnBooster, data: pd.DataFrame, method: str) -> ChurnClassifier:
    later = data.iloc[-900:]  # stands in for a later cutoff
    return ChurnClassifier(FrozenEstimator(model), method=method).fit(later[FEATURES], later["churned"])


def test_the_classifier_is_the_booster_then_its_calibrator(data, model):
    calibrated = _calibrated(model, data, "isotonic")
    scoring = data[FEATURES].iloc[:200]
    later = data.iloc[-900:]
    by_hand = Calibrator.fit("isotonic", _raw(model, later[FEATURES]), later["churned"].to_numpy())
    np.testing.assert_array_equal(calibrated.predict_proba(scoring)[:, 1], by_hand.transform(_raw(model, scoring)))
    assert calibrated.schema is model.schema_ and calibrated.booster is model.booster_


def test_the_classifier_is_a_scikit_learn_classifier_that_clones_and_sits_in_a_pipeline(data, model):
    calibrated = _calibrated(model, data, "sigmoid")
    assert is_classifier(calibrated) and is_classifier(model)
    assert list(calibrated.classes_) == [0, 1]
    assert calibrated.get_params()["method"] == "sigmoid"

    # clone keeps the frozen booster, not the calibrator: fitting the clone recalibrates on what it is given
    copy = clone(calibrated)
    assert copy.estimator is calibrated.estimator and not hasattr(copy, "calibrator_")
    with pytest.raises(NotFittedError):
        copy.predict_proba(data[FEATURES].iloc[:5])
    later = data.iloc[-900:]
    pipeline = Pipeline([("features", FunctionTransformer(lambda frame: frame[FEATURES])), ("churn", copy)])
    pipeline.fit(later, later["churned"])
    np.testing.assert_array_equal(
        pipeline.predict_proba(data.iloc[:100]), calibrated.predict_proba(data[FEATURES].iloc[:100])
    )

    # an unfitted booster is trained by a pipeline like any classifier
    fresh = Pipeline([("features", FunctionTransformer(lambda frame: frame[FEATURES])), ("churn", clone(model))])
    fresh.fit(data, data["churned"])
    assert fresh.predict_proba(data.iloc[:10]).shape == (10, 2)


def test_the_classifier_refuses_an_unfitted_booster(data):
    with pytest.raises(NotFittedError, match="fit a ChurnBooster on earlier data first"):
        ChurnClassifier(make_booster(SETTINGS, 1)).fit(data[FEATURES], data["churned"])


def test_the_classifier_survives_pickling_unchanged(data, model):
    import pickle

    calibrated = _calibrated(model, data, "isotonic")
    again = pickle.loads(pickle.dumps(calibrated))
    scoring = data[FEATURES].iloc[:300]
    np.testing.assert_array_equal(again.predict_proba(scoring), calibrated.predict_proba(scoring))


def test_contributions_add_up_to_the_raw_log_odds(data, model):
    scoring = data[FEATURES].iloc[:100]
    calibrated = _calibrated(model, data, "none")
    contributions = calibrated.contributions(scoring)
    assert list(contributions.columns) == [*FEATURES, "bias"]
    assert list(contributions.index) == list(scoring.index)
    raw = _raw(model, scoring)
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(raw / (1 - raw)), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_predict_with_contributions_is_predict_proba_and_contributions_in_one_pass(data, model, method):
    calibrated = _calibrated(model, data, method)
    scoring = data[FEATURES].iloc[:200]
    proba, contributions = calibrated.predict_with_contributions(scoring)
    np.testing.assert_allclose(proba, calibrated.predict_proba(scoring), rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(contributions, calibrated.contributions(scoring))
    empty_proba, empty_contributions = calibrated.predict_with_contributions(scoring.iloc[:0])
    assert empty_proba.shape == (0, 2) and empty_contributions.shape == (0, len(FEATURES) + 1)


# ---------------------------------------------------------------------------------------------- stacked


@pytest.fixture(scope="module")
def with_baseline() -> pd.DataFrame:
    """The small problem plus a baseline's churn probability sigmoid(z) of a trait z that matters only in the last
    900 rows (the later data the classifier is calibrated on): there the labels are redrawn with 1.5 z added to
    the planted log-odds, so the booster, trained on the earlier rows, cannot have learnt what the baseline knows."""
    data = synthetic()
    rng = np.random.default_rng(8)
    z = rng.normal(size=len(data))
    plan_effect = data["plan"].map({"basic": 0.0, "plus": 0.8, "pro": -0.8}).to_numpy()
    logit = 1.5 * data["days_quiet"].to_numpy() - 2.0 * (data["promo_share"].to_numpy() - 0.5) + plan_effect
    later = np.arange(len(data)) >= len(data) - 900
    redrawn = (rng.random(len(data)) < 1 / (1 + np.exp(-(logit + 1.5 * z)))).astype(float)
    churned = np.where(later, redrawn, data["churned"].to_numpy())
    return data.assign(churned=churned, **{BASELINE_COLUMN: 1 / (1 + np.exp(-z))})


STACKED_FEATURES = [*FEATURES, BASELINE_COLUMN]


@pytest.fixture(scope="module")
def stacked(with_baseline) -> ChurnClassifier:
    early = with_baseline.iloc[:-900]
    held_out = holdout_customers(early["customer_id"], 0.2, seed=3)
    x, y = early[STACKED_FEATURES], early["churned"].to_numpy()
    booster = make_booster(SETTINGS, 42).fit(x[~held_out], y[~held_out], eval_set=(x[held_out], y[held_out]))
    later = with_baseline.iloc[-900:]
    return ChurnClassifier(FrozenEstimator(booster), method="stacked").fit(later[STACKED_FEATURES], later["churned"])


def test_the_stacked_classifier_reads_the_baseline_from_its_input_frame(with_baseline, stacked):
    later, scoring = with_baseline.iloc[-900:], with_baseline[STACKED_FEATURES].iloc[:300]
    booster = stacked.estimator
    by_hand = Calibrator.fit(
        "stacked", _raw(booster, later[STACKED_FEATURES]), later["churned"].to_numpy(), later[BASELINE_COLUMN]
    )
    expected = by_hand.transform(_raw(booster, scoring), scoring[BASELINE_COLUMN].to_numpy())
    np.testing.assert_array_equal(stacked.predict_proba(scoring)[:, 1], expected)
    # fitted on the later rows, the stack weighs the baseline (z with slope 1.5) beside the booster
    booster_slope, baseline_slope = stacked.calibrator_.fitted.coef_[0]
    assert booster_slope > 0.5 and 1.0 < baseline_slope < 2.0
    # the column order of the frame does not matter, the baseline is found by name
    np.testing.assert_array_equal(stacked.predict_proba(scoring[STACKED_FEATURES[::-1]]), stacked.predict_proba(scoring))


def test_the_stacked_classifier_gives_predict_proba_with_its_contributions(with_baseline, stacked):
    scoring = with_baseline[STACKED_FEATURES].iloc[:200]
    proba, contributions = stacked.predict_with_contributions(scoring)
    np.testing.assert_allclose(proba, stacked.predict_proba(scoring), rtol=0, atol=1e-12)
    # the reasons stay the booster's: its contributions, adding up to its raw log-odds
    pd.testing.assert_frame_equal(contributions, stacked.estimator.contributions(scoring))
    raw = _raw(stacked.estimator, scoring)
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(raw / (1 - raw)), rtol=1e-6, atol=1e-9)
    empty_proba, _ = stacked.predict_with_contributions(scoring.iloc[:0])
    assert empty_proba.shape == (0, 2)


def test_the_stacked_classifier_survives_pickling_and_clones_to_its_method(with_baseline, stacked):
    import pickle

    scoring = with_baseline[STACKED_FEATURES].iloc[:100]
    again = pickle.loads(pickle.dumps(stacked))
    np.testing.assert_array_equal(again.predict_proba(scoring), stacked.predict_proba(scoring))
    assert clone(stacked).get_params()["method"] == "stacked"


def test_a_model_without_the_baseline_input_refuses_the_stacked_calibration(data, model):
    with pytest.raises(ValueError, match=f"reads {BASELINE_COLUMN}, which is not one of the model's inputs"):
        _calibrated(model, data, "stacked")
    calibrator = Calibrator.fit("stacked", np.array([0.2, 0.8]), np.array([0.0, 1.0]), np.array([0.3, 0.6]))
    with pytest.raises(ValueError, match="not one of the model's inputs"):
        ChurnClassifier.calibrated_with(model, calibrator)


# ---------------------------------------------------------------------------------------------- holdout


def _ids() -> pd.Series:
    # 300 customers with 1, 2, 3 or 4 rows each, rows interleaved
    counts = np.arange(300) % 4 + 1
    ids = np.repeat([f"k{i:03d}" for i in range(300)], counts)
    return pd.Series(np.random.default_rng(0).permutation(ids), dtype="str")


def test_holdout_keeps_every_row_of_a_customer_on_one_side():
    ids = _ids()
    mask = holdout_customers(ids, 0.25, seed=9)
    assert mask.dtype == bool and len(mask) == len(ids)
    per_customer = pd.Series(mask).groupby(ids.to_numpy()).agg(["min", "max"])
    assert (per_customer["min"] == per_customer["max"]).all()
    held = int(per_customer["max"].sum())
    # Binomial(300, 0.25): mean 75, sd 7.5
    assert 45 <= held <= 105


def test_holdout_is_seeded_and_ignores_row_order():
    ids = _ids()
    chosen = set(ids[holdout_customers(ids, 0.25, seed=9)])
    assert chosen == set(ids[holdout_customers(ids, 0.25, seed=9)])
    assert chosen != set(ids[holdout_customers(ids, 0.25, seed=10)])
    reordered = ids.sort_values().reset_index(drop=True)
    assert set(reordered[holdout_customers(reordered, 0.25, seed=9)]) == chosen


def test_holdout_share_zero_and_one():
    ids = _ids()
    assert not holdout_customers(ids, 0.0, seed=1).any()
    assert holdout_customers(ids, 1.0, seed=1).all()
