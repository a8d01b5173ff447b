"""The model carries its definition: `churn score` uses the model's churn and feature settings, refuses a
configuration that explicitly says otherwise, and records an explicit override."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import load_config
from pipeline.definition import DefinitionOverride, apply_model_definition, model_definition
from pipeline.errors import ConfigError
from pipeline.tracking import load_bundle

DAY = pd.Timedelta(days=1)


# ------------------------------------------------------------------------------------------ which keys are set


def test_the_defaults_set_no_key_and_a_file_or_flag_sets_its_own(tmp_path):
    assert load_config().explicit == frozenset()
    partial = tmp_path / "partial.yaml"
    partial.write_text("features:\n  trend_cap: 5\n  lifecycle: {growth_trend: 1.5}\nscoring: {top_reasons: 2}\n")
    cfg = load_config(partial, {"churn.horizon_days": 60, "churn.active_window_days": None})
    assert cfg.explicit == {
        "features.trend_cap", "features.lifecycle.growth_trend", "scoring.top_reasons", "churn.horizon_days"
    }
    assert "explicit" not in cfg.as_dict()  # not a setting: never logged or stored as one


# ------------------------------------------------------------------------------------ the definition applied


def _metadata(**definition_changes) -> dict:
    """Metadata of a model trained with the defaults changed by ``definition_changes`` (dotted keys)."""
    definition = model_definition(load_config())
    for key, value in definition_changes.items():
        section, *path = key.split(".")
        node = definition[section]
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return {"definition": definition}


def _config(tmp_path: Path, text: str):
    path = tmp_path / "given.yaml"
    path.write_text(text)
    return load_config(path)


def test_scoring_takes_the_model_definition_when_the_config_does_not_set_it(tmp_path):
    metadata = _metadata(**{"churn.active_window_days": 365, "features.trend_cap": 5.0,
                            "features.lifecycle.decline_trend": 0.6})
    cfg = _config(tmp_path, "scoring: {top_reasons: 2}\n")
    applied, overrides = apply_model_definition(cfg, metadata)
    assert overrides == ()
    assert applied.churn.active_window_days == 365 and applied.churn.horizon_days == 90
    assert applied.features.trend_cap == 5.0
    assert applied.features.lifecycle.decline_trend == 0.6
    assert applied.scoring.top_reasons == 2  # the rest of the config is the user's


def test_an_explicit_conflicting_value_is_refused_naming_the_key_and_both_values(tmp_path):
    metadata = _metadata(**{"features.trend_cap": 5.0, "churn.active_window_days": 365})
    cfg = _config(tmp_path, "features: {trend_cap: 10.0}\nchurn: {active_window_days: 365}\n")
    with pytest.raises(ConfigError) as error:
        apply_model_definition(cfg, metadata)
    message = error.value.message
    assert "features.trend_cap: the model was trained with 5.0; the configuration gives 10.0" in message
    assert "active_window_days" not in message  # the same value stated explicitly is no conflict
    assert str(tmp_path / "given.yaml") in message
    assert "--override-definition" in error.value.hint


def test_the_default_value_alone_is_no_conflict(tmp_path):
    # the model was trained with trend_cap 5; the default config says 10 but nobody set it
    applied, overrides = apply_model_definition(load_config(), _metadata(**{"features.trend_cap": 5.0}))
    assert (applied.features.trend_cap, overrides) == (5.0, ())


def test_an_override_keeps_the_given_value_and_says_which(tmp_path):
    metadata = _metadata(**{"features.trend_cap": 5.0, "features.wallet_quantile": 0.8})
    cfg = _config(tmp_path, "features: {trend_cap: 10.0}\n")
    applied, overrides = apply_model_definition(cfg, metadata, override=True)
    assert overrides == (DefinitionOverride("features.trend_cap", 5.0, 10.0),)
    assert applied.features.trend_cap == 10.0
    assert applied.features.wallet_quantile == 0.8  # the model's, where nothing conflicts


def test_a_model_stored_before_the_definition_uses_its_config():
    config = load_config().as_dict()
    config["churn"]["active_window_days"] = 180
    applied, _ = apply_model_definition(load_config(), {"config": config})
    assert applied.churn.active_window_days == 180


# ------------------------------------------------------------------------------------------ through the CLI


def _config_file(store, folder: Path, name: str, **sections) -> Path:
    """Tracking into the session store as ``name``, the test config's LightGBM, plus ``sections``."""
    test = yaml.safe_load(store.config_file.read_text())
    raw = {"tracking": {**test["tracking"], "registered_model": name}, "model": test["model"], **sections}
    path = folder / f"{name}-{len(sections)}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _active(purchases: pd.DataFrame, as_of: pd.Timestamp, days: int) -> set[str]:
    ts = purchases["timestamp"]
    return set(purchases.loc[(ts >= as_of - days * DAY) & (ts < as_of), "customer_id"])


