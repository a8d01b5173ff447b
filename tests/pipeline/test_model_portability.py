"""The registered model loads and predicts in a clean virtual environment holding only MLflow and the model's
logged requirements (benchmarks/model_portability.py): pip installs them, so this takes two to three minutes."""

from __future__ import annotations

import pytest

from benchmarks.model_portability import TOLERANCE, check


@pytest.mark.portability
def test_a_clean_environment_predicts_what_churn_score_lists(world, store, trained):
    result = check(str(world), "models:/churn-model/1", str(store.config_file))
    # nothing of this repository was importable before the model was loaded; its code came with the model
    assert result["importable_before_loading"] == {"pipeline": False, "models": False, "features": False}
    assert result["models_from"].startswith(str(store.root)) and "/code/models/" in result["models_from"]
    assert "churn-pipeline" not in " ".join(result["requirements"])
    assert result["rows"] == result["list_rows"] > 50  # every customer of the list
    assert result["max_abs_difference"] <= TOLERANCE
    # the list rounds to 4 decimals
    assert result["max_abs_difference_to_the_list"] <= 5e-5 + TOLERANCE
    assert result["passed"]
