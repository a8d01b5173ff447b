from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
import yaml

from pipeline.config import DEFAULT_CONFIG, load_config, load_playbook
from pipeline.errors import ConfigError

TEST_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "test.yaml"


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(raw))
    (tmp_path / "playbook.yaml").write_text((DEFAULT_CONFIG.parent / "playbook.yaml").read_text())
    return path


def test_default_and_test_configs_load_and_are_frozen():
    cfg = load_config()
    assert cfg.churn.horizon_days == 90
    assert cfg.features.windows_days == (30, 90, 365)
    assert load_config(TEST_CONFIG).generate.customers < cfg.generate.customers
    with pytest.raises(FrozenInstanceError):
        cfg.churn.horizon_days = 10


def test_unknown_key_names_file_and_key_path(tmp_path):
    path = _write(tmp_path, lambda raw: raw["features"].update(windowz_days=[7]))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in error.value.message
    assert "features.windowz_days: unknown key" in error.value.message


def test_bad_value_names_key_path(tmp_path):
    path = _write(tmp_path, lambda raw: raw["training"].update(calibration="magic"))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "training.calibration" in error.value.message


@pytest.mark.parametrize(
    ("key", "value"),
    [("churn.horizon_days", -3), ("churn.active_window_days", 0), ("features.wallet_quantile", 1.5),
     ("features.windows_days", []), ("features.lifecycle.growth_trend", -1.0)],
)
def test_out_of_range_values_are_rejected_with_their_key(key, value):
    with pytest.raises(ConfigError) as error:
        load_config(None, {key: value})
    assert key.split(".")[-1] in error.value.message


def test_command_line_override_is_validated_and_named():
    assert load_config(None, {"churn.horizon_days": 60}).churn.horizon_days == 60
    with pytest.raises(ConfigError) as error:
        load_config(None, {"churn.horizon_days": "soon"})
    assert "command-line option --horizon-days: churn.horizon_days" in error.value.message


