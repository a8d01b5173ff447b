"""Configuration: YAML -> validated, frozen objects; errors name the file and the key path.

The ``churn`` and ``features`` sections validate straight into the pure packages' own frozen dataclasses,
so there is one definition of each setting.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from features.settings import MAX_DAYS, ChurnDefinition, FeatureSettings
from models.plan import NO_CHANNEL, Action, Playbook
from pipeline.contract import InputLimits
from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSettings(_Section):
    allow_future_timestamps: bool
    max_abs_value: float = Field(gt=0)

    def limits(self) -> InputLimits:
        """The limits of a command starting now (the clock is read here, once per command)."""
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        return InputLimits(None if self.allow_future_timestamps else now, self.max_abs_value)


class TrainingSettings(_Section):
    n_cutoffs: int = Field(ge=1)
    cutoff_step_days: int = Field(gt=0, le=MAX_DAYS)
    min_history_days: int = Field(ge=0, le=MAX_DAYS)
    eval_cutoffs: int = Field(ge=1)
    cross_fit_folds: int = Field(ge=2)
    early_stopping_customer_share: float = Field(gt=0, lt=1)
    calibration: Literal["auto", "isotonic", "sigmoid", "stacked"]
    seed: int


class LightGBMSettings(_Section):
    n_estimators: int = Field(gt=0)
    learning_rate: float = Field(gt=0, le=1)
    num_leaves: int = Field(ge=2)
    min_child_samples: int = Field(ge=1)
    subsample: float = Field(gt=0, le=1)
    subsample_freq: int = Field(ge=0)
    colsample_bytree: float = Field(gt=0, le=1)
    reg_lambda: float = Field(ge=0)
    early_stopping_rounds: int = Field(gt=0)
    num_threads: int = Field(ge=1)
    deterministic: bool
    force_row_wise: bool


class ModelSettings(_Section):
    lightgbm: LightGBMSettings
    contributions: Literal["grouped", "lightgbm"]


class EmpSettings(_Section):
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)
    incentive_cost: float = Field(ge=0)
    contact_cost: float = Field(ge=0)
    clv: float | None = Field(default=None, gt=0)


class EvaluationSettings(_Section):
    top_fraction: float = Field(gt=0, lt=1)
    emp: EmpSettings


class ActionPrior(_Section):
    cost: float = Field(ge=0)
    save_rate: float = Field(ge=0, le=1)


class ScoringSettings(_Section):
    top_reasons: int = Field(ge=1, le=10)
    reason_notable_share: float = Field(gt=0, le=0.5)
    value_window_days: int = Field(gt=0, le=MAX_DAYS)
    margin_rate: float = Field(ge=0, le=1)
    currency: str = Field(min_length=1, max_length=12)
    value_tier_cuts: tuple[float, float]
    value_tier_max_shares: tuple[float, float]
    capacity_per_week: dict[str, int | None]
    actions: dict[str, ActionPrior]
    control_share: float = Field(ge=0, lt=1)
    contact_cooldown_days: int = Field(ge=0, le=MAX_DAYS)
    save_rates: Literal["prior", "measured"]
    lapsed_lookback_days: int = Field(gt=0, le=MAX_DAYS)
    stale_complaint_days: int = Field(gt=0, le=MAX_DAYS)
    playbook: str
    drift_warning_psi: float = Field(gt=0)
    drift_strong_psi: float = Field(gt=0)

    @field_validator("value_tier_cuts")
    @classmethod
    def _increasing_shares(cls, cuts: tuple[float, float]) -> tuple[float, float]:
        if not 0 < cuts[0] < cuts[1] < 1:
            raise ValueError("must be two increasing shares between 0 and 1, e.g. [0.80, 0.95]")
        return cuts

    @field_validator("value_tier_max_shares")
    @classmethod
    def _growing_customer_shares(cls, shares: tuple[float, float]) -> tuple[float, float]:
        if not 0 < shares[0] <= shares[1] <= 1:
            raise ValueError("must be two shares of customers, 0 < A <= A and B <= 1, e.g. [0.20, 0.50]")
        return shares

    @field_validator("capacity_per_week")
    @classmethod
    def _contacts_per_week(cls, capacity: dict[str, int | None]) -> dict[str, int | None]:
        if NO_CHANNEL in capacity:
            raise ValueError(f"'{NO_CHANNEL}' is not a channel (it marks rows without a contact)")
        negative = [channel for channel, limit in capacity.items() if limit is not None and limit < 0]
        if negative:
            raise ValueError(f"{', '.join(negative)}: a number of contacts >= 0, or null for unlimited")
        return capacity


class CampaignSettings(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$", max_length=60)
    weeks: int = Field(ge=1, le=520)
    start: date
    detectable_uplift: float = Field(gt=0, lt=1)
    save_rate_prior_strength: float = Field(ge=0)


class TrackingSettings(_Section):
    default_uri: str
    artifact_location: str
    experiment: str = Field(min_length=1)
    evaluation_experiment: str = Field(min_length=1)
    registered_model: str = Field(min_length=1)
    alias: str = Field(min_length=1)


class GenerateSettings(_Section):
    customers: int = Field(gt=0)
    seed: int


class EngineSettings(_Section):
    kind: Literal["local", "dask"]
    scheduler: str | None = None
    local_workers: int = Field(ge=1)
    threads_per_worker: int = Field(ge=1)
    buckets: int | None = Field(default=None, ge=1)
    snapshot_customer_share: float = Field(gt=0, le=1)
    max_snapshot_rows: int | None = Field(default=None, ge=1)


class Config(_Section):
    input: InputSettings
    churn: ChurnDefinition
    features: FeatureSettings
    training: TrainingSettings
    model: ModelSettings
    evaluation: EvaluationSettings
    scoring: ScoringSettings
    campaign: CampaignSettings
    tracking: TrackingSettings
    generate: GenerateSettings
    engine: EngineSettings
    source: str = ""  # the file this config was read from (set by load_config)
    # Dotted keys the user set: in the file given with --config (not default.yaml) or by a command-line flag.
    explicit: frozenset[str] = Field(default=frozenset(), exclude=True)

    def resolve_path(self, relative: str) -> Path:
        """A path from the config: absolute, or beside the config file, else beside configs/default.yaml."""
        path = Path(relative)
        if path.is_absolute():
            return path
        beside = Path(self.source).parent / path
        return beside if beside.exists() else DEFAULT_CONFIG.parent / path

    def as_dict(self) -> dict[str, Any]:
        return TypeAdapter(Config).dump_python(self, mode="json")


def _strict(kind):
    """Forbid unknown keys in a pure package's dataclass when pydantic validates it."""
    kind.__pydantic_config__ = ConfigDict(extra="forbid")
    return kind


