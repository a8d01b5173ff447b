"""Configuration: YAML -> validated, frozen objects; errors name the file and the key path.

The ``churn`` and ``features`` sections validate straight into the pure packages' own frozen dataclasses,
so there is one definition of each setting.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from features.settings import ChurnDefinition, FeatureSettings
from models.modelframe import model_specs
from models.winback import Playbook
from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingSettings(_Section):
    n_cutoffs: int = Field(ge=1)
    cutoff_step_days: int = Field(gt=0)
    min_history_days: int = Field(ge=0)
    eval_cutoffs: int = Field(ge=1)
    cross_fit_folds: int = Field(ge=2)
    early_stopping_customer_share: float = Field(gt=0, lt=1)
    calibration: Literal["auto", "isotonic", "sigmoid"]
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


class EmpSettings(_Section):
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)
    incentive_cost: float = Field(ge=0)
    contact_cost: float = Field(ge=0)
    clv: float | None = Field(default=None, gt=0)


class EvaluationSettings(_Section):
    top_fraction: float = Field(gt=0, lt=1)
    emp: EmpSettings


class ScoringSettings(_Section):
    top_reasons: int = Field(ge=1, le=10)
    value_window_days: int = Field(gt=0)
    value_horizon_days: int = Field(gt=0)
    value_tier_cuts: tuple[float, float]
    control_share: float = Field(ge=0, lt=1)
    target_size: int | None = Field(default=None, ge=0)
    playbook: str
    drift_warning_psi: float = Field(gt=0)
    drift_strong_psi: float = Field(gt=0)

    @field_validator("value_tier_cuts")
    @classmethod
    def _increasing_shares(cls, cuts: tuple[float, float]) -> tuple[float, float]:
        if not 0 < cuts[0] < cuts[1] < 1:
            raise ValueError("must be two increasing shares between 0 and 1, e.g. [0.80, 0.95]")
        return cuts


class TrackingSettings(_Section):
    default_uri: str
    artifact_location: str
    experiment: str = Field(min_length=1)
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


class Config(_Section):
    churn: ChurnDefinition
    features: FeatureSettings
    training: TrainingSettings
    model: ModelSettings
    evaluation: EvaluationSettings
    scoring: ScoringSettings
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


def _describe(error: ValidationError, source: str, overrides: dict) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-after"))
        origin = "command-line option" if path in overrides else source
        message = item["msg"]
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "unknown key (check its spelling against configs/default.yaml)"
        elif item["type"] == "missing":
            message = "missing key (configs/default.yaml shows it with its default)"
        lines.append(f"{origin}: {path}: {message}")
    return "\n".join(lines)


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
    merged["source"] = str(path.resolve())
    merged["explicit"] = frozenset(explicit)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            f"Invalid configuration:\n{_describe(exc, str(path), overrides)}",
            "correct the value(s) named above",
        ) from None


class LowRiskRule(_Section):
    max_probability: float = Field(gt=0, lt=1)
    tiers: tuple[Literal["A", "B", "C"], ...]
    action: str = Field(min_length=1)


class PlaybookFile(_Section):
    priority: tuple[str, ...] = Field(min_length=1)
    actions: dict[str, dict[Literal["A", "B", "C"], str]]
    default: dict[Literal["A", "B", "C"], str]
    low_risk: LowRiskRule

    @field_validator("actions", "default")
    @classmethod
    def _every_tier(cls, value):
        rows = value.values() if value and isinstance(next(iter(value.values())), dict) else [value]
        for row in rows:
            if set(row) != {"A", "B", "C"}:
                raise ValueError("needs an action for each of the tiers A, B and C")
        return value


def load_playbook(cfg: Config) -> Playbook:
    """The playbook table named by ``scoring.playbook`` (relative to the config file), validated."""
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
    unknown = [f for f in parsed.priority if f not in parsed.actions]
    if unknown:
        raise ConfigError(f"{path}: priority: families without actions: {', '.join(unknown)}", "add their actions")
    known = {spec.family for spec in model_specs(cfg.features).values()}
    foreign = [f for f in (*parsed.priority, *parsed.actions) if f not in known]
    if foreign:
        raise ConfigError(
            f"{path}: reason families no feature has: {', '.join(dict.fromkeys(foreign))}",
            f"use the families of the feature registry: {', '.join(sorted(known))}",
        )
    return Playbook(
        priority=parsed.priority,
        actions={f: dict(row) for f, row in parsed.actions.items()},
        default=dict(parsed.default),
        low_risk_probability=parsed.low_risk.max_probability,
        low_risk_tiers=parsed.low_risk.tiers,
        low_risk_action=parsed.low_risk.action,
    )
