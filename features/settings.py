"""The churn definition and every window and threshold of the feature builders (built from the config)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

# No window or horizon reaches further than this: longer ones are typos (and overflow date arithmetic).
MAX_DAYS = 3650


def _require_positive(settings, *names: str) -> None:
    for name in names:
        if not getattr(settings, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(settings, name)!r}")


def _require_days(settings, *names: str) -> None:
    """Each named setting is a whole number of days from 1 to MAX_DAYS."""
    for name in names:
        value = getattr(settings, name)
        if not 0 < value <= MAX_DAYS:
            raise ValueError(f"{name} must be from 1 to {MAX_DAYS} days (10 years), got {value!r}")


@dataclass(frozen=True)
class ChurnDefinition:
    """Who counts as active at a cutoff and how far ahead the churn label looks (both half-open windows)."""

    active_window_days: int = 90
    horizon_days: int = 90

    def __post_init__(self):
        _require_days(self, "active_window_days", "horizon_days")


@dataclass(frozen=True)
class LifecycleThresholds:
    """Cut points of the lifecycle-stage rule (see :func:`features.lifecycle.lifecycle_stage`)."""

    acquisition_days: int = 180
    growth_trend: float = 1.25
    decline_trend: float = 0.75
    decline_overdue_ratio: float = 1.5
    churned_overdue_ratio: float = 3.0
    churned_min_days: int = 60

    def __post_init__(self):
        _require_positive(
            self,
            "acquisition_days",
            "growth_trend",
            "decline_trend",
            "decline_overdue_ratio",
            "churned_overdue_ratio",
        )
        if self.churned_min_days < 0:
            raise ValueError(f"churned_min_days must be >= 0, got {self.churned_min_days}")
        if self.decline_trend >= self.growth_trend:
            raise ValueError(
                f"decline_trend ({self.decline_trend}) must be below growth_trend ({self.growth_trend})"
            )


OTHER_LABEL = "other"  # the complaint category or visit channel of every value not listed in the settings
LABEL_NAME = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class FeatureSettings:
    """Windows (days) and thresholds of the feature builders; the registry expands the window tuples."""

    windows_days: tuple[int, ...] = (30, 90, 365)
    trend_window_days: int = 90
    trend_cap: float = 10.0
    interval_window_days: int = 365
    returns_window_days: int = 365
    price_windows_days: tuple[int, ...] = (90, 365)
    price_period_days: int = 28
    price_history_days: int = 365
    price_rise_lookback_days: int = 180
    price_rise_min_share: float = 0.05
    price_min_observations: int = 30
    peer_group_column: str = "segment"
    wallet_quantile: float = 0.9
    wallet_window_days: int = 365
    wallet_min_peer_group_size: int = 20
    peak_window_days: int = 90
    peak_lookback_days: int = 360
    complaint_history_days: int = 365
    visit_channel_window_days: int = 90
    browse_lookback_days: int = 90
    browse_window_days: int = 7
    selection_max_days: int = 30
    manager_departure_cap_days: int = 365
    # Complaint categories and visit channels counted apart, a feature each; every other value (and none) counts
    # as "other".
    complaint_categories: tuple[str, ...] = ("product_quality", "service", "price", "delivery", "billing")
    visit_channels: tuple[str, ...] = ("store", "web", "app", "call")
    lifecycle: LifecycleThresholds = field(default_factory=LifecycleThresholds)

    def __post_init__(self):
        # YAML gives lists; tuples keep the settings hashable and immutable.
        object.__setattr__(self, "windows_days", tuple(self.windows_days))
        object.__setattr__(self, "price_windows_days", tuple(self.price_windows_days))
        for name in ("complaint_categories", "visit_channels"):
            labels = tuple(getattr(self, name))
            object.__setattr__(self, name, labels)
            bad = [label for label in labels if not isinstance(label, str) or not LABEL_NAME.fullmatch(label)
                   or label == OTHER_LABEL]
            if bad or len(set(labels)) < len(labels):
                raise ValueError(
                    f"{name} must be distinct names of lower-case letters, digits and underscores (they name "
                    f"features), not {OTHER_LABEL!r} (every unlisted value counts as that), got {list(labels)!r}"
                )
        for f in fields(self):
            value = getattr(self, f.name)
            days = value if isinstance(value, tuple) else (value,)
            if f.name.endswith("_days") and (not days or any(not 0 < d <= MAX_DAYS for d in days)):
                raise ValueError(f"{f.name} must be one or more whole days from 1 to {MAX_DAYS}, got {value!r}")
        if not 0 < self.wallet_quantile <= 1:
            raise ValueError(f"wallet_quantile must be in (0, 1], got {self.wallet_quantile}")
        if min(self.trend_cap, self.price_min_observations, self.wallet_min_peer_group_size) < 1:
            raise ValueError("trend_cap, price_min_observations and wallet_min_peer_group_size must be >= 1")
        if self.price_rise_min_share < 0:
            raise ValueError(f"price_rise_min_share must be >= 0, got {self.price_rise_min_share}")
        if self.peak_lookback_days < self.peak_window_days:
            raise ValueError(
                "peak_lookback_days must be at least peak_window_days (it holds whole peak windows)"
            )
