"""Reasons say notable, distinct things: a degree of behaviour only among the riskiest share of the active
population (events whenever they happen), and a customer's silence once, whatever feature states it."""

from __future__ import annotations

import pandas as pd
import pytest

from features import FeatureSpec
from features.registry import SILENCE
from models.explain import population_notable, population_typical, top_reasons
from pipeline.config import PROJECT_ROOT, load_config


def _spec(name, reason, risk_direction, family, *, neutral=None, group="", zero_restates="") -> FeatureSpec:
    return FeatureSpec(name, builder=lambda table: table, params={}, default=0.0, reason=reason, unit="x",
                       risk_direction=risk_direction, family=family, neutral=neutral, group=group,
                       zero_restates=zero_restates)


# ---------------------------------------------------------------- notable: the riskiest share of the population

DEGREE = _spec("gap_days", "buys every {value:.0f} days", +1, "recency", neutral=0.0)
DROP = _spec("spend_trend", "spend down {change:.0%}", -1, "decline", neutral=1.0)
COMPLAINTS = _spec("complaints", "{value:.0f} complaints", +1, "complaint", neutral=0.0)
NOTABLE_SPECS = {s.name: s for s in (DEGREE, DROP, COMPLAINTS)}

# Eight customers. gap_days 10..80: median 45, the riskiest quarter from the 0.75 quantile 62.5 up (70, 80).
# spend_trend: median 0.875, the riskiest quarter up to the 0.25 quantile 0.675 (0.6 + 0.75 x 0.1).
# complaints: half the customers complained once: median 0.5, 0.75 quantile 1 (an event: never raised by it).
POPULATION = pd.DataFrame({
    "gap_days": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
    "spend_trend": [0.5, 0.6, 0.7, 0.8, 0.95, 1.0, 1.1, 1.2],
    "complaints": [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
})


def test_population_notable_is_the_risk_side_quantile_of_degrees_only():
    notable = population_notable(POPULATION, NOTABLE_SPECS, share=0.25)
    assert notable == pytest.approx({"gap_days": 62.5, "spend_trend": 0.675})  # complaints: an event
    assert population_notable(POPULATION, NOTABLE_SPECS, share=0.5) == pytest.approx(
        {"gap_days": 45.0, "spend_trend": 0.875})  # the median


def test_a_degree_is_a_reason_only_among_the_riskiest_share_an_event_always():
    typical = population_typical(POPULATION, NOTABLE_SPECS)  # gap 45, trend 0.875, complaints 0.5
    notable = population_notable(POPULATION, NOTABLE_SPECS, share=0.25)
    values = pd.DataFrame({"gap_days": [50.0, 63.0, 70.0], "spend_trend": [0.8, 0.62, 0.98],
                           "complaints": [1.0, 0.0, 1.0]})
    contributions = pd.DataFrame({"gap_days": [0.3, 0.3, 0.3], "spend_trend": [0.2, 0.2, 0.2],
                                  "complaints": [0.1, 0.1, 0.1]})
    # Both compared at the step the words show: gap in days (62.5 -> 62), trend in whole percent (0.675 -> 68).
    # Row 0: gap 50 beyond the median 45 but short of 62; trend 0.8 (down 20%) short of 0.68; one complaint,
    #        beyond the median 0.5 (shown as 0).
    # Row 1: gap 63 >= 62; trend 0.62 ("down 38%") <= 0.68; no complaint.
    # Row 2: gap 70; trend 0.98 on the safe side of the median; a complaint.
    reasons = top_reasons(contributions, values, NOTABLE_SPECS, typical, k=3, notable=notable)
    assert reasons.texts == [["1 complaints"], ["buys every 63 days", "spend down 38%"],
                             ["buys every 70 days", "1 complaints"]]
    # Without a notable bound (share 0.5 = the median) row 0's weak signals are reasons again.
    plain = top_reasons(contributions, values, NOTABLE_SPECS, typical, k=3)
    assert plain.texts[0] == ["buys every 50 days", "spend down 20%", "1 complaints"]


def test_a_share_of_customers_tied_at_the_bound_is_notable_together():
    spec = _spec("visits_30d", "{value:.0f} visits", -1, "engagement")
    specs = {"visits_30d": spec}
    # A third of the customers had no visit: the 0.25 quantile is 0, the median 1.
    population = pd.DataFrame({"visits_30d": [0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    typical, notable = population_typical(population, specs), population_notable(population, specs, 0.25)
    assert (typical, notable) == ({"visits_30d": 1.0}, {"visits_30d": 0.0})
    values = pd.DataFrame({"visits_30d": [0.0, 1.0]})
    reasons = top_reasons(pd.DataFrame({"visits_30d": [0.4, 0.4]}), values, specs, typical, k=1, notable=notable)
    assert reasons.texts == [["0 visits"], []]  # zero, shared by a third, is notable; 1 is the median


# ---------------------------------------------------------------- a customer's silence, said once

SILENCE_SPECS = {s.name: s for s in (
    _spec("days_since", "no purchase for {value:.0f} days", +1, "recency", neutral=0.0, group=SILENCE),
    _spec("overdue", "silent for {value:.1f}x the usual gap", +1, "recency", neutral=1.0, group=SILENCE),
    _spec("orders_30d", "{value:.0f} purchases in 30 days", -1, "recency", group="orders",
          zero_restates=SILENCE),
    _spec("spend_30d", "spend {value:.0f} in 30 days", -1, "recency", group="spend", zero_restates=SILENCE),
    _spec("complaints", "{value:.0f} complaints", +1, "complaint", neutral=0.0),
)}
SILENCE_TYPICAL = {"days_since": 15.0, "overdue": 1.0, "orders_30d": 2.0, "spend_30d": 100.0, "complaints": 0.0}


def test_the_silence_is_said_once_and_a_zero_window_only_when_no_silence_feature_is_a_reason():
    values = pd.DataFrame({
        "days_since": [80.0, 80.0, 20.0, 40.0],
        "overdue": [8.0, 8.0, 1.5, 4.0],
        "orders_30d": [0.0, 0.0, 1.0, 0.0],
        "spend_30d": [0.0, 0.0, 50.0, 0.0],
        "complaints": [1.0, 1.0, 1.0, 0.0],
    })
    contributions = pd.DataFrame({
        # Row 0: every silence statement raises the risk, the zero windows most: the days since the last
        #        purchase say it (the best silence feature), the complaint comes next, nothing else.
        # Row 1: the silence features lower the risk: one zero window says the silence (orders, the larger),
        #        then the complaint; the zero spend window restates it and is left out.
        # Row 2: no zero window; the overdue ratio (0.5) above the days (0.4) states the silence once, and a
        #        window with a purchase is a reason of its own (1 purchase vs typical 2).
        # Row 3: overdue states it; the zero windows restate it; no complaint: one reason.
        "days_since": [0.3, -0.1, 0.4, 0.1],
        "overdue": [0.2, -0.1, 0.5, 0.2],
        "orders_30d": [0.6, 0.5, 0.3, 0.9],
        "spend_30d": [0.5, 0.4, 0.05, 0.8],
        "complaints": [0.1, 0.1, 0.01, 0.1],
    })
    reasons = top_reasons(contributions, values, SILENCE_SPECS, SILENCE_TYPICAL, k=4)
    assert reasons.texts == [
        ["no purchase for 80 days", "1 complaints"],
        ["0 purchases in 30 days", "1 complaints"],
        ["silent for 1.5x the usual gap", "1 purchases in 30 days", "spend 50 in 30 days", "1 complaints"],
        ["silent for 4.0x the usual gap"],
    ]


def test_the_registry_groups_the_silence_and_marks_the_windows_that_restate_it():
    from features.registry import feature_specs

    cfg = load_config(PROJECT_ROOT / "configs" / "default.yaml")
    specs = {s.name: s for s in feature_specs(cfg.features)}
    assert {n for n, s in specs.items() if s.group == SILENCE} == {"days_since_last_purchase",
                                                                   "purchase_overdue_ratio"}
    windows = cfg.features.windows_days
    assert {n for n, s in specs.items() if s.zero_restates == SILENCE} == {
        *(f"purchase_count_{w}d" for w in windows), *(f"spend_{w}d" for w in windows)}


def test_no_population_means_no_notable_bound():
    assert population_notable(POPULATION.iloc[:0], NOTABLE_SPECS, 0.25) == {}


def test_a_feature_missing_in_the_whole_sample_gets_no_extra_bound():
    population = POPULATION.assign(gap_days=float("nan"))
    notable = population_notable(population, NOTABLE_SPECS, 0.25)
    assert "gap_days" not in notable and "spend_trend" in notable
    values = pd.DataFrame({"gap_days": [50.0], "spend_trend": [1.0], "complaints": [0.0]})
    contributions = pd.DataFrame({"gap_days": [0.3], "spend_trend": [0.2], "complaints": [0.1]})
    typical = {"gap_days": 45.0, "spend_trend": 0.875, "complaints": 0.5}
    reasons = top_reasons(contributions, values, NOTABLE_SPECS, typical, k=3, notable=notable)
    assert reasons.texts == [["buys every 50 days"]]  # beyond the typical 45, as without a notable bound
