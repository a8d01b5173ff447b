"""Reasons in words: each row's top risk-raising LightGBM contributions, rendered from the feature templates.

A feature is a reason for a row only when it has a registered risk direction, raises that row's predicted
risk (positive contribution) AND its value lies on the risky side of the training median in that direction;
so a driver that lowers risk, or a value that reads as good news, is never given as a reason.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features import FeatureSpec
from features.registry import NUMERIC

REASON_SEPARATOR = "; "
# The fields FeatureSpec.describe derives from a numeric feature's value, over the row's columns.
DERIVED_FIELDS = ("change", "direction", "duration", "s", "no")


@dataclass(frozen=True, eq=False)
class Reasons:
    """Per row, up to k reasons best first: slot s of row r is feature ``names[slots[r, s]]`` worded as
    ``slot_texts[r, s]``; ``slots`` is -1 (and the text "") past the row's last reason."""

    slots: np.ndarray
    slot_texts: np.ndarray
    names: tuple[str, ...]
    name_families: tuple[str, ...]

    def _per_row(self, table: np.ndarray) -> list[list[str]]:
        counts = (self.slots >= 0).sum(axis=1)
        rows = table.tolist()
        for short in np.flatnonzero(counts < table.shape[1]).tolist():  # only rows with fewer than k reasons
            rows[short] = rows[short][: counts[short]]
        return rows

    def _lookup(self, labels: tuple[str, ...]) -> np.ndarray:
        return np.array([*labels, ""], dtype=object)[self.slots]  # -1 reads the trailing ""

    @property
    def texts(self) -> list[list[str]]:
        return self._per_row(self.slot_texts)

    @property
    def features(self) -> list[list[str]]:
        return self._per_row(self._lookup(self.names))

    @property
    def families(self) -> list[list[str]]:
        return self._per_row(self._lookup(self.name_families))

    def joined(self) -> list[str]:
        joined = np.full(len(self.slots), "", dtype=object)
        for slot in range(self.slots.shape[1]):
            separator = REASON_SEPARATOR if slot else ""
            joined = np.where(self.slots[:, slot] >= 0, joined + separator + self.slot_texts[:, slot], joined)
        return joined.tolist()

    @classmethod
    def concat(cls, parts: list[Reasons]) -> Reasons:
        """The rows of ``parts`` one after another (all worded from the same model, so the same names)."""
        names = {(p.names, p.name_families) for p in parts}
        if len(names) != 1:
            raise ValueError("reasons of different models cannot be combined")
        return cls(
            np.concatenate([p.slots for p in parts]), np.concatenate([p.slot_texts for p in parts]), *names.pop()
        )

    def take(self, rows: np.ndarray) -> Reasons:
        """The reasons of ``rows`` (positions), in that order."""
        return Reasons(self.slots[rows], self.slot_texts[rows], self.names, self.name_families)

    def has_family(self, families: list[str]) -> pd.DataFrame:
        """One boolean column per family: True where the family is among the row's reasons."""
        slot_family = np.array([*self.name_families, None], dtype=object)
        codes = pd.Index(families).get_indexer(slot_family)[self.slots]  # -1: no reason or another family
        return pd.DataFrame({f: (codes == i).any(axis=1) for i, f in enumerate(families)})


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


def _distinct_formatted(values: np.ndarray, format_spec: str, conversion: str | None) -> tuple[np.ndarray, list[str]]:
    """``format(value, format_spec)`` (after ``!r``/``!s``/``!a``) computed once per distinct value: each value's
    code into the list of distinct words."""
    keys = values.view(f"u{values.itemsize}") if values.dtype.kind in "biuf" else values  # -0.0 stays apart
    codes, distinct = pd.factorize(keys, use_na_sentinel=False)
    members = np.empty(len(distinct), dtype=np.intp)
    members[codes] = np.arange(len(values))  # any member stands for its value
    formatter = ("{" + (f"!{conversion}" if conversion else "") + ":" + format_spec + "}").format
    return codes, list(map(formatter, values[members].tolist()))


