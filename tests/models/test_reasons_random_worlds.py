"""On generated worlds, whatever the model's contributions: no reason states a zero or favourable change, none
reads a BG/NBD output, and every reason's value lies beyond the typical value of the active population."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features import ChurnDefinition, FeatureSettings, build_feature_table, make_tables, prepare_tables
from models.explain import population_typical, top_reasons
from models.modelframe import BGNBD_SPECS, model_specs
from pipeline.synthetic import generate_world

SETTINGS = FeatureSettings()
SPECS = model_specs(SETTINGS)
STALE_DAYS = 180
NUMBER = r"-?[\d,]+(?:\.\d+)?"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _stated(text: str) -> float:
    """The value a reason states first: "no" reads as 0, a percentage as a share."""
    if text.startswith("no ") and not text.startswith("no purchase for"):
        return 0.0
    match = re.search(rf"({NUMBER})(%?)", text)
    return _number(match[1]) / (100 if match[2] else 1)


def check_reason(name: str, text: str, typical: dict[str, float]) -> None:
    """Fail unless ``text`` states an unfavourable, non-zero fact about feature ``name``."""
    spec = SPECS[name]
    if text.startswith("complaint open "):
        assert _number(re.match(rf"complaint open ({NUMBER}) days: check whether it was closed", text)[1]) > STALE_DAYS
        return
    fell = re.search(rf"fell from ({NUMBER}) to ({NUMBER})", text)
    if fell:
        assert _number(fell[1]) > _number(fell[2]), text
        return
    down = re.search(rf"down ({NUMBER})%", text)
    if down:
        assert _number(down[1]) > 0, text
        return
    if "x the usual" in text:
        assert _number(re.search(rf"({NUMBER})x", text)[1]) > 1, text
        return
    if text.startswith("rated"):
        assert _number(re.search(rf"({NUMBER}) out of 5", text)[1]) <= 3, text
        return
    if text.startswith("spend at"):
        assert _number(re.search(rf"({NUMBER})%", text)[1]) < 100, text
        return
    if "left" in text and "ago" in text or text.startswith(("customer for only", "no active")):
        return  # a departure, a young relationship, no manager: facts, never "zero"
    value = _stated(text)
    shown_typical = re.search(rf"\(typical: ({NUMBER})(%?)\)", text)
    if spec.risk_direction > 0:
        assert value > 0, text
    if shown_typical:
        reference = _number(shown_typical[1]) / (100 if shown_typical[2] else 1)
        assert spec.risk_direction * (value - reference) > 0, text


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_reason_states_a_zero_or_favourable_change(seed):
    world = generate_world(500, seed=seed)
    as_of = pd.Timestamp("2025-06-02") + pd.Timedelta(days=int(np.random.default_rng(seed).integers(0, 150)))
    features = build_feature_table(prepare_tables(make_tables(world.tables)), as_of, SETTINGS, ChurnDefinition())
    values = features.drop(columns="customer_id")
    rng = np.random.default_rng(seed)
    for spec in BGNBD_SPECS:  # the BG/NBD outputs take part with large contributions, and must never show
        values[spec.name] = rng.random(len(values))
    numeric = [c for c in values.columns if SPECS[c].kind == "numeric"]
    contributions = pd.DataFrame(rng.normal(0, 1, (len(values), len(numeric))), columns=numeric)
    contributions[[s.name for s in BGNBD_SPECS]] += 5
    typical = population_typical(values, SPECS)
    reasons = top_reasons(contributions, values, SPECS, typical, k=5, stale_complaint_days=STALE_DAYS)

    shown = [(name, text) for names, texts in zip(reasons.features, reasons.texts, strict=True)
             for name, text in zip(names, texts, strict=True)]
    assert len(shown) > 2 * len(values)  # plenty of reasons were checked
    assert not {name for name, _ in shown} & {s.name for s in BGNBD_SPECS}
    assert not any("chance" in text or "likely still active" in text for _, text in shown)
    for name, text in shown:
        check_reason(name, text, typical)
    families = {name.split("_")[0] for name, _ in shown}
    assert len(families) > 8  # many kinds of reasons were seen, not one repeated
