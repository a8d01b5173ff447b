"""The churn model: a deterministic LightGBM booster plus a probability calibrator, as one object.

``ChurnModel.predict_proba`` enforces the feature schema (columns by name, categories fixed at training), so
the same object serves the backtest, MLflow and the weekly scoring job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

PROBABILITY_FLOOR = 1e-4  # keeps log loss finite after isotonic calibration


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


@dataclass(frozen=True)
class Calibrator:
    """Maps raw booster probabilities to calibrated ones: "isotonic", "sigmoid" (Platt on the logit) or "none"."""

    method: str
    fitted: object = None

    @classmethod
    def fit(cls, method: str, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if method == "isotonic":
            return cls(method, IsotonicRegression(out_of_bounds="clip").fit(raw, y))
        if method == "sigmoid":
            return cls(method, LogisticRegression(C=1e6).fit(_logit(raw)[:, None], y))
        if method == "none":
            return cls(method)
        raise ValueError(f"unknown calibration method {method!r}")

    def transform(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            calibrated = self.fitted.predict(raw)
        elif self.method == "sigmoid":
            calibrated = self.fitted.predict_proba(_logit(raw)[:, None])[:, 1]
        else:
            calibrated = raw
        return np.clip(calibrated, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


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


@dataclass
class ChurnModel:
    """Feature schema + LightGBM booster + calibrator; predict_proba gives calibrated churn probabilities."""

    schema: FeatureSchema
    booster: lgb.Booster
    calibrator: Calibrator

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.schema.prepare(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        churn = self.calibrator.transform(self.predict_raw(frame))
        return np.column_stack([1 - churn, churn])

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the raw log-odds (LightGBM pred_contrib), plus a ``bias`` column."""
        values = self.booster.predict(self.schema.prepare(frame), pred_contrib=True)
        return pd.DataFrame(values, index=frame.index, columns=[*self.schema.names, "bias"])

    def with_calibrator(self, calibrator: Calibrator) -> ChurnModel:
        return ChurnModel(self.schema, self.booster, calibrator)


def fit_booster(
    train_x: pd.DataFrame,
    train_y: np.ndarray,
    valid_x: pd.DataFrame,
    valid_y: np.ndarray,
    settings,
    seed: int,
    schema: FeatureSchema,
) -> lgb.Booster:
    """Train a deterministic LightGBM booster with early stopping on the validation rows."""
    params = lightgbm_params(settings, seed)
    train_set = lgb.Dataset(schema.prepare(train_x), label=train_y, free_raw_data=True)
    valid_set = lgb.Dataset(schema.prepare(valid_x), label=valid_y, reference=train_set)
    return lgb.train(
        params,
        train_set,
        num_boost_round=settings.n_estimators,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
    )


def holdout_customers(customer_ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """Boolean mask of rows whose customer is in a seeded random ``share`` of customers (all their snapshots)."""
    unique = np.sort(customer_ids.unique())
    rng = np.random.default_rng(seed)
    chosen = unique[rng.random(len(unique)) < share]
    return customer_ids.isin(chosen).to_numpy()
