"""The churn model as scikit-learn estimators.

- :class:`ChurnBooster`: the feature schema learnt from the training frame (column order, numeric or
  categorical, the categories) + a deterministic LightGBM booster, early-stopped on an ``eval_set``.
- :class:`ChurnClassifier`: a fitted booster (in scikit-learn's ``FrozenEstimator``) + a calibrator fitted on
  data later than the booster's, shaped like ``CalibratedClassifierCV(FrozenEstimator(booster))``. This is what
  ships: ``predict_proba`` gives calibrated churn probabilities, ``contributions`` the per-feature TreeSHAP
  values behind them.

Both enforce the feature schema (columns by name, kinds and categories fixed at training), so the same object
serves the backtest, MLflow and the weekly scoring job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from models.contributions import contributions, lightgbm_matrix

PROBABILITY_FLOOR = 1e-4  # keeps log loss finite after isotonic calibration
CLASSES = np.array([0, 1])  # 1 = churns


class FeatureSchemaMismatch(ValueError):
    """The frame to score does not carry the model's features (missing, extra or retyped columns)."""

    def __init__(self, missing: list[str], extra: list[str], retyped: dict[str, tuple[str, str]]):
        self.missing, self.extra, self.retyped = missing, extra, retyped
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if extra:
            parts.append(f"extra columns: {', '.join(extra)}")
        if retyped:
            parts.append(
                "retyped columns: " + ", ".join(f"{c} (model {a}, data {b})" for c, (a, b) in retyped.items())
            )
        super().__init__("; ".join(parts))


def _is_numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) and not isinstance(
        dtype, pd.CategoricalDtype
    )


