"""The one list of features: builder, parameters, default, reason template, unit and risk direction of each.

Training, scoring explanations and the docs all read :func:`feature_specs`; windows come from the settings, so
a feature family is written once and expanded here (``spend_30d``, ``spend_90d``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features import complaints, engagement, lifecycle, price, recency_frequency, relationship, wallet
from features.settings import OTHER_LABEL, FeatureSettings

NUMERIC = "numeric"
CATEGORICAL = "categorical"
IN_WINDOW = "in the last {window_days} days"
# The reason group of a customer's silence: days since the last purchase and how overdue that is.
SILENCE = "silence"


def duration_words(days: float) -> str:
    """Days in the coarsest unit that reads naturally: "5 days", "3 weeks", "4 months", "2 years"; part of a day
    in hours ("7 hours", "under an hour"; exactly 0 stays "0 days")."""
    if 0 < abs(days) < 1:
        hours = round(days * 24)
        return "under an hour" if hours == 0 else f"{hours} hour{'' if hours == 1 else 's'}"
    for unit, size, below in (
        ("day", 1, 14),
        ("week", 7, 60),
        ("month", 30.4, 730),
        ("year", 365.25, float("inf")),
    ):
        if abs(days) < below:
            count = round(days / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{days:.0f} days"


# Reason family of a builder (by function name, else by module): what the playbook in configs/ acts on.
REASON_FAMILIES = {
    "complaints": "complaint",
    "open_complaints": "open_complaint",
    "oldest_open_complaint_age_days": "open_complaint",
    "price": "price",
    "wallet": "wallet",
    "engagement": "engagement",
    "relationship": "account_manager",
    "lifecycle": "decline",
    "recency_frequency": "recency",
    "orders_trend": "decline",
    "spend_trend": "decline",
    "spend_vs_peak_ratio": "decline",
    "visit_trend": "engagement",
    "tenure_days": "tenure",
    "has_account_manager": "other",  # never having had one is not a departure
    "segment": "other",
    "bgnbd": "recency",
}


@dataclass(frozen=True)
class FeatureSpec:
    """One feature column: how it is built, its default for customers without events, and how it reads.

    ``builder`` gets its positional arguments by parameter name (a table of :class:`features.tables.Tables`, a
    field of ``GlobalStats``, or an earlier feature column; ``inputs`` renames them), ``as_of`` when it takes
    one, and ``params`` as keywords. ``reason`` is a ``str.format`` template (see :meth:`describe`); an empty
    one means the feature has no plain-words meaning and is never given as a reason.
    ``risk_direction``: +1 a higher value raises churn risk, -1 a lower value does, 0 no fixed direction.
    ``neutral``: the value that is no news (1.0 for a trend ratio, 0 for a count of complaints); a reason is
    only given beyond it in the risk direction. ``previous``: for a trend ratio, the column holding the window
    before (the template's ``previous``; ``recent`` = value x previous). ``group``: one reason per group (empty: one
    per builder), so windowed variants and a level with its trend are not said twice. ``zero_restates``: the
    group a zero value of this feature only restates (no purchases in the last 30 days restates a silence of 30
    days or more): in a row where it is zero it counts as a member of that group.
    ``categories``: the fixed set of a categorical feature, None when open (e.g. segment) or numeric.
    ``family``: the reason family the retention playbook acts on (open_complaint, complaint, account_manager,
    price, decline, engagement, wallet, recency, tenure, other); by default from the builder, see
    :data:`REASON_FAMILIES`.
    """

    name: str
    builder: Callable[..., pd.Series]
    params: Mapping[str, Any]
    default: float | str
    reason: str
    unit: str
    risk_direction: int
    inputs: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] | None = None
    family: str = ""
    neutral: float | None = None
    previous: str = ""
    group: str = ""
    zero_restates: str = ""

    def __post_init__(self):
        if not self.family:
            module = self.builder.__module__.rsplit(".", 1)[-1]
            family = REASON_FAMILIES.get(self.builder.__name__, REASON_FAMILIES.get(module, "other"))
            object.__setattr__(self, "family", family)

    @property
    def kind(self) -> str:
        return CATEGORICAL if isinstance(self.default, str) else NUMERIC

    def describe(self, row, typical: float | None = None) -> str:
        """The reason in plain words, from this feature's value or from a whole row (a mapping of columns).

        Template fields: ``value``, every column of the row, the builder's params, ``typical`` (the value
        typical of the customers compared with, when given) and ``typical_duration`` (it in words), and for
        numeric features ``change`` (|value - 1|, for trends), ``direction`` ("down"/"up"), ``duration`` (value in days as words), ``s`` (plural suffix),
        ``no`` ("no " when the value is 0), ``count`` ("no" when the value is 0, else the whole number) and,
        with ``previous``, ``previous`` (that column) and ``recent`` (value x previous).
        """
        values = dict(row) if isinstance(row, Mapping | pd.Series) else {self.name: row}
        value = values[self.name]
        context = {**self.params, **values, "value": value}
        if typical is not None:
            context |= {"typical": typical, "typical_duration": duration_words(typical)}
        if self.kind == NUMERIC:
            context |= {
                "change": abs(value - 1.0),
                "direction": "down" if value < 1.0 else "up",
                "duration": duration_words(value),
                "s": "" if value == 1 else "s",
                "no": "no " if value == 0 else "",
                "count": "no" if value == 0 else f"{value:.0f}",
            }
            if self.previous:
                context |= {"previous": values[self.previous], "recent": value * values[self.previous]}
        return self.reason.format_map(context)


def _windowed(builder, windows, *, name: str | None = None, **spec) -> list[FeatureSpec]:
    """One spec per window: ``{name or builder name}_{w}d`` with ``window_days=w`` added to the params."""
    params = spec.pop("params", {})
    return [
        FeatureSpec(f"{name or builder.__name__}_{w}d", builder, {"window_days": w, **params}, **spec)
        for w in windows
    ]


def feature_specs(settings: FeatureSettings) -> list[FeatureSpec]:
    """Every feature, in table column order, with windows expanded from ``settings``."""
    s = settings
    trend = {"window_days": s.trend_window_days, "cap": s.trend_cap}
    history = {"window_days": s.complaint_history_days}
    interval = {"window_days": s.interval_window_days}
    trend_names = {"orders_trend": f"orders_trend_{s.trend_window_days}d",
                   "spend_trend": f"spend_trend_{s.trend_window_days}d"}
    rf, pr, wl, cp, en, rl = recency_frequency, price, wallet, complaints, engagement, relationship
    w = s.trend_window_days
    previous = {"orders": f"purchase_count_previous_{w}d", "spend": f"spend_previous_{w}d",
                "visits": f"visit_count_previous_{w}d"}
    versus = f"last {w} days vs the {w} before"
    # fmt: off
    return [
        FeatureSpec("days_since_last_purchase", rf.days_since_last_purchase, {},
                    default=float(max(s.windows_days)), unit="days", risk_direction=+1, neutral=0.0,
                    group=SILENCE, reason="no purchase for {value:.0f} days (typical: {typical:.0f})"),
        *_windowed(rf.purchase_count, s.windows_days, default=0.0, unit="count", risk_direction=-1, group="orders",
                   zero_restates=SILENCE,
                   reason="{count} purchase{s} in the last {window_days} days (typical: {typical:.0f})"),
        *_windowed(rf.spend, s.windows_days, default=0.0, unit="currency", risk_direction=-1, group="spend",
                   zero_restates=SILENCE,
                   reason="net spend {value:,.0f} in the last {window_days} days (typical: {typical:,.0f})"),
        FeatureSpec("purchase_gap_mean_days", rf.purchase_gap_mean_days, interval,
                    default=float(s.interval_window_days), unit="days", risk_direction=+1, neutral=0.0,
                    reason="usually buys every {value:.0f} days (typical: {typical:.0f})"),
        FeatureSpec("purchase_gap_std_days", rf.purchase_gap_std_days, interval, default=0.0, unit="days",
                    risk_direction=+1, neutral=0.0,
                    reason="irregular buying: gaps vary by {value:.0f} days (typical: {typical:.0f})"),
        FeatureSpec("purchase_overdue_ratio", rf.purchase_overdue_ratio, {}, default=1.0, unit="ratio",
                    risk_direction=+1, neutral=1.0, group=SILENCE,
                    reason="silent for {value:.1f}x the usual {purchase_gap_mean_days:.0f} days between "
                           "purchases"),
        FeatureSpec("tenure_days", rf.tenure_days, {}, default=0.0, unit="days", risk_direction=-1,
                    neutral=365.0, reason="customer for only {duration}"),
        *_windowed(rf.returns_share, (s.returns_window_days,), default=0.0, unit="share", risk_direction=+1,
                   neutral=0.0, reason="{value:.0%} of spend returned in the last {window_days} days"),
        FeatureSpec(trend_names["orders_trend"], rf.orders_trend, trend, default=1.0, unit="ratio",
                    risk_direction=-1, neutral=1.0, previous=previous["orders"], group="orders",
                    reason="orders fell from {previous:.0f} to {recent:.0f}: " + versus),
        FeatureSpec(previous["orders"], rf.purchase_count_previous, {"window_days": w}, default=0.0,
                    unit="count", risk_direction=0,
                    reason="{value:.0f} purchase{s} in the {window_days} days before the last {window_days}"),
        FeatureSpec(trend_names["spend_trend"], rf.spend_trend, trend, default=1.0, unit="ratio",
                    risk_direction=-1, neutral=1.0, previous=previous["spend"], group="spend",
                    reason="spend down {change:.0%}: {recent:,.0f} in the last {window_days} days vs "
                           "{previous:,.0f} in the {window_days} before"),
        FeatureSpec(previous["spend"], rf.spend_previous, {"window_days": w}, default=0.0, unit="currency",
                    risk_direction=0,
                    reason="net spend {value:,.0f} in the {window_days} days before the last {window_days}"),
        *_windowed(pr.promo_share, s.price_windows_days, default=0.0, unit="share", risk_direction=+1,
                   neutral=0.0,
                   reason="{value:.0%} of spend on promotion in the last {window_days} days "
                          "(typical: {typical:.0%})"),
        *_windowed(pr.discount_depth, s.price_windows_days, default=0.0, unit="share", risk_direction=+1,
                   neutral=0.0,
                   reason="average discount {value:.0%} in the last {window_days} days (typical: {typical:.0%})"),
        FeatureSpec("price_rise_exposure_share", pr.price_rise_exposure_share,
                    {"window_days": s.price_history_days}, default=0.0, unit="share", risk_direction=+1,
                    neutral=0.0, reason="{value:.0%} of spend in categories whose list price just rose"),
        FeatureSpec("spend_trend_since_price_rise", pr.spend_trend_since_price_rise, {"cap": s.trend_cap},
                    default=1.0, unit="ratio", risk_direction=-1, neutral=1.0,
                    reason="spend on repriced categories down {change:.0%} since the price rise"),
        FeatureSpec(f"share_of_wallet_{s.wallet_window_days}d", wl.share_of_wallet,
                    {"window_days": s.wallet_window_days, "peer_group_column": s.peer_group_column},
                    default=0.0, unit="share", risk_direction=-1,
                    reason="about {value:.0%} of the customer's estimated spend comes to us "
                           "(typical: {typical:.0%})"),
        FeatureSpec("spend_vs_peak_ratio", wl.spend_vs_peak_ratio,
                    {"window_days": s.peak_window_days, "lookback_days": s.peak_lookback_days},
                    default=1.0, unit="ratio", risk_direction=-1, neutral=1.0,
                    reason="spend at {value:.0%} of its best {window_days}-day period"),
        *_windowed(cp.complaint_count, s.windows_days, default=0.0, unit="count", risk_direction=+1,
                   neutral=0.0, reason="{value:.0f} complaint{s} in the last {window_days} days"),
        *(spec for category in (*s.complaint_categories, OTHER_LABEL) for spec in _windowed(
            cp.complaint_count_by_category, (s.complaint_history_days,), name=f"complaints_{category}",
            params={"category": category, "categories": s.complaint_categories}, default=0.0, unit="count", risk_direction=+1, neutral=0.0,
            reason="{value:.0f} " + category.replace("_", " ") + " complaint{s} " + IN_WINDOW)),
        FeatureSpec("open_complaints", cp.open_complaints, {}, default=0.0, unit="count", risk_direction=+1,
                    neutral=0.0, group="open_complaint",
                    reason="{value:.0f} complaint{s} still open, "
                           "oldest {oldest_open_complaint_age_days:.0f} days"),
        FeatureSpec("oldest_open_complaint_age_days", cp.oldest_open_complaint_age_days, {}, default=0.0,
                    unit="days", risk_direction=+1, neutral=0.0, group="open_complaint",
                    reason="a complaint open for {value:.0f} days"),
        FeatureSpec("days_to_resolve_mean", cp.days_to_resolve_mean, history, default=0.0, unit="days",
                    risk_direction=+1, neutral=0.0, reason="complaints took {duration} on average to resolve"),
        FeatureSpec("days_to_resolve_max", cp.days_to_resolve_max, history, default=0.0, unit="days",
                    risk_direction=+1, neutral=0.0, reason="a complaint took {duration} to resolve"),
        # A rating of 4 or 5 is satisfied: only 3 and below is a reason.
        FeatureSpec("worst_satisfaction", cp.worst_satisfaction, history, default=5.0, unit="rating",
                    risk_direction=-1, neutral=4.0, reason="rated a complaint's resolution {value:.0f} out of 5"),
        *_windowed(en.visit_count, s.windows_days, default=0.0, unit="count", risk_direction=-1, group="visits",
                   reason="{count} visit{s} in the last {window_days} days (typical: {typical:.0f})"),
        *(spec for channel in (*s.visit_channels, OTHER_LABEL) for spec in _windowed(
            en.visit_count_by_channel, (s.visit_channel_window_days,), name=f"visits_{channel}",
            params={"channel": channel, "channels": s.visit_channels}, default=0.0, unit="count",
            risk_direction=0, reason="{value:.0f} " + _visit_words(channel) + "{s} in the last {window_days} days")),
        *_windowed(en.browse_without_purchase_share, (s.browse_lookback_days,),
                   params={"browse_window_days": s.browse_window_days}, default=0.0, unit="share",
                   risk_direction=+1, neutral=0.0,
                   reason="{value:.0%} of visits not followed by a purchase within "
                          "{browse_window_days} days"),
        FeatureSpec("selection_days_mean", en.selection_days_mean,
                    {"window_days": s.browse_lookback_days, "max_days": s.selection_max_days},
                    default=0.0, unit="days", risk_direction=+1, neutral=0.0,
                    reason="takes {duration} from a visit to a purchase (typical: {typical_duration})"),
        FeatureSpec(f"visit_trend_{w}d", en.visit_trend, trend, default=1.0, unit="ratio",
                    risk_direction=-1, neutral=1.0, previous=previous["visits"], group="visits",
                    reason="visits fell from {previous:.0f} to {recent:.0f}: " + versus),
        FeatureSpec(previous["visits"], en.visit_count_previous, {"window_days": w}, default=0.0, unit="count",
                    risk_direction=0, reason="{value:.0f} visit{s} in the {window_days} days before the last "
                                             "{window_days}"),
        FeatureSpec("has_account_manager", rl.has_account_manager, {}, default=0.0, unit="flag",
                    risk_direction=-1, neutral=1.0, reason="{no}account manager"),
        FeatureSpec("days_since_manager_departed", rl.days_since_manager_departed,
                    {"cap_days": s.manager_departure_cap_days}, default=float(s.manager_departure_cap_days),
                    unit="days", risk_direction=-1, neutral=float(s.manager_departure_cap_days),
                    reason="account manager left {duration} ago"),
        FeatureSpec("segment", rl.segment, {}, default=rl.UNKNOWN_SEGMENT, unit="category", risk_direction=0,
                    reason="segment {value}"),
        FeatureSpec("lifecycle_stage", lifecycle.lifecycle_stage, {"thresholds": s.lifecycle},
                    default="maturity", unit="category", risk_direction=0, reason="lifecycle stage: {value}",
                    inputs=trend_names, categories=lifecycle.LIFECYCLE_STAGES),
    ]
    # fmt: on


def visits_lookback_days(settings: FeatureSettings) -> int:
    """How far before as_of any feature reads visits (the windows of the engagement builders; trends and the
    previous window reach back two windows): older visits change no feature, so a reader may leave them out."""
    s = settings
    return max(*s.windows_days, s.visit_channel_window_days, 2 * s.trend_window_days, s.browse_lookback_days)


def _visit_words(channel: str) -> str:
    """"web visit", "store visit"; a channel named as a kind of visit keeps its name ("sales visit")."""
    words = channel.replace("_", " ")
    return words if words.endswith("visit") else words + " visit"


def longest_lookback_days(settings: FeatureSettings) -> int:
    """How far before as_of the features read purchases, complaints or visits at most (a trend's previous window
    and the peak's lookback included; tenure aside, which reads the whole history)."""
    s = settings
    return max(
        *s.windows_days, *s.price_windows_days, s.interval_window_days, s.returns_window_days, s.price_history_days,
        s.wallet_window_days, s.peak_lookback_days, s.complaint_history_days, visits_lookback_days(s),
    )


def feature_dtypes(settings: FeatureSettings) -> dict[str, str]:
    """Each feature's kind, "numeric" (float64 column) or "categorical" (str column), in column order."""
    return {spec.name: spec.kind for spec in feature_specs(settings)}
