"""Fixtures shared by the model tests: the small synthetic problem of tests/models/small_model.py and a booster
fitted on it (once per module that asks for them)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.estimator import ChurnBooster
from tests.models.small_model import fit_booster, synthetic


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def model(data) -> ChurnBooster:
    return fit_booster(data, seed=42)