@pytest.fixture(scope="module")
def wide_model(cli, store, world, tmp_path_factory) -> Path:
    """A model trained with --active-window-days 365; returns its config file (no churn keys)."""
    config = _config_file(store, tmp_path_factory.mktemp("wide"), "wide-window")
    result = cli("train", "--data", world, "--config", config, "--active-window-days", 365)
    assert result.exit_code == 0, result.output
    return config


def test_a_model_trained_on_a_365_day_window_scores_that_population_without_a_flag(
    cli, world, wide_model, purchases, last_event_day_after, tmp_path
):
    out = tmp_path / "wide.csv"
    result = cli("score", "--data", world, "--out", out, "--config", wide_model)
    assert result.exit_code == 0, result.output
    listed = set(pd.read_csv(out, dtype={"customer_id": str})["customer_id"])
    wide = _active(purchases, last_event_day_after, 365)
    assert listed == wide
    assert len(wide) > len(_active(purchases, last_event_day_after, 90))  # not the 90-day population


def test_a_config_that_says_90_days_is_refused_and_writes_nothing(cli, store, world, wide_model, tmp_path):
    config = _config_file(store, tmp_path, "wide-window", churn={"active_window_days": 90})
    out = tmp_path / "out" / "narrow.csv"
    result = cli("score", "--data", world, "--out", out, "--config", config)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "churn.active_window_days: the model was trained with 365; the configuration gives 90" in text
    assert not (tmp_path / "out").exists()


def test_an_override_scores_the_given_population_and_is_recorded(
    cli, store, world, wide_model, purchases, last_event_day_after, tmp_path
):
    config = _config_file(store, tmp_path, "wide-window", churn={"active_window_days": 90})
    out = tmp_path / "narrow.csv"
    result = cli("score", "--data", world, "--out", out, "--config", config, "--override-definition")
    assert result.exit_code == 0, result.output
    assert "Definition overridden: churn.active_window_days: model 365, used 90" in " ".join(result.output.split())
    listed = set(pd.read_csv(out, dtype={"customer_id": str})["customer_id"])
    assert listed == _active(purchases, last_event_day_after, 90)
    manifest = json.loads((tmp_path / "narrow_scored" / "_scored.json").read_text())
    assert manifest["definition_overrides"] == ["churn.active_window_days: model 365, used 90"]


# ------------------------------------------------------------------------------------------- the time of year


def test_time_of_year_by_hand():
    from models.modelframe import spans_a_year, time_of_year

    # 2024-04-01 is day 92 of 2024 (31 + 29 + 31 + 1): angle 2 pi 92 / 365.25
    angle = 2 * np.pi * 92 / 365.25
    assert time_of_year(pd.Timestamp("2024-04-01")) == pytest.approx(
        {"as_of_year_sin": np.sin(angle), "as_of_year_cos": np.cos(angle)}
    )
    # the last day of a year sits next to the first: days 365 and 1 are 1.25 days' angle apart (2 pi / 365.25
    # each, 0.0172), not a year's
    last, first = time_of_year("2023-12-31"), time_of_year("2024-01-01")
    assert abs(last["as_of_year_sin"] - first["as_of_year_sin"]) == pytest.approx(
        np.sin(2 * np.pi / 365.25) - np.sin(2 * np.pi * -0.25 / 365.25)
    )
    assert spans_a_year(["2024-01-01", "2024-12-31"]) and not spans_a_year(["2024-01-01", "2024-12-30"])


def test_cutoffs_a_year_apart_give_a_model_that_scores_with_the_time_of_year(
    cli, store, world, last_event_day_after, tmp_path
):
    # 14 cutoffs 30 days apart span 390 days: the model takes the time of year; scoring adds it by the schema
    config = _config_file(store, tmp_path, "seasonal-inputs", training={"n_cutoffs": 14})
    trained = cli("train", "--data", world, "--config", config)
    assert trained.exit_code == 0, trained.output
    metadata = load_bundle(load_config(config)).metadata
    assert metadata["definition"]["time_of_year"] is True
    assert {"as_of_year_sin", "as_of_year_cos"} <= set(metadata["feature_schema"]["names"])
    assert "as_of_year_sin" not in metadata["training_distributions"]  # never a drift warning

    scored = cli("score", "--data", world, "--out", tmp_path / "s.csv", "--config", config)
    assert scored.exit_code == 0, scored.output
    assert "as_of_year" not in scored.output
    table = pd.read_parquet(tmp_path / "s_scored")
    day = last_event_day_after.day_of_year
    assert table["as_of_year_sin"].eq(np.sin(2 * np.pi * day / 365.25)).all()
    assert table["as_of_year_cos"].eq(np.cos(2 * np.pi * day / 365.25)).all()
