"""A small churn problem with a known answer, and a ChurnBooster fitted on it (shared by the model tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from models.estimator import ChurnBooster, holdout_customers, make_booster


@dataclass(frozen=True)
class SmallLightGBM:
    """The ``model.lightgbm`` config section, small: make_booster reads attributes, lightgbm_params model_dump()."""

    n_estimators: int = 50
    learning_rate: float = 0.1
    num_leaves: int = 15
    min_child_samples: int = 20
    subsample: float = 0.8
    subsample_freq: int = 1
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 10
    num_threads: int = 1
    deterministic: bool = True
    force_row_wise: bool = True

    def model_dump(self) -> dict:
        return asdict(self)


SETTINGS = SmallLightGBM()
FEATURES = ["days_quiet", "promo_share", "plan"]


def synthetic(n_customers: int = 1000, per_customer: int = 3, seed: int = 5) -> pd.DataFrame:
    """Rows of (customer_id, two numeric features, one text category) with labels from a known logistic model."""
    rng = np.random.default_rng(seed)
    n = n_customers * per_customer
    ids = np.repeat([f"cust{i:04d}" for i in range(n_customers)], per_customer)
    x1 = rng.normal(size=n)
    x2 = rng.random(n)
    plan = rng.choice(np.array(["basic", "plus", "pro"]), size=n)
    logit = 1.5 * x1 - 2.0 * (x2 - 0.5) + np.select([plan == "plus", plan == "pro"], [0.8, -0.8], 0.0)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="str"),
            "days_quiet": x1,
            "promo_share": x2,
            "plan": pd.Series(plan, dtype="str"),
            "churned": churned,
        }
    )


def fit_booster(data: pd.DataFrame, seed: int) -> ChurnBooster:
    """A booster on ``data``, early-stopped on a fifth of its customers."""
    held_out = holdout_customers(data["customer_id"], 0.2, seed=3)
    x, y = data[FEATURES], data["churned"].to_numpy()
    return make_booster(SETTINGS, seed).fit(x[~held_out], y[~held_out], eval_set=(x[held_out], y[held_out]))
