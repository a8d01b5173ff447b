"""The backtest in words: sentences and the version paragraph from a hand-made metrics table."""

from __future__ import annotations

import pandas as pd

from models.backtest_summary import backtest_paragraph, headline_metrics, meaning, metric_sentences, verdict

METRICS = ["roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_20", "emp", "emp_fraction"]


def _table() -> pd.DataFrame:
    """Two evaluation cutoffs; the means are worked out in the comments of the test below."""
    rows = {
        # candidate: (values at the first cutoff, values at the second), in METRICS order
        "model_sigmoid": ([0.70, 0.40, 0.42, 0.15, 0.06, 2.0, 5.0, 0.40], [0.80, 0.50, 0.38, 0.13, 0.04, 3.0, 6.0, 0.50]),
        "baseline_bgnbd": ([0.72, 0.40, 0.45, 0.14, 0.03, 2.5, 5.5, 0.30], [0.72, 0.40, 0.45, 0.14, 0.03, 2.5, 5.5, 0.30]),
        "baseline_recency": ([0.80, 0.30, 0.50, 0.16, 0.04, 3.0, 4.0, 0.20], [0.80, 0.30, 0.50, 0.16, 0.04, 3.0, 4.0, 0.20]),
        "model_isotonic": ([0.0] * 8, [0.0] * 8),  # another candidate: never a baseline
    }
    cutoffs = [pd.Timestamp("2025-08-01"), pd.Timestamp("2025-08-31")]
    return pd.DataFrame(
        [
            {"eval_cutoff": cutoffs[i], "candidate": candidate, **dict(zip(METRICS, values[i], strict=True))}
            for candidate, values in rows.items()
            for i in range(2)
        ]
    )


def test_headline_metrics_find_the_lift_at_any_top_share():
    assert headline_metrics(_table()) == METRICS
    assert meaning("lift_at_20").label == "Lift in the top 20%"
    assert "riskiest 20%" in meaning("lift_at_20").measures


def test_one_sentence_per_metric_with_the_mean_and_the_verdict():
    sentences = metric_sentences(_table(), "model_sigmoid")
    assert len(sentences) == len(METRICS)
    by_label = {s.split(":")[0]: s for s in sentences}
    # ROC-AUC mean (0.70 + 0.80) / 2 = 0.75: above BG/NBD's 0.72, below the recency rule's 0.80
    assert by_label["ROC-AUC"].startswith("ROC-AUC: 0.7500, the chance that a customer who churned is ranked")
    assert by_label["ROC-AUC"].endswith("beats BG/NBD (0.7200) but not the recency rule (0.8000).")
    # PR-AUC 0.45 against 0.40 and 0.30
    assert by_label["PR-AUC"].endswith("beats both baselines (BG/NBD 0.4000, the recency rule 0.3000).")
    # log loss 0.40 is lower (better) than 0.45 and 0.50
    assert by_label["Log loss"].endswith("beats both baselines (BG/NBD 0.4500, the recency rule 0.5000).")
    # Brier 0.14 ties BG/NBD's 0.14 (not strictly better) and beats the recency rule's 0.16
    assert by_label["Brier score"].endswith("beats the recency rule (0.1600) but not BG/NBD (0.1400).")
    # ECE 0.05 is higher (worse) than 0.03 and 0.04
    assert by_label["ECE"].endswith("does not beat the baselines (BG/NBD 0.0300, the recency rule 0.0400).")
    assert by_label["Lift in the top 20%"].startswith("Lift in the top 20%: 2.5000, how many times")
    assert by_label["EMP"].startswith("EMP: 5.5000,")
    assert by_label["EMP targeting fraction"].endswith(
        "a size, not a score (BG/NBD 0.3000, the recency rule 0.2000)."
    )


def test_verdict_against_a_single_baseline():
    assert verdict(0.8, {"BG/NBD": 0.7}, True) == "beats the baseline (BG/NBD 0.7000)"
    assert verdict(0.8, {"BG/NBD": 0.7}, False) == "does not beat the baseline (BG/NBD 0.7000)"


def test_the_paragraph_names_the_cutoffs_and_every_headline_figure():
    paragraph = backtest_paragraph(_table(), "model_sigmoid")
    assert paragraph.startswith(
        "Backtest, mean over 2 evaluation cutoff(s) (2025-08-01, 2025-08-31), the model against the baselines: "
        "ROC-AUC 0.7500 (BG/NBD 0.7200, the recency rule 0.8000); PR-AUC 0.4500 (BG/NBD 0.4000, the recency rule "
        "0.3000);"
    )
    assert "EMP targeting fraction 0.4500 (BG/NBD 0.3000, the recency rule 0.2000)." in paragraph
