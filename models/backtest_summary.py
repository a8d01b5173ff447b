"""The backtest in words: per metric, what it measures and whether the shipped model beat the baselines.

One source for the console after training and the description of a registered model version.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

BASELINES = {"baseline_bgnbd": "BG/NBD", "baseline_recency": "the recency rule"}


@dataclass(frozen=True)
class Meaning:
    """A metric's name for people, what it measures (``{k}``: the top share it is measured at), and which way
    is better (None: a size, not a score)."""

    label: str
    measures: str
    higher_is_better: bool | None


_MEANINGS = {
    "roc_auc": Meaning(
        "ROC-AUC", "the chance that a customer who churned is ranked above one who stayed (0.5 is guessing)", True
    ),
    "pr_auc": Meaning(
        "PR-AUC", "the average share of churners down the ranked list (the churn rate is guessing)", True
    ),
    "log_loss": Meaning("Log loss", "how far the probabilities were from what happened (lower is better)", False),
    "brier": Meaning("Brier score", "the mean squared gap between probability and outcome (lower is better)", False),
    "ece": Meaning(
        "ECE",
        "the average gap between predicted probability and observed churn rate, in ten equally filled bins "
        "(lower is better)",
        False,
    ),
    "lift_at_": Meaning(
        "Lift in the top {k}", "how many times the average churn rate the riskiest {k} of customers show", True
    ),
    "churners_captured_at_": Meaning(
        "Churners in the top {k}", "the share of all churners among the riskiest {k} of customers", True
    ),
    "value_captured_at_": Meaning(
        "Value at risk in the top {k}", "the share of the value of churners among the riskiest {k}", True
    ),
    "emp": Meaning(
        "EMP",
        "the expected profit per customer of a retention campaign aimed by this ranking at its best size "
        "(evaluation.emp)",
        True,
    ),
    "emp_fraction": Meaning(
        "EMP targeting fraction", "the share of customers that campaign would contact (the report checks the plan against it)", None
    ),
}

# The figures the console and the version description speak of, in this order.
HEADLINE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_", "emp", "emp_fraction")


def meaning(metric: str) -> Meaning:
    """The Meaning of ``metric``, with the top share filled in (``lift_at_10`` -> "Lift in the top 10%")."""
    for key, found in _MEANINGS.items():
        if key.endswith("_") and metric.startswith(key):
            k = f"{metric[len(key):]}%"
            return Meaning(found.label.format(k=k), found.measures.format(k=k), found.higher_is_better)
    return _MEANINGS[metric]


def headline_metrics(metrics: pd.DataFrame) -> list[str]:
    """The columns of a backtest metrics table named by HEADLINE_METRICS (``lift_at_`` by its top share)."""
    return [
        next(c for c in metrics.columns if c.startswith(name)) if name.endswith("_") else name
        for name in HEADLINE_METRICS
    ]


def mean_by_candidate(metrics: pd.DataFrame) -> pd.DataFrame:
    """Candidates x metrics, each the mean over the evaluation cutoffs."""
    return metrics.drop(columns=["eval_cutoff"]).groupby("candidate").mean()


def _beats(value: float, other: float, higher_is_better: bool) -> bool:
    return value > other if higher_is_better else value < other


def verdict(value: float, baselines: dict[str, float], higher_is_better: bool | None) -> str:
    """Whether ``value`` beats each of the ``baselines`` (label -> value), in words, with their values."""

    def listed(group: dict[str, float]) -> str:
        return ", ".join(f"{label} {v:.4f}" for label, v in group.items())

    if higher_is_better is None:
        return f"a size, not a score ({listed(baselines)})"
    beaten = {k: v for k, v in baselines.items() if _beats(value, v, higher_is_better)}
    not_beaten = {k: v for k, v in baselines.items() if k not in beaten}
    if not not_beaten:
        return f"beats {'both baselines' if len(beaten) == 2 else 'the baseline'} ({listed(beaten)})"
    if not beaten:
        return f"does not beat {'the baselines' if len(not_beaten) > 1 else 'the baseline'} ({listed(not_beaten)})"

    def named(group: dict[str, float]) -> str:
        return " or ".join(f"{label} ({v:.4f})" for label, v in group.items())

    return f"beats {named(beaten)} but not {named(not_beaten)}"


def metric_sentences(metrics: pd.DataFrame, shipped: str) -> list[str]:
    """One sentence per headline metric: the shipped candidate's mean, what it measures, and the verdict."""
    means = mean_by_candidate(metrics)
    sentences = []
    for metric in headline_metrics(metrics):
        about = meaning(metric)
        value = float(means.loc[shipped, metric])
        baselines = {label: float(means.loc[c, metric]) for c, label in BASELINES.items() if c in means.index}
        sentences.append(
            f"{about.label}: {value:.4f}, {about.measures}; {verdict(value, baselines, about.higher_is_better)}."
        )
    return sentences


def backtest_paragraph(metrics: pd.DataFrame, shipped: str) -> str:
    """The shipped candidate's headline figures beside the baselines' and the cutoffs they are measured at."""
    means = mean_by_candidate(metrics)
    cutoffs = sorted(pd.to_datetime(metrics["eval_cutoff"].unique()))
    figures = []
    for metric in headline_metrics(metrics):
        about = meaning(metric)
        others = ", ".join(
            f"{label} {means.loc[c, metric]:.4f}" for c, label in BASELINES.items() if c in means.index
        )
        figures.append(f"{about.label} {means.loc[shipped, metric]:.4f} ({others})")
    return (
        f"Backtest, mean over {len(cutoffs)} evaluation cutoff(s) "
        f"({', '.join(str(c.date()) for c in cutoffs)}), the model against the baselines: "
        + "; ".join(figures)
        + "."
    )
