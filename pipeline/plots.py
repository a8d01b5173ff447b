"""Plots as PNG bytes (matplotlib, headless): ROC, cumulative gains, reliability, importance, and the report's
bars and small multiples. Text is drawn literally (no math text: a segment or a name may hold "$")."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter
from sklearn.metrics import roc_curve

LITERAL_TEXT = {"text.parse_math": False, "axes.formatter.useoffset": False}
MAIN, MUTED, WARN = "#2f6690", "#9db4c0", "#c0392b"


def _literal_text(plot: Callable[..., bytes]) -> Callable[..., bytes]:
    """Draw the whole plot (its texts are made and laid out until the PNG is saved) with math text off."""

    @functools.wraps(plot)
    def drawn(*args, **kwargs) -> bytes:
        with plt.rc_context(LITERAL_TEXT):
            return plot(*args, **kwargs)

    return drawn


def thousands(value: float, _position=None) -> str:
    """Whole units with thousands separators: 1,234,567 (never 1e6)."""
    return f"{value:,.0f}"


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


@_literal_text
def roc_plot(y: np.ndarray, scores: dict[str, np.ndarray]) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, latest backtest cutoff")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


@_literal_text
def gains_plot(y: np.ndarray, scores: dict[str, np.ndarray]) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 5))
    share = np.arange(1, len(y) + 1) / len(y)
    for name, p in scores.items():
        order = np.argsort(-p, kind="stable")
        ax.plot(share, np.cumsum(y[order]) / max(y.sum(), 1), label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="share of customers targeted", ylabel="share of churners captured", title="Cumulative gains")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


@_literal_text
def reliability_plot(y: np.ndarray, scores: dict[str, np.ndarray], n_bins: int = 10) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, n_bins + 1)
    for name, p in scores.items():
        bins = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
        frame = pd.DataFrame({"bin": bins, "p": p, "y": y}).groupby("bin").mean()
        ax.plot(frame["p"], frame["y"], marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate", title="Reliability")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


@_literal_text
def importance_plot(importance: pd.Series, top: int = 20) -> bytes:
    shown = importance.sort_values().tail(top)
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1))
    ax.barh(shown.index, shown.to_numpy())
    ax.set(xlabel="total gain", title="Feature importance")
    return _png(fig)


@_literal_text
def bar_plot(values: pd.Series, title: str, xlabel: str, marked: set | None = None, note: str = "") -> bytes:
    """Horizontal bars, largest first as given; labels in ``marked`` drawn in the warning colour."""
    marked = marked or set()
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(values) + 1.3))
    labels = [str(i) for i in values.index]
    colours = [WARN if i in marked else MAIN for i in values.index]
    ax.barh(labels, values.to_numpy(dtype=float), color=colours)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set(xlabel=xlabel, title=title)
    ax.spines[["top", "right"]].set_visible(False)
    if note:
        ax.text(1.0, -0.12 - 0.6 / (0.32 * len(values) + 1.3), note, transform=ax.transAxes, ha="right",
                fontsize=8, color=WARN)
    return _png(fig)


@_literal_text
def tier_panels(
    probability: pd.Series, value: pd.Series, value_at_risk: pd.Series, tiers: pd.Series, ylabel: str
) -> bytes:
    """Small multiples, one panel per tier: how the tier's customer value spreads over churn probability (each
    panel on its own scale, so a small tier A is not swamped by a large tier C)."""
    names = [t for t in ("A", "B", "C") if (tiers == t).any()]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(10, 3.2), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, tier in zip(axes[0], names, strict=False):
        rows = (tiers == tier).to_numpy()
        ax.hist(probability[rows], bins=bins, weights=value[rows], color=MAIN)
        at_risk = float(value_at_risk[rows].sum())
        ax.set_title(f"Tier {tier}: {rows.sum():,} customers\nvalue at risk {thousands(at_risk)}", fontsize=9)
        ax.set_xlabel("churn probability")
        ax.yaxis.set_major_formatter(FuncFormatter(thousands))
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel(ylabel)
    fig.tight_layout()
    return _png(fig)


@_literal_text
def uplift_plot(labels: list[str], plain: np.ndarray, adjusted: np.ndarray, prior: np.ndarray,
                small: np.ndarray) -> bytes:
    """Per label (top to bottom): the uplift with its 95% interval (``plain``: estimate, low, high; thin), the
    adjusted one (thick), and what the prior promised (x); ``small`` rows muted. In churn-rate points."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * n + 1.3))
    y = np.arange(n)[::-1]
    for i in range(n):
        color = MUTED if small[i] else MAIN
        ax.plot(100 * plain[i, 1:3], [y[i] + 0.13] * 2, color=color, linewidth=1.2)
        ax.plot(100 * plain[i, 0], y[i] + 0.13, "o", color=color, markersize=3.5)
        ax.plot(100 * adjusted[i, 1:3], [y[i] - 0.13] * 2, color=color, linewidth=4, alpha=0.75)
        ax.plot(100 * adjusted[i, 0], y[i] - 0.13, "o", color=color, markersize=5)
        if np.isfinite(prior[i]):
            ax.plot(100 * prior[i], y[i], "x", color=WARN, markersize=7)
    ax.axvline(0, color="grey", linestyle=":")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("uplift: control churn minus treated churn (points)")
    handles = [
        plt.Line2D([], [], color=MAIN, linewidth=1.2, marker="o", markersize=3.5, label="uplift, 95% interval"),
        plt.Line2D([], [], color=MAIN, linewidth=4, alpha=0.75, marker="o", markersize=5, label="adjusted"),
        plt.Line2D([], [], color=WARN, linestyle="", marker="x", markersize=7, label="promised by the prior"),
        plt.Line2D([], [], color=MUTED, linewidth=4, label="too small to tell"),
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=8, frameon=False)
    ax.set_title("Uplift per action", pad=24)
    return _png(fig)