@dataclass(frozen=True)
class FeatureSchema:
    """Feature names in model order, their kind ("numeric" or "categorical") and the categories of each."""

    names: tuple[str, ...]
    kinds: dict[str, str]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, fixed: dict[str, tuple[str, ...]] | None = None) -> FeatureSchema:
        """Schema of a training frame: non-numeric columns are categorical, with the ``fixed`` categories
        where given, else the sorted values seen in ``frame``."""
        kinds, categories = {}, {}
        for name in frame.columns:
            if _is_numeric(frame[name]):
                kinds[name] = "numeric"
            else:
                kinds[name] = "categorical"
                seen = tuple(sorted(frame[name].dropna().astype("str").unique()))
                categories[name] = tuple((fixed or {}).get(name, seen))
        return cls(tuple(frame.columns), kinds, categories)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "kinds": self.kinds, "categories": {k: list(v) for k, v in self.categories.items()}}

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def check(self, frame: pd.DataFrame) -> None:
        """Raise FeatureSchemaMismatch unless ``frame`` has exactly these features with compatible kinds."""
        missing = [c for c in self.names if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.kinds]
        retyped = {}
        for name in self.names:
            if name in frame.columns:
                actual = "numeric" if _is_numeric(frame[name]) else "categorical"
                if actual != self.kinds[name]:
                    retyped[name] = (self.kinds[name], actual)
        if missing or extra or retyped:
            raise FeatureSchemaMismatch(missing, extra, retyped)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Columns in model order; categoricals re-coded to the training categories (unknown -> missing)."""
        self.check(frame)
        out = {}
        for name in self.names:
            if self.kinds[name] == "categorical":
                text = frame[name].astype("str")
                known = list(self.categories[name])
                out[name] = pd.Categorical(text.where(text.isin(known)), categories=known)
            else:
                out[name] = frame[name].astype("float64")
        return pd.DataFrame(out, index=frame.index)


# The BG/NBD baseline's churn probability, a model input: the "stacked" calibration weighs it with the booster's.
BASELINE_COLUMN = "bgnbd_p_no_purchase"
CALIBRATION_METHODS = ("isotonic", "sigmoid", "stacked")


def calibration_methods(feature_names) -> tuple[str, ...]:
    """The calibration methods a model on these inputs can take: "stacked" only when the baseline is one."""
    return tuple(m for m in CALIBRATION_METHODS if m != "stacked" or BASELINE_COLUMN in feature_names)


@dataclass(frozen=True)
class Calibrator:
    """Maps raw booster probabilities to calibrated ones.

    "isotonic"; "sigmoid" (Platt scaling on the booster's log-odds); "stacked" (a logistic regression on the
    booster's log-odds and the baseline's, ``BASELINE_COLUMN``: Platt scaling that also learns how far to trust
    BG/NBD beside the booster); "none" (only clipped).
    """

    method: str
    fitted: object = None

    @property
    def needs_baseline(self) -> bool:
        return self.method == "stacked"

    @classmethod
    def fit(cls, method: str, raw: np.ndarray, y: np.ndarray, baseline: np.ndarray | None = None) -> Calibrator:
        """``baseline``: the baseline's churn probabilities of the same rows ("stacked" only)."""
        if method == "isotonic":
            return cls(method, IsotonicRegression(out_of_bounds="clip").fit(raw, y))
        if method == "sigmoid":
            return cls(method, LogisticRegression(C=1e6).fit(_logit(raw)[:, None], y))
        if method == "stacked":
            return cls(method, LogisticRegression(C=1e6).fit(_stacked_inputs(raw, baseline), y))
        if method == "none":
            return cls(method)
        raise ValueError(f"unknown calibration method {method!r}")

    def transform(self, raw: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
        if self.method == "isotonic":
            calibrated = self.fitted.predict(raw)
        elif self.method == "sigmoid":
            calibrated = self.fitted.predict_proba(_logit(raw)[:, None])[:, 1]
        elif self.method == "stacked":
            calibrated = self.fitted.predict_proba(_stacked_inputs(raw, baseline))[:, 1]
        else:
            calibrated = raw
        return np.clip(calibrated, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


def _stacked_inputs(raw: np.ndarray, baseline: np.ndarray | None) -> np.ndarray:
    if baseline is None:
        raise ValueError("the stacked calibration needs the baseline's probabilities beside the booster's")
    baseline = np.asarray(baseline, dtype=float)
    if len(baseline) != len(raw) or np.isnan(baseline).any():
        raise ValueError("the baseline's probabilities must be one number per row, none missing")
    return np.column_stack([_logit(raw), _logit(baseline)])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def lightgbm_params(settings, seed: int) -> dict:
    """LightGBM parameters from the ``model.lightgbm`` config section, made deterministic."""
    params = settings.model_dump() if hasattr(settings, "model_dump") else dict(settings)
    params.pop("n_estimators", None)
    params.pop("early_stopping_rounds", None)
    params.update(objective="binary", seed=seed, verbosity=-1)
    return params


def _binary_labels(y) -> np.ndarray:
    labels = np.asarray(y, dtype=float)
    if not np.isin(labels, CLASSES).all():
        raise ValueError("churn labels must be 0 (stays) or 1 (churns)")
    return labels


def _with_classes(estimator, schema: FeatureSchema) -> None:
    """The fitted attributes scikit-learn expects of a classifier that was fitted on a frame."""
    estimator.classes_ = CLASSES
    estimator.n_features_in_ = len(schema.names)
    estimator.feature_names_in_ = np.array(schema.names, dtype=object)


class ChurnBooster(ClassifierMixin, BaseEstimator):
    """Feature schema + deterministic LightGBM booster; ``predict_proba`` gives its uncalibrated probabilities.

    Args:
        params: LightGBM parameters. The objective is always binary and the seed is ``random_state``;
            training is deterministic and row-wise unless these say otherwise.
        n_estimators: the most boosting rounds.
        early_stopping_rounds: stop when the log loss on ``fit``'s ``eval_set`` has not improved for this
            many rounds (None: train every round).
        categories: the categories of a categorical feature, by name, where fixed in advance (else the sorted
            values seen in training; values outside them are read as missing).
        random_state: LightGBM's seed.
    """

    def __init__(
        self,
        params: dict | None = None,
        *,
        n_estimators: int = 100,
        early_stopping_rounds: int | None = None,
        categories: dict[str, tuple[str, ...]] | None = None,
        random_state: int = 0,
    ):
        self.params = params
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.categories = categories
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y, eval_set: tuple[pd.DataFrame, object] | None = None) -> ChurnBooster:
        """Learn the schema from ``X`` and train the booster; ``eval_set=(X_eval, y_eval)`` for early stopping
        (rows of other customers than ``X``'s, so that it measures generalisation)."""
        self.schema_ = FeatureSchema.from_frame(X, self.categories)
        train = lgb.Dataset(self.schema_.prepare(X), label=_binary_labels(y), free_raw_data=True)
        valid_sets, callbacks = [], []
        if eval_set is not None:
            eval_x, eval_y = eval_set
            valid_sets = [lgb.Dataset(self.schema_.prepare(eval_x), label=_binary_labels(eval_y), reference=train)]
            if self.early_stopping_rounds:
                callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        params = {
            "deterministic": True,
            "force_row_wise": True,
            **(self.params or {}),
            "objective": "binary",
            "seed": self.random_state,
            "verbosity": -1,
        }
        self.booster_ = lgb.train(
            params, train, num_boost_round=self.n_estimators, valid_sets=valid_sets, callbacks=callbacks
        )
        _with_classes(self, self.schema_)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: stays, churns (the booster's own probabilities)."""
        check_is_fitted(self, "booster_")
        churn = self.booster_.predict(self.schema_.prepare(X))
        return np.column_stack([1 - churn, churn])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return CLASSES[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame, method: str = "grouped") -> pd.DataFrame:
        """Per-feature contributions to the raw log-odds (LightGBM's pred_contrib, TreeSHAP), plus ``bias``.

        ``method``: "grouped" (fast; LightGBM's values to 1e-12, each row's signs and order of contributions
        exactly LightGBM's) or "lightgbm" (LightGBM's own, row by row); see :mod:`models.contributions`.
        """
        check_is_fitted(self, "booster_")
        matrix = lightgbm_matrix(self.schema_.prepare(X), self.booster_.pandas_categorical)
        values = contributions(self.booster_, matrix, method)
        return pd.DataFrame(values, index=X.index, columns=[*self.schema_.names, "bias"], copy=False)


def make_booster(settings, seed: int, categories: dict[str, tuple[str, ...]] | None = None) -> ChurnBooster:
    """An unfitted ChurnBooster with the ``model.lightgbm`` config section's settings."""
    return ChurnBooster(
        lightgbm_params(settings, seed),
        n_estimators=settings.n_estimators,
        early_stopping_rounds=settings.early_stopping_rounds,
        categories=categories,
        random_state=seed,
    )


class ChurnClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A fitted :class:`ChurnBooster` and a calibrator fitted on later data: the churn model that ships.

    The shape of ``CalibratedClassifierCV(FrozenEstimator(booster), method=...)``: ``fit`` fits only the
    calibrator, on the rows it is given, which should be later than the booster's training data (the booster
    is never refitted; wrap it in ``FrozenEstimator`` so that ``clone`` keeps it). Unlike scikit-learn's,
    "sigmoid" is Platt scaling on the booster's log-odds, "stacked" also weighs the BG/NBD baseline's log-odds
    (read from the input column ``BASELINE_COLUMN``, a model input), and the probabilities stay within
    [1e-4, 1 - 1e-4] so that log loss stays finite. The contributions (and so the reasons) are the booster's.

    Args:
        estimator: a fitted ChurnBooster, as ``FrozenEstimator(booster)``.
        method: "isotonic", "sigmoid", "stacked" or "none" (see :class:`Calibrator`).
        contribution_method: how :meth:`contributions` are computed: "grouped" (fast) or "lightgbm"
            (LightGBM's pred_contrib, row by row: the switch back; see :mod:`models.contributions`).
    """

    def __init__(self, estimator, *, method: str = "isotonic", contribution_method: str = "grouped"):
        self.estimator = estimator
        self.method = method
        self.contribution_method = contribution_method

    def fit(self, X: pd.DataFrame, y) -> ChurnClassifier:
        check_is_fitted(
            self.estimator, "booster_",
            msg="ChurnClassifier calibrates a fitted booster: fit a ChurnBooster on earlier data first and pass "
            "FrozenEstimator(booster)",
        )
        _check_baseline_input(self.method, self.estimator.schema_)
        raw = self.estimator.predict_proba(X)[:, 1]
        baseline = X[BASELINE_COLUMN].to_numpy(dtype=float) if self.method == "stacked" else None
        self.calibrator_ = Calibrator.fit(self.method, raw, _binary_labels(y), baseline)
        _with_classes(self, self.estimator.schema_)
        return self

    @classmethod
    def calibrated_with(cls, booster: ChurnBooster, calibrator: Calibrator, **params) -> ChurnClassifier:
        """A fitted classifier around ``booster`` whose calibrator was fitted elsewhere, e.g. on out-of-fold scores
        of other boosters (cross-fitting), which ``fit`` cannot see."""
        _check_baseline_input(calibrator.method, booster.schema_)
        model = cls(FrozenEstimator(booster), method=calibrator.method, **params)
        model.calibrator_ = calibrator
        _with_classes(model, booster.schema_)
        return model

    @property
    def schema(self) -> FeatureSchema:
        """The features the model takes, in its order, with their kinds and categories."""
        return self.estimator.schema_

    @property
    def booster(self) -> lgb.Booster:
        """The LightGBM booster (e.g. for its feature importance)."""
        return self.estimator.booster_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: stays, churns (calibrated)."""
        check_is_fitted(self, "calibrator_")
        churn = self.calibrate(self.estimator.predict_proba(X)[:, 1], X)
        return np.column_stack([1 - churn, churn])

    def calibrate(self, raw: np.ndarray, X: pd.DataFrame) -> np.ndarray:
        """The calibrated probabilities of ``X``'s rows, given their raw booster probabilities ``raw``."""
        baseline = X[BASELINE_COLUMN].to_numpy(dtype=float) if self.calibrator_.needs_baseline else None
        return self.calibrator_.transform(raw, baseline)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return CLASSES[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the booster's raw log-odds, plus ``bias`` (see
        :meth:`ChurnBooster.contributions`); computed by ``contribution_method``."""
        return self.estimator.contributions(X, self.contribution_method)

    def predict_with_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """:meth:`predict_proba` and :meth:`contributions` in one pass through the trees.

        A row's contributions add up to its raw log-odds (TreeSHAP's local accuracy), so the probabilities are
        read from their sums: the same as predict_proba's up to the order of summation (~1e-15), without
        LightGBM's second walk of every row through every tree (~7 s per million rows on two cores).
        """
        check_is_fitted(self, "calibrator_")
        values = self.contributions(X)
        log_odds = values.to_numpy().sum(axis=1)
        churn = self.calibrate(1.0 / (1.0 + np.exp(-log_odds)), X) if len(X) else log_odds
        return np.column_stack([1 - churn, churn]), values


def _check_baseline_input(method: str, schema: FeatureSchema) -> None:
    if method == "stacked" and BASELINE_COLUMN not in schema.names:
        raise ValueError(f"the stacked calibration reads {BASELINE_COLUMN}, which is not one of the model's inputs")


def holdout_customers(customer_ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """Boolean mask of rows whose customer is in a seeded random ``share`` of customers (all their snapshots)."""
    unique = np.sort(customer_ids.unique())
    rng = np.random.default_rng(seed)
    chosen = unique[rng.random(len(unique)) < share]
    return customer_ids.isin(chosen).to_numpy()