_strict(ChurnDefinition)
_strict(FeatureSettings)


def _deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} not found.", "pass an existing YAML file with --config") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", "fix the YAML syntax") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level.", "see configs/default.yaml")
    return raw


def _merge(base: dict, overrides: dict) -> dict:
    """``base`` with dotted-path ``overrides`` (e.g. {"churn.horizon_days": 60}) applied; Nones are skipped."""
    merged = copy.deepcopy(base)
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = merged
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return merged


def _flag(key: str) -> str:
    """The command-line option that set a dotted config key: churn.horizon_days -> option --horizon-days."""
    name = {"engine.kind": "engine"}.get(key, key.rsplit(".", 1)[-1])
    return "command-line option --" + name.replace("_", "-")


def _describe(error: ValidationError, source: str, overrides: dict) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-after"))
        message = item["msg"]
        # A section's own check names its key first ("horizon_days must be > 0"): point the path at that key.
        named = re.match(r"Value error, ([a-z_]+) must ", message)
        if named:
            path, message = f"{path}.{named[1]}", message[len("Value error, "):]
        origin = _flag(path) if path in overrides else source
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "unknown key (check its spelling against configs/default.yaml)"
        elif item["type"] == "missing":
            message = "missing key (configs/default.yaml shows it with its default)"
        lines.append(f"{origin}: {path}: {message}")
    return "\n".join(lines)


def _true_false_for_numbers(value: Any, default: Any, path: str) -> list[str]:
    """Key paths where ``value`` holds true/false but the default is a number: YAML's true is not 1 day."""
    if isinstance(default, dict) and isinstance(value, dict):
        return [bad for key in value if key in default
                for bad in _true_false_for_numbers(value[key], default[key], f"{path}{key}.")]
    if isinstance(default, list) and isinstance(value, list) and default:
        return [path.rstrip(".")] if any(isinstance(v, bool) for v in value) and not isinstance(default[0], bool) else []
    is_number = isinstance(default, int | float) and not isinstance(default, bool)
    return [path.rstrip(".")] if is_number and isinstance(value, bool) else []