def test_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("churn: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_playbook_loads_and_requires_every_tier(tmp_path):
    playbook = load_playbook(load_config())
    assert playbook.priority[:2] == ("open_complaint", "complaint")
    assert set(playbook.families["price"]) == {"A", "B", "C"}
    call = playbook.actions["price_call"]
    assert (call.channel, call.cost, call.save_rate) == ("account_manager_call", 80.0, 0.25)  # from default.yaml
    path = _write(tmp_path, lambda raw: None)
    book = yaml.safe_load((tmp_path / "playbook.yaml").read_text())
    del book["families"]["price"]["B"]
    (tmp_path / "playbook.yaml").write_text(yaml.safe_dump(book))
    with pytest.raises(ConfigError, match="families.price.B: missing key"):
        load_playbook(load_config(path))


def test_a_partial_file_overrides_only_its_keys(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("churn:\n  horizon_days: 60\n")
    cfg = load_config(path)
    assert cfg.churn.horizon_days == 60
    assert cfg.churn.active_window_days == 90
    assert load_playbook(cfg).priority[0] == "open_complaint"  # the default playbook is found


def test_the_engine_section_comes_from_the_defaults_unless_a_file_or_flag_sets_it(tmp_path):
    assert load_config(TEST_CONFIG).engine == load_config().engine  # configs/test.yaml has no engine section
    path = tmp_path / "cluster.yaml"
    path.write_text("engine:\n  kind: dask\n  scheduler: tcp://scheduler:8786\n")
    cfg = load_config(path)
    assert (cfg.engine.kind, cfg.engine.scheduler, cfg.engine.local_workers) == ("dask", "tcp://scheduler:8786", 2)
    assert cfg.churn == load_config().churn
    with pytest.raises(ConfigError, match="command-line option --engine: engine.kind: Input should be 'local' or 'dask'"):
        load_config(path, {"engine.kind": "spark"})
    with pytest.raises(ConfigError, match="engine.snapshot_customer_share"):
        load_config(path, {"engine.snapshot_customer_share": 0})
    with pytest.raises(ConfigError, match="engine.max_snapshot_rows"):
        load_config(path, {"engine.max_snapshot_rows": 0})
    uncapped = tmp_path / "uncapped.yaml"
    uncapped.write_text("engine:\n  max_snapshot_rows: null\n")
    assert load_config(uncapped).engine.max_snapshot_rows is None  # no cap


def test_a_playbook_family_no_feature_has_is_refused(tmp_path):
    path = _write(tmp_path, lambda raw: None)
    book = yaml.safe_load((tmp_path / "playbook.yaml").read_text())
    book["priority"] = ["complaints", *book["priority"]]  # a typo of "complaint"
    book["families"]["complaints"] = book["families"]["complaint"]
    (tmp_path / "playbook.yaml").write_text(yaml.safe_dump(book))
    with pytest.raises(ConfigError, match="reason families no feature has: complaints") as error:
        load_playbook(load_config(path))
    assert "open_complaint" in error.value.hint


def test_a_section_check_names_the_flag_and_the_key_not_the_default_file():
    with pytest.raises(ConfigError) as error:
        load_config(None, {"churn.horizon_days": 0})
    assert "command-line option --horizon-days: churn.horizon_days: horizon_days must be from 1" in error.value.message
    assert "default.yaml" not in error.value.message


@pytest.mark.parametrize("key", ["churn.horizon_days", "features.trend_window_days", "scoring.lapsed_lookback_days"])
def test_windows_beyond_ten_years_are_refused(key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, {key: 1_000_000_000})


def test_true_or_false_where_a_number_belongs_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("churn:\n  horizon_days: true\nfeatures:\n  windows_days: [30, false]\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"{path}: churn.horizon_days: true/false where a number is expected" in error.value.message
    assert f"{path}: features.windows_days: true/false" in error.value.message
    # true/false stays right where the default is true/false.
    assert load_config(None, {"model.lightgbm.deterministic": False}).model.lightgbm.deterministic is False


def _with_playbook(tmp_path: Path, mutate_config, mutate_book) -> Path:
    path = _write(tmp_path, mutate_config)
    book = yaml.safe_load((tmp_path / "playbook.yaml").read_text())
    mutate_book(book)
    (tmp_path / "playbook.yaml").write_text(yaml.safe_dump(book))
    return path


def test_every_action_needs_a_cost_and_save_rate(tmp_path):
    def add_fax(book):
        book["actions"]["fax"] = {"channel": "email", "text": "Send a fax"}
        book["default"]["C"] = ["fax"]

    path = _with_playbook(tmp_path, lambda raw: None, add_fax)
    with pytest.raises(ConfigError, match="scoring.actions: actions without a cost and save rate: fax"):
        load_playbook(load_config(path))
    # a prior for an action the playbook no longer has is simply not used
    path = _with_playbook(tmp_path, lambda raw: raw["scoring"]["actions"].update(fax={"cost": 1, "save_rate": 0}),
                          add_fax)
    assert load_playbook(load_config(path)).actions["fax"].cost == 1


def test_an_action_used_but_not_defined_is_refused(tmp_path):
    path = _with_playbook(tmp_path, lambda raw: None, lambda book: book["lapsed"].update(B=["winback_fax"]))
    with pytest.raises(ConfigError, match="actions used but not defined under actions: winback_fax"):
        load_playbook(load_config(path))


def test_a_channel_without_a_weekly_capacity_is_refused(tmp_path):
    def sms(book):
        book["actions"]["care_email"]["channel"] = "sms"

    path = _with_playbook(tmp_path, lambda raw: None, sms)
    with pytest.raises(ConfigError, match="channels without a weekly capacity: sms"):
        load_playbook(load_config(path))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("scoring.capacity_per_week", {"email": -1}, "email: a number of contacts >= 0"),
     ("scoring.capacity_per_week", {"none": 5}, "'none' is not a channel"),
     ("scoring.margin_rate", 1.5, "scoring.margin_rate"),
     ("scoring.actions", {"care_email": {"cost": 1, "save_rate": 2}}, "scoring.actions.care_email.save_rate"),
     ("scoring.value_tier_max_shares", [0.5, 0.2], "0 < A <= A and B <= 1"),
     ("scoring.value_tier_max_shares", [0.0, 0.5], "0 < A <= A and B <= 1"),
     ("scoring.reason_notable_share", 0.7, "scoring.reason_notable_share")],
)
def test_scoring_values_are_checked(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, {key: value})


def test_a_partial_file_changes_one_capacity_and_one_prior(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text("scoring:\n  capacity_per_week:\n    senior_manager_call: 10\n"
                    "  actions:\n    care_email: {cost: 1, save_rate: 0.05}\n")
    cfg = load_config(path)
    assert cfg.scoring.capacity_per_week == {"senior_manager_call": 10, "account_manager_call": 300, "email": None}
    playbook = load_playbook(cfg)
    assert playbook.actions["care_email"].save_rate == 0.05
    assert playbook.actions["care_call"].save_rate == 0.10
