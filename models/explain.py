"""Reasons in words: each row's top risk-raising LightGBM contributions, rendered from the feature templates.

A feature is a reason for a row only when it has a plain-words template and a risk direction, raises that row's
predicted risk (positive contribution) AND its value, as the words show it, lies beyond both the value typical of
the active population (its median at the as-of date) and the feature's neutral value in the risk direction: so a
driver that lowers risk, a value that reads as good news, or a change that shows as zero is never a reason. A
degree of behaviour (days, counts, spend, trends, shares) must moreover be notable: among the riskiest
``notable_share`` of the active population on that measure (see :func:`population_notable`), so "spend down 2%"
or "buys every 20 days (typical: 19)" is not given as a reason. Complaints and account-manager events are
reasons whenever they happen (a complaint speaks for many silent customers). A row states its silence once: the
days since the last purchase or how overdue that is, and a window with no purchase or no spend (which restates
the silence) only when neither is a reason. An open complaint older than ``stale_complaint_days`` is worded as a
question about the data, not as a fresh grievance.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features import FeatureSpec
from features.registry import NUMERIC, SILENCE, duration_words

REASON_SEPARATOR = "; "
CODE_SEPARATOR = ";"
# The fields FeatureSpec.describe derives from a numeric feature's value, over the row's columns.
DERIVED_FIELDS = ("change", "direction", "duration", "s", "no", "count")
TREND_FIELDS = ("previous", "recent")
# Open complaints older than the configured age: a question about the data (was it closed?), not a grievance.
STALE_COMPLAINT_AGE = "oldest_open_complaint_age_days"
STALE_COMPLAINT_GROUP = "open_complaint"
STALE_COMPLAINT_CODE = "stale_complaint"
STALE_COMPLAINT_TEXT = "complaint open {:.0f} days: check whether it was closed"
# A row's reasons when none qualifies: said, so an empty cell is never read as a missing explanation.
NO_REASON_TEXT = "no signal stands out against the other active customers"
# Fields whose format decides how finely a value is shown (and so when it differs from the typical one).
VALUE_FIELDS = ("value", "change", "count")
# Reason families that are events, not degrees: a reason whenever they happen, however common they are.
EVENT_FAMILIES = ("complaint", "open_complaint", "account_manager")


@dataclass(frozen=True, eq=False)
class Reasons:
    """Per row, up to k reasons best first: slot s of row r is feature ``names[slots[r, s]]`` worded as
    ``slot_texts[r, s]``, of reason code ``slot_codes[r, s]`` (the feature's family, or stale_complaint);
    ``slots`` is -1 (text and code "") past the row's last reason."""

    slots: np.ndarray
    slot_texts: np.ndarray
    slot_codes: np.ndarray
    names: tuple[str, ...]

    def _per_row(self, table: np.ndarray) -> list[list[str]]:
        counts = (self.slots >= 0).sum(axis=1)
        rows = table.tolist()
        for short in np.flatnonzero(counts < table.shape[1]).tolist():  # only rows with fewer than k reasons
            rows[short] = rows[short][: counts[short]]
        return rows

    @property
    def texts(self) -> list[list[str]]:
        return self._per_row(self.slot_texts)

    @property
    def features(self) -> list[list[str]]:
        return self._per_row(np.array([*self.names, ""], dtype=object)[self.slots])  # -1 reads the trailing ""

    @property
    def families(self) -> list[list[str]]:
        return self._per_row(self.slot_codes)

    def joined(self) -> list[str]:
        """The rows' reasons, best first, ';'-separated; :data:`NO_REASON_TEXT` for a row without one."""
        return [text or NO_REASON_TEXT for text in _joined(self.slots, self.slot_texts, REASON_SEPARATOR)]

    def codes_joined(self) -> list[str]:
        """The rows' reason codes, each once, best reason first, ';'-separated."""
        codes = self.slot_codes.copy()
        for slot in range(1, codes.shape[1]):
            repeated = (codes[:, [slot]] == codes[:, :slot]).any(axis=1)
            codes[repeated, slot] = ""
        return _joined(np.where(codes != "", self.slots, -1), codes, CODE_SEPARATOR)

    @classmethod
    def concat(cls, parts: list[Reasons]) -> Reasons:
        """The rows of ``parts`` one after another (all worded from the same model, so the same names)."""
        names = {p.names for p in parts}
        if len(names) != 1:
            raise ValueError("reasons of different models cannot be combined")
        return cls(
            np.concatenate([p.slots for p in parts]),
            np.concatenate([p.slot_texts for p in parts]),
            np.concatenate([p.slot_codes for p in parts]),
            names.pop(),
        )

    def take(self, rows: np.ndarray) -> Reasons:
        """The reasons of ``rows`` (positions), in that order."""
        return Reasons(self.slots[rows], self.slot_texts[rows], self.slot_codes[rows], self.names)

    def has_family(self, families: list[str]) -> pd.DataFrame:
        """One boolean column per family: True where the family is among the row's reason codes."""
        return pd.DataFrame({f: (self.slot_codes == f).any(axis=1) for f in families})


def _joined(slots: np.ndarray, texts: np.ndarray, separator: str) -> list[str]:
    joined = np.full(len(slots), "", dtype=object)
    for slot in range(slots.shape[1]):
        present = slots[:, slot] >= 0
        glue = np.where(joined == "", "", separator)
        joined = np.where(present, joined + glue + texts[:, slot], joined)
    return joined.tolist()


def explains(spec: FeatureSpec | None) -> bool:
    """Whether the feature can be a reason: numeric, with plain words and a risk direction."""
    return spec is not None and bool(spec.reason) and spec.risk_direction != 0 and spec.kind == NUMERIC


def display_step(spec: FeatureSpec) -> float:
    """How finely the reason shows the feature's value: 1 for "{value:.0f}", 0.01 for "{change:.0%}", ...;
    0 when the template shows no rounded value (the value is compared exactly)."""
    for _, field, format_spec, _ in string.Formatter().parse(spec.reason):
        if field in ("count", "duration"):  # whole numbers; a duration in days at least (coarser units later)
            return 1.0
        if field in VALUE_FIELDS:
            match = re.search(r"\.(\d+)([f%])", format_spec or "")
            if match:
                return 10.0 ** -int(match[1]) * (0.01 if match[2] == "%" else 1.0)
    return 0.0


def reason_threshold(spec: FeatureSpec, typical: float | None) -> float | None:
    """The value a reason must lie beyond (in the risk direction): the typical value or the neutral one,
    whichever is further towards risk."""
    bounds = [b for b in (typical, spec.neutral) if b is not None and np.isfinite(b)]
    if not bounds:
        return None
    return max(bounds) if spec.risk_direction > 0 else min(bounds)


def risky_side(
    values: pd.DataFrame,
    specs: dict[str, FeatureSpec],
    typical: dict[str, float],
    notable: dict[str, float] | None = None,
) -> np.ndarray:
    """Boolean (rows x features): the value, as the reason would show it, lies beyond the feature's threshold in
    its risk direction and reaches its ``notable`` bound (when given; equal counts, so a share of customers tied
    at a value, as at zero visits, is notable together). False for features that cannot be reasons."""
    notable = notable or {}
    ok = np.zeros(values.shape, dtype=bool)
    for j, name in enumerate(values.columns):
        spec = specs.get(name)
        if not explains(spec):
            continue
        threshold = reason_threshold(spec, typical.get(name))
        value = values[name].to_numpy(dtype=float)
        if threshold is None:
            ok[:, j] = np.isfinite(value)
            continue
        bound = notable.get(name, np.nan)
        bound = bound if np.isfinite(bound) else threshold  # no population value (all missing): no extra bound
        step = display_step(spec)
        if step:
            value, threshold, bound = np.round(value / step), np.round(threshold / step), np.round(bound / step)
        ok[:, j] = (spec.risk_direction * (value - threshold) > 0) & (spec.risk_direction * (value - bound) >= 0)
    return ok


def population_typical(values: pd.DataFrame, specs: dict[str, FeatureSpec]) -> dict[str, float]:
    """The median of each feature that can be a reason, over ``values`` (the active population, or a sample)."""
    names = [c for c in values.columns if explains(specs.get(c))]
    return {name: float(np.nanmedian(values[name].to_numpy(dtype=float))) for name in names if len(values)}


def population_notable(values: pd.DataFrame, specs: dict[str, FeatureSpec], share: float) -> dict[str, float]:
    """Where the riskiest ``share`` of ``values`` (the active population, or a sample) begins, for each feature
    that can be a reason and is a degree, not an event (:data:`EVENT_FAMILIES`): the (1 - share) quantile when
    a higher value is riskier, the ``share`` quantile when a lower one is. ``share`` 0.5 is the median. Missing
    values are left out; a feature missing everywhere has no bound."""
    names = [c for c in values.columns if explains(specs.get(c)) and specs[c].family not in EVENT_FAMILIES]
    known = {name: values[name].to_numpy(dtype=float) for name in names}
    return {
        name: float(np.quantile(v[~np.isnan(v)], 1.0 - share if specs[name].risk_direction > 0 else share))
        for name, v in known.items() if (~np.isnan(v)).any()
    }


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
    word = "{count}" if field == "count" else "{duration}"
    one_field = replace(spec, reason=word, previous="")  # words, from the registry itself, per distinct value
    keys = value.view(f"u{value.itemsize}")
    codes, distinct = pd.factorize(keys, use_na_sentinel=False)
    members = np.empty(len(distinct), dtype=np.intp)
    members[codes] = np.arange(len(value))
    return np.array([one_field.describe(v) for v in value[members].tolist()], dtype=object)[codes]


def _field_values(
    spec: FeatureSpec, field: str, columns: dict[str, np.ndarray], typical: float | None
) -> np.ndarray:
    """What the template field reads in FeatureSpec.describe's context: derived fields over ``value`` over
    the row's columns over the builder's params."""
    value = columns[spec.name]
    if spec.kind == NUMERIC and field in DERIVED_FIELDS:
        return _derived(spec, field, value)
    if spec.previous and field == "previous":
        return columns[spec.previous]
    if spec.previous and field == "recent":
        return value * columns[spec.previous]
    if field == "typical" and typical is not None:
        return np.full(len(value), typical)
    if field == "typical_duration" and typical is not None:
        return np.full(len(value), duration_words(typical), dtype=object)
    if field == "value":
        return value
    if field in columns:
        return columns[field]
    return np.full(len(value), spec.params[field], dtype=object)


def _renders_by_column(
    spec: FeatureSpec, parsed: list, values: pd.DataFrame, needed: list[str], typical: float | None
) -> bool:
    """Whether the template can be rendered column-wise: plain field names that resolve, plain format specs,
    numpy numeric columns (anything else is worded row by row by FeatureSpec.describe)."""
    derived = (*DERIVED_FIELDS, *(TREND_FIELDS if spec.previous else ())) if spec.kind == NUMERIC else ()
    known = (*derived, "value", *needed, *(("typical", "typical_duration") if typical is not None else ()))
    for _, field, format_spec, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier() or "{" in format_spec:
            return False
        if field not in known and field not in spec.params:
            return False
    return all(isinstance(values[c].dtype, np.dtype) and values[c].dtype.kind in "biuf" for c in needed)


def _render(spec: FeatureSpec, values: pd.DataFrame, rows: np.ndarray, typical: float | None = None) -> np.ndarray:
    """The spec's reason for each of ``rows``, worded exactly as FeatureSpec.describe words it.

    Field by field over whole columns, each distinct value formatted once; no Python work per row.
    """
    fields = [spec.name, *_template_fields(spec.reason), *([spec.previous] if spec.previous else [])]
    needed = [c for c in dict.fromkeys(fields) if c in values.columns]
    parsed = list(string.Formatter().parse(spec.reason))
    if not _renders_by_column(spec, parsed, values, needed, typical):
        records = values[needed].iloc[rows].to_dict("records")
        return np.array([spec.describe(record, typical) for record in records], dtype=object)
    columns = {c: values[c].to_numpy()[rows] for c in needed}
    parts: list[str | tuple[np.ndarray, list[str]]] = []
    which = np.zeros(len(rows), dtype=np.int64)  # the row's combination of words so far
    for literal, field, format_spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if field is not None:
            field_values = _field_values(spec, field, columns, typical)
            codes, words = _distinct_formatted(field_values, format_spec, conversion)
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
    typical: dict[str, float],
    k: int,
    stale_complaint_days: float = np.inf,
    notable: dict[str, float] | None = None,
) -> Reasons:
    """The ``k`` largest eligible contributions per row, in words (fewer when fewer features qualify).

    ``typical``: each feature's value typical of the active population (see :func:`population_typical`);
    ``notable``: where its riskiest share begins (see :func:`population_notable`; None: no such bound).
    """
    names = [c for c in contributions.columns if explains(specs.get(c))]
    contrib = contributions[names].to_numpy(dtype=float)
    eligible = (contrib > 0) & risky_side(values[names], specs, typical, notable)
    n_rows = len(values)
    # A row's silence: its silence features, and its windows whose zero restates the silence. Such a window is
    # a reason only when no silence feature is (the silence says more), and the silence is said once.
    silence = np.array([specs[n].group == SILENCE for n in names], dtype=bool)
    restating = [j for j, n in enumerate(names) if specs[n].zero_restates == SILENCE]
    in_silence = np.broadcast_to(silence, (n_rows, len(names))).copy()
    in_silence[:, restating] = values[[names[j] for j in restating]].to_numpy(dtype=float) == 0
    said_better = eligible[:, silence].any(axis=1)[:, None] & in_silence & ~silence
    score = np.where(eligible & ~said_better, contrib, -np.inf)
    # One reason per group: windowed variants, or a level and its trend, say the same thing in other words.
    groups = pd.factorize(pd.Series([specs[n].group or id(specs[n].builder) for n in names], dtype=object))[0]
    same_group = groups[:, None] == groups[None, :]  # feature x feature
    slots = np.full((n_rows, k), -1)
    for slot in range(min(k, len(names))):
        best = np.argmax(score, axis=1) if len(names) else np.zeros(n_rows, dtype=np.intp)
        valid = np.isfinite(score[np.arange(n_rows), best])
        slots[:, slot] = np.where(valid, best, -1)
        np.copyto(score, -np.inf, where=same_group[best])
        said_silence = in_silence[np.arange(n_rows), best] & valid
        np.copyto(score, -np.inf, where=said_silence[:, None] & in_silence)

    texts = np.full((n_rows, k), "", dtype=object)
    codes = np.full((n_rows, k), "", dtype=object)
    flat = slots.ravel()
    order = np.argsort(flat, kind="stable")  # positions of each feature's slots, row by row
    bounds = np.searchsorted(flat[order], np.arange(len(names) + 1))
    for j in range(len(names)):
        at_positions = order[bounds[j]: bounds[j + 1]]
        if len(at_positions):  # a feature fills at most one slot of a row
            rows, at = np.divmod(at_positions, k)
            spec = specs[names[j]]
            texts[rows, at] = _render(spec, values, rows, typical.get(spec.name))
            codes[rows, at] = spec.family
            if spec.group == STALE_COMPLAINT_GROUP and STALE_COMPLAINT_AGE in values.columns:
                age = values[STALE_COMPLAINT_AGE].to_numpy(dtype=float)[rows]
                stale = age > stale_complaint_days
                texts[rows[stale], at[stale]] = [STALE_COMPLAINT_TEXT.format(a) for a in age[stale].tolist()]
                codes[rows[stale], at[stale]] = STALE_COMPLAINT_CODE
    return Reasons(slots, texts, codes, tuple(names))
