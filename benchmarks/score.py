"""Speed and memory of scoring with reasons: about 1,000,000 active customers through `churn score`'s path.

Generates the numpy world of ``benchmarks.features`` (at --scale 2.07 about 1,000,000 customers are active at
as_of), loads the model that ``benchmarks.train --save`` wrote, and runs ``pipeline.scoring``'s ``score_customers``,
``explain_customers``, ``lapsed_with_owners`` and ``worklists`` unchanged: features at as_of (feature table +
BG/NBD), contributions (and from them the probabilities), top_reasons against the active population's medians, the
lapsed customers, the contact plan (build_lists). Each stage is timed by wrapping the names pipeline.scoring calls
(instrumented, not altered); peak memory per stage is VmHWM, reset before each.

Then, on --check-rows random rows, compares with LightGBM's own pred_contrib (max difference, signs, order of
each row's contributions, the reasons they give) and every reason text with FeatureSpec.describe of its row,
and times pred_contrib on those rows to extrapolate what the naive call would cost for every row.

    .venv/bin/python -m benchmarks.train --save data/scratch/benchmark_model.pkl   # once: the model
    .venv/bin/python -m benchmarks.score [--scale 2.07] [--model data/scratch/benchmark_model.pkl]
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

import pipeline.scoring as score_step
from benchmarks.features_inner_old import AS_OF, _memory_mb, _reset_peak, generate
from benchmarks.train import WORLD_SIZES
from models.bgnbd import fit_bgnbd, rfm_summary
from models.explain import population_typical, top_reasons
from models.modelframe import model_specs
from pipeline.config import load_config, load_playbook

DEFAULT_MODEL = Path("data/scratch/benchmark_model.pkl")


class Stages:
    """Wall time and peak memory (VmHWM, reset at the start) of each wrapped call, in call order."""

    def __init__(self):
        self.rows: list[tuple[str, float, float]] = []
        self.peak = 0.0

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            self.peak = max(self.peak, _memory_mb("VmHWM"))
            _reset_peak()
            start = time.perf_counter()
            result = function(*args, **kwargs)
            self.rows.append((name, time.perf_counter() - start, _memory_mb("VmHWM")))
            return result

        return timed

    def overall_peak(self) -> float:
        return max(self.peak, _memory_mb("VmHWM"), *(peak for _, _, peak in self.rows))


def instrument(stages: Stages, model) -> None:
    """Time the stages of scoring and the lists through the names they call."""
    for name in ("prepare_tables", "scoring_frame", "top_reasons", "customer_value", "lapsed_customers", "build_lists"):
        setattr(score_step, name, stages.wrap(name, getattr(score_step, name)))
    model.contributions = stages.wrap("contributions", model.contributions)  # predict_with_contributions calls it


def check(scored, model, cfg, typical, n_rows: int, seed: int = 0) -> None:
    """Fast contributions and reasons against LightGBM's pred_contrib and FeatureSpec.describe on sampled rows."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(scored.features), min(n_rows, len(scored.features)), replace=False))
    sample = scored.features.iloc[rows]
    start = time.perf_counter()
    naive = model.booster.predict(model.schema.prepare(sample), pred_contrib=True)
    naive_s = time.perf_counter() - start
    fast = type(model).contributions(model, sample).to_numpy()
    difference = np.abs(fast - naive).max()
    same_signs = np.array_equal(np.sign(fast), np.sign(naive))
    same_order = np.array_equal(np.argsort(fast, axis=1, kind="stable"), np.argsort(naive, axis=1, kind="stable"))
    specs = model_specs(cfg.features)
    naive_frame = pd.DataFrame(naive, index=sample.index, columns=[*model.schema.names, "bias"])
    reference = top_reasons(naive_frame, sample, specs, typical, cfg.scoring.top_reasons,
                            cfg.scoring.stale_complaint_days)
    all_texts, all_features = scored.reasons.texts, scored.reasons.features
    texts = [all_texts[i] for i in rows]
    described = [
        [specs[name].describe(record, typical.get(name)) for name in all_features[i]]
        for i, record in zip(rows, sample.to_dict("records"), strict=True)
    ]
    print(
        f"check on {len(rows):,} rows: max |fast - pred_contrib| {difference:.1e}, same signs {same_signs}, "
        f"same order per row {same_order}, same reasons as from pred_contrib {reference.texts == texts}, "
        f"texts equal FeatureSpec.describe {described == texts}"
    )
    per_row = naive_s / len(rows)
    print(
        f"naive pred_contrib: {naive_s:.1f}s for {len(rows):,} rows, "
        f"{per_row * len(scored.features):.0f}s for all {len(scored.features):,} (extrapolated)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=2.07)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--check-rows", type=int, default=20_000)
    args = parser.parse_args()
    if not args.model.exists():
        parser.error(f"{args.model} does not exist: run `python -m benchmarks.train --save {args.model}` first")
    bundle = pickle.loads(args.model.read_bytes())
    model = bundle["model"]
    cfg = load_config()
    playbook = load_playbook(cfg)

    start = time.perf_counter()
    tables = generate(*[int(n * args.scale) for n in WORLD_SIZES])
    print(f"generated the world (scale {args.scale}) in {time.perf_counter() - start:.1f}s")
    _reset_peak()
    print(f"data resident: {_memory_mb('VmRSS'):.0f} MB")

    stages = Stages()
    instrument(stages, model)
    start = time.perf_counter()
    unexplained = score_step.score_customers(tables, AS_OF, model, cfg)
    typical = population_typical(unexplained.features, model_specs(cfg.features))
    scored = score_step.explain_customers(unexplained, typical, cfg)
    bgnbd = fit_bgnbd(rfm_summary(tables.transactions, AS_OF))
    lapsed = score_step.lapsed_with_owners(tables, AS_OF, bgnbd, cfg)
    winback, _ = score_step.worklists(scored, lapsed, playbook, cfg, as_of=AS_OF, model_version="benchmark")
    total = time.perf_counter() - start
    peak = stages.overall_peak()

    print(f"scored {len(winback):,} customers, {len(model.schema.names)} features, "
          f"{model.booster.num_trees()} trees of <= {model.booster.params.get('num_leaves')} leaves")
    for name, seconds, stage_peak in stages.rows:
        print(f"  {name:<20} {seconds:6.1f}s  peak {stage_peak:6.0f} MB")
    accounted = sum(seconds for _, seconds, _ in stages.rows)
    print(f"  {'rest (maps, frames)':<20} {total - accounted:6.1f}s")
    features_s = sum(seconds for name, seconds, _ in stages.rows if name == "scoring_frame")
    print(f"total {total:.1f}s ({total - features_s:.1f}s after the features), peak {peak:.0f} MB")
    print(f"rows with reasons: {(winback['reasons'] != '').mean():.3f}; first row: {winback.iloc[0].to_dict()}")

    check(scored, model, cfg, typical, args.check_rows)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}, "
        f"lightgbm {lgb.__version__}; load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
