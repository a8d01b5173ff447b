"""Plots as PNG bytes (matplotlib, headless): ROC, cumulative gains, reliability, importance, risk by tier."""

from __future__ import annotations

import functools
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve


def _literal_text(plot):
    """Labels drawn as written: a segment or manager named "$5-$10" is not math text."""

    @functools.wraps(plot)
    def literal(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return literal


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
def bar_plot(values: pd.Series, title: str, xlabel: str) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(values) + 1.2))
    ax.barh([str(i) for i in values.index], values.to_numpy())
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, title=title)
    return _png(fig)


@_literal_text
def histogram_by_group(values: pd.Series, groups: pd.Series, title: str, xlabel: str) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in sorted(groups.unique()):
        ax.hist(values[groups == name], bins=np.linspace(0, 1, 21), alpha=0.5, label=str(name))
    ax.set(xlabel=xlabel, ylabel="customers", title=title)
    ax.legend(fontsize=8)
    return _png(fig)