def leaf_keys(mapping: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: every leaf of nested mappings by its dotted key (lists are leaves)."""
    leaves = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            leaves.update(leaf_keys(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Validate configs/default.yaml, overlaid by the file at ``path`` (only the keys it sets) and ``overrides``.

    ``overrides`` are dotted key paths (e.g. {"churn.horizon_days": 60}) from command-line flags. The keys the
    file and the flags set are kept in ``Config.explicit`` (the defaults alone set none).
    """
    path = Path(path) if path else DEFAULT_CONFIG
    overrides = overrides or {}
    raw = _read_yaml(DEFAULT_CONFIG)
    explicit = {key for key, value in overrides.items() if value is not None}
    if path.resolve() != DEFAULT_CONFIG.resolve():
        given = _read_yaml(path)
        raw = _deep_merge(raw, given)
        explicit |= set(leaf_keys(given))
    merged = _merge(raw, overrides)
    booleans = _true_false_for_numbers(merged, _read_yaml(DEFAULT_CONFIG), "")
    if booleans:
        lines = [
            f"{_flag(key) if key in overrides else path}: {key}: true/false where a number is expected"
            for key in booleans
        ]
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines), "write a number, e.g. horizon_days: 90")
    merged["source"] = str(path.resolve())
    merged["explicit"] = frozenset(explicit)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            f"Invalid configuration:\n{_describe(exc, str(path), overrides)}",
            "correct the value(s) named above",
        ) from None


class PlaybookAction(_Section):
    channel: str = Field(min_length=1)
    text: str = Field(min_length=1)


class TierActions(_Section):
    """The actions allowed in each value tier (a list; empty = no contact for that tier)."""

    A: tuple[str, ...]
    B: tuple[str, ...]
    C: tuple[str, ...]


class LapsedTierActions(_Section):
    A: tuple[str, ...]
    B: tuple[str, ...]


class PlaybookFile(_Section):
    actions: dict[str, PlaybookAction] = Field(min_length=1)
    priority: tuple[str, ...] = Field(min_length=1)
    families: dict[str, TierActions]
    default: TierActions
    lapsed: LapsedTierActions


def load_playbook(cfg: Config) -> Playbook:
    """The playbook named by ``scoring.playbook`` (relative to the config file), validated, with each action's
    cost and save rate from ``scoring.actions``."""
    path = cfg.resolve_path(cfg.scoring.playbook)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = PlaybookFile.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"Playbook file {path} not found.", "set scoring.playbook to an existing YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", "fix the YAML syntax") from None
    except ValidationError as exc:
        raise ConfigError(f"Invalid playbook:\n{_describe(exc, str(path), {})}", "correct the entries named above") from None
    _check_playbook(parsed, path, cfg)
    priors = cfg.scoring.actions
    return Playbook(
        actions={
            name: Action(name, action.channel, action.text, priors[name].cost, priors[name].save_rate)
            for name, action in parsed.actions.items()
        },
        priority=parsed.priority,
        families={family: tiers.model_dump() for family, tiers in parsed.families.items()},
        default=parsed.default.model_dump(),
        lapsed=parsed.lapsed.model_dump(),
    )


def _check_playbook(parsed: PlaybookFile, path: Path, cfg: Config) -> None:
    """Families the registry knows, actions that exist, channels with a capacity, priors for every action."""
    def refuse(what: str, hint: str):
        raise ConfigError(f"{path}: {what}", hint)

    unknown = [f for f in parsed.priority if f not in parsed.families]
    if unknown:
        refuse(f"priority: families without actions: {', '.join(unknown)}", "add them under families")
    # Here, not at the top: the model's specs bring in the BG/NBD code (and scipy), which only scoring needs.
    from models.modelframe import model_specs

    known = {spec.family for spec in model_specs(cfg.features).values()}
    foreign = [f for f in (*parsed.priority, *parsed.families) if f not in known]
    if foreign:
        refuse(f"reason families no feature has: {', '.join(dict.fromkeys(foreign))}",
               f"use the families of the feature registry: {', '.join(sorted(known))}")
    lists = [*(names for tiers in parsed.families.values() for names in tiers.model_dump().values()),
             *parsed.default.model_dump().values(), *parsed.lapsed.model_dump().values()]
    undefined = sorted({name for names in lists for name in names} - set(parsed.actions))
    if undefined:
        refuse(f"actions used but not defined under actions: {', '.join(undefined)}", "define them or fix the names")
    channels = {action.channel for action in parsed.actions.values()}
    no_capacity = sorted(channels - set(cfg.scoring.capacity_per_week))
    if no_capacity:
        raise ConfigError(
            f"{path}: channels without a weekly capacity: {', '.join(no_capacity)}",
            f"add them to scoring.capacity_per_week in {cfg.source or 'the config'} (null = unlimited)",
        )
    missing = sorted(set(parsed.actions) - set(cfg.scoring.actions))  # priors of other actions are not used
    if missing:
        raise ConfigError(
            f"{cfg.source or 'the config'}: scoring.actions: actions without a cost and save rate: {', '.join(missing)}",
            f"give every action of {path.name} an entry {{cost: ..., save_rate: ...}} under scoring.actions",
        )
