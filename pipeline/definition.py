"""The definition a model carries (churn: active window and horizon; every feature setting) and how a scoring
configuration meets it: the model's values by default, a conflicting explicit value refused or, on request,
used and recorded.

Feature columns keep their names when a setting such as ``trend_cap`` or ``wallet_quantile`` changes their
values, so a schema check cannot see such a change: the definition has to travel with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pipeline.config import Config, leaf_keys
from pipeline.errors import ConfigError

DEFINITION_SECTIONS = ("churn", "features")


def model_definition(cfg: Config) -> dict[str, dict]:
    """The sections of ``cfg`` that change what a model's inputs and labels mean."""
    settings = cfg.as_dict()
    return {section: settings[section] for section in DEFINITION_SECTIONS}


def definition_of(metadata: dict) -> dict[str, dict]:
    """The config sections of the definition stored with a model (models trained before it was stored: their
    config's). The definition also says whether the model takes the time of year (``time_of_year``), which its
    feature schema carries too."""
    stored = metadata["definition"] if "definition" in metadata else metadata["config"]
    return {section: stored[section] for section in DEFINITION_SECTIONS}


@dataclass(frozen=True)
class DefinitionOverride:
    """A setting scored with another value than the model was trained with (--override-definition)."""

    key: str
    model_value: Any
    used_value: Any

    def describe(self) -> str:
        return f"{self.key}: model {self.model_value!r}, used {self.used_value!r}"


def apply_model_definition(
    cfg: Config, metadata: dict, *, override: bool = False
) -> tuple[Config, tuple[DefinitionOverride, ...]]:
    """``cfg`` with the model's definition in place of its own, and the settings that stay the user's.

    A key the user set explicitly (``cfg.explicit``) to another value than the model's is a conflict: refused
    naming the key and both values, or with ``override`` kept as given and returned as a DefinitionOverride.
    """
    stored = leaf_keys(definition_of(metadata))
    given = leaf_keys(model_definition(cfg))
    conflicts = tuple(
        DefinitionOverride(key, value, given[key])
        for key, value in stored.items()
        if key in cfg.explicit and key in given and given[key] != value
    )
    if conflicts and not override:
        lines = "\n  ".join(
            f"{c.key}: the model was trained with {c.model_value!r}; the configuration gives {c.used_value!r}"
            for c in conflicts
        )
        raise ConfigError(
            f"The configuration {cfg.source} conflicts with the model's definition:\n  {lines}",
            "remove these keys from the config to score with the model's definition (the default), or pass "
            "--override-definition to score with the given values (recorded with the list)",
        )
    used = {**stored, **{c.key: c.used_value for c in conflicts}}
    sections = cfg.as_dict()
    for key, value in used.items():
        node = sections
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        applied = Config.model_validate({**sections, "explicit": cfg.explicit})
    except ValidationError as error:
        raise ConfigError(
            f"The model's stored definition is not valid with this version of the pipeline: {error}",
            "retrain the model with `churn train`",
        ) from None
    return applied, conflicts