def _derived(spec: FeatureSpec, field: str, value: np.ndarray) -> np.ndarray:
    """A derived field of FeatureSpec.describe, for an array of values."""
    if field == "change":
        return np.abs(value - 1.0)
    if field == "direction":
        return np.where(value < 1.0, "down", "up").astype(object)
    if field == "s":
        return np.where(value == 1, "", "s").astype(object)
    if field == "no":
        return np.where(value == 0, "no ", "").astype(object)
    one_field = replace(spec, reason="{duration}")  # words, from the registry itself, per distinct value
    keys = value.view(f"u{value.itemsize}")
    codes, distinct = pd.factorize(keys, use_na_sentinel=False)
    members = np.empty(len(distinct), dtype=np.intp)
    members[codes] = np.arange(len(value))
    return np.array([one_field.describe(v) for v in value[members].tolist()], dtype=object)[codes]


def _field_values(spec: FeatureSpec, field: str, columns: dict[str, np.ndarray]) -> np.ndarray:
    """What the template field reads in FeatureSpec.describe's context: derived fields over ``value`` over
    the row's columns over the builder's params."""
    value = columns[spec.name]
    if spec.kind == NUMERIC and field in DERIVED_FIELDS:
        return _derived(spec, field, value)
    if field == "value":
        return value
    if field in columns:
        return columns[field]
    return np.full(len(value), spec.params[field], dtype=object)


def _renders_by_column(spec: FeatureSpec, parsed: list, values: pd.DataFrame, needed: list[str]) -> bool:
    """Whether the template can be rendered column-wise: plain field names that resolve, plain format specs,
    numpy numeric columns (anything else is worded row by row by FeatureSpec.describe)."""
    derived = DERIVED_FIELDS if spec.kind == NUMERIC else ()
    for _, field, format_spec, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier() or "{" in format_spec:
            return False
        if field not in (*derived, "value", *needed) and field not in spec.params:
            return False
    return all(isinstance(values[c].dtype, np.dtype) and values[c].dtype.kind in "biuf" for c in needed)


def _render(spec: FeatureSpec, values: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """The spec's reason for each of ``rows``, worded exactly as FeatureSpec.describe words it.

    Field by field over whole columns, each distinct value formatted once; no Python work per row.
    """
    needed = [c for c in dict.fromkeys([spec.name, *_template_fields(spec.reason)]) if c in values.columns]
    parsed = list(string.Formatter().parse(spec.reason))
    if not _renders_by_column(spec, parsed, values, needed):
        records = values[needed].iloc[rows].to_dict("records")
        return np.array([spec.describe(record) for record in records], dtype=object)
    columns = {c: values[c].to_numpy()[rows] for c in needed}
    parts: list[str | tuple[np.ndarray, list[str]]] = []
    which = np.zeros(len(rows), dtype=np.int64)  # the row's combination of words so far
    for literal, field, format_spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if field is not None:
            codes, words = _distinct_formatted(_field_values(spec, field, columns), format_spec, conversion)
            parts.append((codes, words))
            which = pd.factorize(which * len(words) + codes)[0]  # renumbered: never beyond len(rows) ** 2
    # Each distinct combination of words is joined once, then every row takes its text.
    n_distinct = int(which.max()) + 1 if len(rows) else 0
    member = np.empty(n_distinct, dtype=np.intp)
    member[which] = np.arange(len(rows))
    pieces = [[part] * n_distinct if isinstance(part, str) else [part[1][c] for c in part[0][member]] for part in parts]
    texts = ["".join(words) for words in zip(*pieces)] if pieces else [""] * n_distinct
    return np.array(texts, dtype=object)[which]


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
    same_builder = builders[:, None] == builders[None, :]  # feature x feature
    n_rows = len(values)
    slots = np.full((n_rows, k), -1)
    for slot in range(min(k, len(names))):
        best = np.argmax(score, axis=1)
        valid = np.isfinite(score[np.arange(n_rows), best])
        slots[:, slot] = np.where(valid, best, -1)
        np.copyto(score, -np.inf, where=same_builder[best])

    texts = np.full((n_rows, k), "", dtype=object)
    flat = slots.ravel()
    order = np.argsort(flat, kind="stable")  # positions of each feature's slots, row by row
    bounds = np.searchsorted(flat[order], np.arange(len(names) + 1))
    for j in range(len(names)):
        at_positions = order[bounds[j]: bounds[j + 1]]
        if len(at_positions):  # a feature fills at most one slot of a row
            rows, at = np.divmod(at_positions, k)
            texts[rows, at] = _render(specs[names[j]], values, rows)
    return Reasons(slots, texts, tuple(names), tuple(specs[n].family for n in names))
