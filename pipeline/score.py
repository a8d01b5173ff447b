"""Step `churn score`: risk, value and reasons bucket by bucket on the configured engine -> the ranked win-back
CSV and its report, and the full scored table as Parquet partitioned by bucket."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from features import as_timestamp
from models.winback import spreadsheet_safe
from pipeline.bucket_store import finish_scored_table, scored_part, scored_table_replaced, write_parquet
from pipeline.config import Config, load_playbook
from pipeline.definition import DefinitionOverride, apply_model_definition
from pipeline.engine import load_buckets, open_engine
from pipeline.errors import ChurnError
from pipeline.io import write_frame, write_text
from pipeline.report import render_report
from pipeline.scoring import list_rows_by_bucket, score_buckets, scored_table_part, winback_list
from pipeline.tracking import load_bundle, log_scoring_run


@dataclass(frozen=True)
class ScoringResult:
    out: Path
    report: Path
    scored: str
    as_of: pd.Timestamp
    n_customers: int
    n_target: int
    drift: pd.Series
    model_version: str
    # Settings scored with another value than the model's definition (--override-definition); empty normally.
    definition_overrides: tuple[DefinitionOverride, ...] = ()


def report_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_report.html")


def scored_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_scored")


def write_winback(
    data_dir: str | os.PathLike,
    out: Path,
    as_of: date | None,
    model_uri: str | None,
    cfg: Config,
    progress: Callable[[str], None] = lambda m: None,
    scored_out: str | os.PathLike | None = None,
    override_definition: bool = False,
) -> ScoringResult:
    """Score every customer active at ``as_of`` (default: the day after the last event) and write the list, its
    report and the full scored table (``scored_out``, default beside the list: ``<name>_scored/``).

    The churn definition and feature settings are the model's; a conflicting explicit setting in ``cfg`` is
    refused unless ``override_definition`` (then used, and recorded).
    """
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ChurnError(f"--out {out}: the win-back list is a CSV file.", "give a file name ending in .csv")
    scored_out = str(scored_out or scored_path_for(out))
    progress("loading the model")
    bundle = load_bundle(cfg, model_uri)
    cfg, overrides = apply_model_definition(cfg, bundle.metadata, override=override_definition)
    playbook = load_playbook(cfg)
    version = bundle.version or "unknown"
    recorded = [override.describe() for override in overrides]
    # The scored table's folder first: an unusable --scored-out is refused before any work; it is moved into
    # place last, after the list and the report.
    with scored_table_replaced(scored_out) as temp, open_engine(cfg.engine) as engine:
        progress(f"loading the data ({engine.name} engine)")
        buckets = load_buckets(engine, data_dir, cfg.engine)
        as_of = as_timestamp(as_of) if as_of is not None else buckets.end
        progress(f"scoring the customers active at {as_of.date()} in {len(buckets)} bucket(s)")
        scores = score_buckets(engine, buckets, as_of, bundle.model, bundle.metadata, cfg)
        winback = winback_list(
            scores.gathered, playbook, cfg,
            as_of=as_of, target_fraction=bundle.metadata.get("emp_targeting_fraction"), model_version=version,
        )
        progress("writing the scored table, the list and the report")
        parts = engine.map(scored_table_part, scores.handles, list_rows_by_bucket(winback, scores.customer_ids))
        written = engine.gather(engine.map(write_parquet, parts, [scored_part(temp, k) for k in range(len(parts))]))
        finish_scored_table(
            temp, written,
            {"as_of": str(as_of.date()), "model_version": version, "definition_overrides": recorded},
        )
        write_frame(spreadsheet_safe(winback), out)
        report = _write_report(winback, scores, as_of, version, bundle.metadata, cfg, out)
    drift = scores.drift
    log_scoring_run(
        cfg,
        {"customers": float(len(winback)), "in_target": float(winback["in_target"].sum()),
         "value_at_risk": float(winback["value_at_risk"].sum()),
         "drift_features_warning": float((drift > cfg.scoring.drift_warning_psi).sum()),
         "drift_max_psi": float(drift.max()) if len(drift) else 0.0},
        {"as_of": str(as_of.date()), "model_version": version, "engine": cfg.engine.kind,
         **({"definition_overrides": "; ".join(recorded)} if recorded else {})},
        report,
    )
    return ScoringResult(
        out, report, scored_out, as_of, len(winback), int(winback["in_target"].sum()), drift, version, overrides
    )


def _write_report(winback, scores, as_of, version, metadata, cfg, out: Path) -> Path:
    deciding = pd.Series([f[0] if f else "none" for f in scores.gathered.reasons.families], name="family")
    html = render_report(
        winback,
        as_of=str(as_of.date()),
        model_version=version,
        backtest=metadata.get("latest_backtest_metrics", {}),
        drift=scores.drift,
        warning_psi=cfg.scoring.drift_warning_psi,
        strong_psi=cfg.scoring.drift_strong_psi,
        reason_families=deciding,
    )
    return write_text(html, report_path_for(out))
