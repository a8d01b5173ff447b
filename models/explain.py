"""Reasons in words: each row's top risk-raising LightGBM contributions, rendered from the feature templates.

A feature is a reason for a row only when it has a registered risk direction, raises that row's predicted
risk (positive contribution) AND its value lies on the risky side of the training median in that direction;
so a driver that lowers risk, or a value that reads as good news, is never given as a reason.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import FeatureSpec

REASON_SEPARATOR = "; "


@dataclass(frozen=True)
class Reasons:
    """Per row: the reason texts (best first), the feature names behind them, and their families."""

    texts: list[list[str]]
    features: list[list[str]]
    families: list[list[str]]

    def joined(self) -> list[str]:
        return [REASON_SEPARATOR.join(t) for t in self.texts]

    def has_family(self, families: list[str]) -> pd.DataFrame:
        """One boolean column per family: True where the family is among the row's reasons."""
        return pd.DataFrame({f: [f in row for row in self.families] for f in families})


def risky_side(values: pd.DataFrame, specs: dict[str, FeatureSpec], medians: dict[str, float]) -> np.ndarray:
    """Boolean (rows x features): the value points towards risk in its feature's direction (or has none)."""
    ok = np.ones(values.shape, dtype=bool)
    for j, name in enumerate(values.columns):
        spec = specs.get(name)
        if spec is None or spec.risk_direction == 0 or name not in medians:
            continue
        deviation = values[name].to_numpy(dtype=float) - medians[name]
        ok[:, j] = np.sign(deviation) == spec.risk_direction
    return ok


def _template_fields(template: str) -> list[str]:
    return [field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template) if field]


def _render(spec: FeatureSpec, rows: pd.DataFrame) -> list[str]:
    """The spec's reason for each row, passing only the columns its template reads."""
    needed = [c for c in dict.fromkeys([spec.name, *_template_fields(spec.reason)]) if c in rows.columns]
    return [spec.describe(record) for record in rows[needed].to_dict("records")]


def top_reasons(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    specs: dict[str, FeatureSpec],
    medians: dict[str, float],
    k: int,
) -> Reasons:
    """The ``k`` largest eligible contributions per row, in words (fewer when fewer features qualify)."""
    names = [c for c in contributions.columns if c in specs and specs[c].risk_direction != 0]
    contrib = contributions[names].to_numpy(dtype=float)
    score = np.where((contrib > 0) & risky_side(values[names], specs, medians), contrib, -np.inf)
    # One reason per builder: windowed variants and the BG/NBD outputs say the same thing in other words.
    builders = pd.factorize(pd.Series([id(specs[n].builder) for n in names]))[0]
    order = np.zeros((len(values), k), dtype=int)
    valid = np.zeros((len(values), k), dtype=bool)
    for slot in range(min(k, len(names))):
        best = np.argmax(score, axis=1)
        order[:, slot] = best
        valid[:, slot] = np.isfinite(score[np.arange(len(best)), best])
        score[builders[None, :] == builders[best][:, None]] = -np.inf

    n_rows = len(values)
    texts = np.full((n_rows, k), "", dtype=object)
    for slot in range(order.shape[1]):
        for j in np.unique(order[valid[:, slot], slot]):
            rows = np.flatnonzero(valid[:, slot] & (order[:, slot] == j))
            texts[rows, slot] = _render(specs[names[j]], values.iloc[rows])
    name_array = np.array(names, dtype=object)
    family_array = np.array([specs[n].family for n in names], dtype=object)
    return Reasons(
        texts=[list(t[v]) for t, v in zip(texts, valid, strict=True)],
        features=[list(name_array[o[v]]) for o, v in zip(order, valid, strict=True)],
        families=[list(family_array[o[v]]) for o, v in zip(order, valid, strict=True)],
    )
