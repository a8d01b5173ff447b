"""Step `churn score`: risk, value and reasons bucket by bucket on the configured engine -> the week's worklist and
lapsed list (CSV), their report, and the full scored table as Parquet partitioned by bucket."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features import as_timestamp
from features.registry import longest_lookback_days
from models.drift import short_history_note
from models.lapsed import REACTIVATION_METADATA
from models.owners import NO_OWNER_FILE, RETENTION_TEAM_FILE, files_per_owner
from models.plan import Playbook
from models.week_over_week import comparison_basis
from models.winback import LAPSED_COLUMNS, WINBACK_COLUMNS, spreadsheet_safe
from pipeline.bucket_store import (
    SCORED_MANIFEST,
    check_replaceable,
    finish_scored_table,
    scored_part,
    write_parquet,
)
from pipeline.config import Config, load_playbook
from pipeline.definition import DefinitionOverride, apply_model_definition
from pipeline.engine import as_of_span, load_buckets, open_engine
from pipeline.errors import ChurnError, Interrupted
from pipeline.history import (
    default_history,
    history_entry,
    keep_in_history,
    latest_kept_list,
    previous_list,
    read_save_rates,
    save_rates_path,
    write_compared_with,
)
from pipeline.io import frame_writer, refuse_overwriting_inputs, text_writer
from pipeline.outputs import check_distinct, check_writable, staged_outputs, unwritten
from pipeline.report import ReportContext, departed_managers, render_report
from pipeline.scoring import (
    active_count,
    campaign_of,
    list_rows_by_bucket,
    reactivation_fallback,
    recent_contacts,
    score_buckets,
    scored_table_part,
    worklists,
)
from pipeline.tracking import load_bundle, log_scoring_run

# A list under this share of the customers active a week before its as-of date is worth a warning: a stray
# late date, or an export that stopped early.
SHRUNK_LIST_SHARE = 0.5


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
    warnings: tuple[str, ...] = ()
    lapsed: Path | None = None
    n_lapsed: int = 0
    contacts: tuple[tuple[str, int], ...] = ()  # contacts planned per channel, worklist and lapsed list together
    # Settings scored with another value than the model's definition (--override-definition); empty normally.
    definition_overrides: tuple[DefinitionOverride, ...] = ()
    history: str = ""  # where this list was kept in the list history
    campaign_id: str = ""
    measured_actions: tuple[str, ...] = ()  # actions planned with measured save rates (scoring.save_rates)
    moved_actions: tuple[str, ...] = ()  # those whose measured rate differs from the prior
    by_owner: Path | None = None  # each owner's targeted customers (--split-by-owner)
    n_owner_files: int = 0
    drift_note: str | None = None  # why the inputs drift, on a short history (models.drift.short_history_note)


def report_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_report.html")


def lapsed_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_lapsed.csv")


def scored_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_scored")


def by_owner_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_by_owner")


def write_winback(
    data_dir: str | os.PathLike,
    out: Path,
    as_of: date | None,
    model_uri: str | None,
    cfg: Config,
    progress: Callable[[str], None] = lambda m: None,
    scored_out: str | os.PathLike | None = None,
    note: Callable[[str], None] = lambda m: None,
    override_definition: bool = False,
    history: str | os.PathLike | None = None,
    split_by_owner: bool = False,
) -> ScoringResult:
    """Score every customer active at ``as_of`` (default: the day after the last event) and write the list, its
    report and the full scored table (``scored_out``, default beside the list: ``<name>_scored/``), and keep the
    scored table with the lapsed rows in the list history (``history``, default ``<folder of out>/history``)
    under the as-of date. With ``split_by_owner``, each owner's targeted rows also go to ``<name>_by_owner/``
    (:func:`models.owners.files_per_owner`), replaced with the other outputs.

    The churn definition and feature settings are the model's; a conflicting explicit setting in ``cfg`` is
    refused unless ``override_definition`` (then used, and recorded).
    """
    given, out = as_of, Path(out)
    scored_out = str(scored_out or scored_path_for(out))
    history = str(history or default_history(out))
    report, lapsed_out = report_path_for(out), lapsed_path_for(out)
    by_owner = by_owner_path_for(out) if split_by_owner else None
    _check_places(data_dir, out, report, lapsed_out, scored_out, history, by_owner)
    progress("loading the model")
    bundle = load_bundle(cfg, model_uri)
    cfg, overrides = apply_model_definition(cfg, bundle.metadata, override=override_definition)
    recorded = [override.describe() for override in overrides]
    playbook, rates, rate_warnings = _playbook_with_save_rates(cfg, history)
    version = bundle.version or "unknown"
    run = {"command": "churn score", "model_version": version}
    outputs = None
    try:
        targets = [out, lapsed_out, report, scored_out, *([by_owner] if by_owner else [])]
        with staged_outputs(out, targets, run) as outputs, \
                open_engine(cfg.engine) as engine:
            progress(f"loading the data ({engine.name} engine)")
            # With --as-of given, nothing at or after it is read (the default as-of is where the data ends).
            span = as_of_span(as_timestamp(as_of), cfg.features) if as_of is not None else (None, None)
            buckets = load_buckets(engine, data_dir, cfg.engine, cfg.input.limits(), span)
            as_of = as_timestamp(as_of) if as_of is not None else buckets.end
            note(f"As of {as_of.date()}" + (" (the day after the last event in the data)" if given is None else ""))
            warnings = (*(p.render() for p in buckets.warnings), *_population_warnings(engine, buckets, as_of, cfg))
            progress(f"scoring the customers active at {as_of.date()} in {len(buckets)} bucket(s)")
            scores = score_buckets(engine, buckets, as_of, bundle.model, bundle.metadata, cfg)
            fallback = reactivation_fallback(bundle.metadata)
            warnings = (*warnings, *([fallback] if fallback and len(scores.lapsed) else []))
            drift_note = _drift_note(scores.drift, buckets, as_of, bundle.metadata, cfg)
            previous = previous_list(scored_out) or latest_kept_list(history, as_of)
            basis = comparison_basis(previous, as_of)
            campaign = campaign_of(as_of, cfg)
            winback, lapsed = worklists(
                scores.gathered, scores.lapsed, playbook, cfg, as_of=as_of, model_version=version, basis=basis,
                last_contacts=_recent_contacts(engine, buckets, as_of, cfg),
            )
            _refuse_non_finite(winback)
            progress("writing the scored table, the lists and the report")
            scored_root = outputs.folder(scored_out)
            parts = engine.map(scored_table_part, scores.handles, list_rows_by_bucket(winback, scores.customer_ids))
            written = engine.gather(
                engine.map(write_parquet, parts, [scored_part(scored_root, k) for k in range(len(parts))])
            )
            if basis is not None:
                write_compared_with(scored_root, basis)
            about = {"as_of": str(as_of.date()), "model_version": version,
                     "compared_with": str(basis.as_of.date()) if basis else None, "definition_overrides": recorded,
                     **list_facts(campaign, cfg)}
            finish_scored_table(scored_root, written, about)
            entry = history_entry(history, as_of)
            keep_in_history(scored_root, outputs.late_folder(entry), lapsed)
            outputs.file(out, frame_writer(spreadsheet_safe(winback[list(WINBACK_COLUMNS)]), out))
            outputs.file(lapsed_out, frame_writer(spreadsheet_safe(lapsed[list(LAPSED_COLUMNS)]), lapsed_out))
            owner_files = _write_owner_files(Path(outputs.folder(by_owner)), winback, lapsed) if by_owner else {}
            html = _report_html(winback, lapsed, scores, basis, as_of, version, bundle.metadata, playbook, cfg,
                                campaign.id, rates, drift_note)
            outputs.file(report, text_writer(html))
            outputs.commit()
    except KeyboardInterrupt:
        if outputs is not None and outputs.committed:
            raise Interrupted(
                f"stopped just after {out}, the lapsed list, the report and the scored table were replaced."
            ) from None
        raise Interrupted(
            f"stopped before the outputs were replaced: {out}, the lapsed list, the report and the scored table "
            "are as they were."
        ) from None
    except OSError as error:
        raise unwritten(error) from None
    drift = scores.drift
    contacts = _contacts_per_channel(winback, lapsed)
    log_scoring_run(
        cfg,
        {"customers": float(len(winback)), "in_target": float(winback["in_target"].sum()),
         "value_at_risk": float(winback["value_at_risk"].sum()),
         "expected_net_value": float(winback.loc[winback["in_target"], "expected_net_value"].sum()
                                     + lapsed.loc[lapsed["in_target"], "expected_net_value"].sum()),
         "lapsed": float(len(lapsed)), "lapsed_in_target": float(lapsed["in_target"].sum()),
         **{f"contacts.{channel}": float(n) for channel, n in contacts},
         "drift_features_warning": float((drift > cfg.scoring.drift_warning_psi).sum()),
         "drift_max_psi": float(drift.max()) if len(drift) else 0.0},
        {"as_of": str(as_of.date()), "model_version": version, "engine": cfg.engine.kind,
         "campaign_id": campaign.id, "save_rates": cfg.scoring.save_rates,
         **({"definition_overrides": "; ".join(recorded)} if recorded else {})},
        report,
    )
    return ScoringResult(
        out, report, scored_out, as_of, len(winback), int(winback["in_target"].sum()), drift, version,
        (*rate_warnings, *warnings), lapsed_out, len(lapsed), contacts, overrides, entry, campaign.id,
        tuple(rates["action"]) if rates is not None else (),
        tuple(rates.loc[(rates["used"] - rates["prior"]).abs() > 1e-9, "action"]) if rates is not None else (),
        by_owner, len(owner_files), drift_note,
    )


def _drift_note(drift: pd.Series, buckets, as_of: pd.Timestamp, metadata: dict, cfg: Config) -> str | None:
    """Why the inputs drift, when some do and the model's training cutoffs saw a short history."""
    if not (drift > cfg.scoring.drift_warning_psi).any():
        return None
    cutoffs = [pd.Timestamp(cutoff) for cutoff in metadata.get("train_cutoffs", [])]
    start = buckets.purchases[0] if buckets.purchases is not None else None
    return short_history_note(cutoffs, start, as_of, longest_lookback_days(cfg.features))


def _playbook_with_save_rates(cfg: Config, history: str) -> tuple[Playbook, pd.DataFrame | None, tuple[str, ...]]:
    """The playbook, with the measured save rates kept beside the history when ``scoring.save_rates`` is
    measured (for the actions of the playbook they measured; the others keep their priors); those rates; and a
    warning when there are none to use yet."""
    playbook = load_playbook(cfg)
    if cfg.scoring.save_rates == "prior":
        return playbook, None, ()
    rates = read_save_rates(history)
    if rates is None:
        return playbook, None, (
            (f"scoring.save_rates is measured, but {save_rates_path(history)} holds no measured save rates yet "
            "(`churn evaluate` writes them once a campaign's horizon has passed): the priors are used."),)
    rates = rates[rates["action"].isin(list(playbook.actions)) & rates["used"].notna()].reset_index(drop=True)
    return playbook.with_save_rates(dict(zip(rates["action"], rates["used"], strict=True))), rates, ()


def _recent_contacts(engine, buckets, as_of: pd.Timestamp, cfg: Config) -> pd.Series | None:
    """Every customer contacted in the cooldown before as_of, with their last contact (None: no cooldown)."""
    days = cfg.scoring.contact_cooldown_days
    if days <= 0:
        return None
    return pd.concat(engine.gather(engine.map(recent_contacts, buckets.handles, as_of=as_of, days=days)))


def list_facts(campaign, cfg: Config) -> dict:
    """What a list's manifest records for its evaluation: the campaign whose arms it holds, the control share it
    drew them with, and the churn definition its outcome is measured over."""
    return {"campaign_id": campaign.id, "campaign_start": str(campaign.start.date()),
            "campaign_end": str(campaign.end.date()), "control_share": cfg.scoring.control_share,
            "horizon_days": cfg.churn.horizon_days, "active_window_days": cfg.churn.active_window_days}


def _contacts_per_channel(winback: pd.DataFrame, lapsed: pd.DataFrame) -> tuple[tuple[str, int], ...]:
    channels = pd.concat([winback.loc[winback["in_target"], "action_channel"],
                          lapsed.loc[lapsed["in_target"], "action_channel"]])
    return tuple((str(c), int(n)) for c, n in channels.value_counts().sort_index().items())


def _check_places(
    data_dir, out: Path, report: Path, lapsed: Path, scored_out: str, history: str, by_owner: Path | None
) -> None:
    """Refuse unusable output places before any work is done."""
    places = {"--out": out, "the lapsed list": lapsed, "the report": report, "--scored-out": scored_out,
              "--history": history, **({"--split-by-owner": by_owner} if by_owner else {})}
    check_distinct(places)
    check_writable(f"{history}/list", "--history", folder=True)
    check_writable(out, "--out")
    if out.suffix.lower() != ".csv":
        raise ChurnError(f"--out {out}: the win-back list is a CSV file.", "give a file name ending in .csv")
    check_writable(report, "the report")
    check_writable(lapsed, "the lapsed list")
    check_writable(scored_out, "--scored-out", folder=True)
    check_replaceable(scored_out, SCORED_MANIFEST)
    if by_owner is not None:
        check_writable(by_owner, "--split-by-owner", folder=True)
        check_replaceable(by_owner, OWNER_FILES_MARKER)
    refuse_overwriting_inputs(data_dir, places)


OWNER_FILES_MARKER = "README.txt"


def _write_owner_files(folder: Path, winback: pd.DataFrame, lapsed: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each owner's targeted rows as CSV files in ``folder``, with a README saying what they are; the files."""
    files = files_per_owner(winback, lapsed)
    for name, rows in files.items():
        columns = LAPSED_COLUMNS if name.endswith("_lapsed.csv") else WINBACK_COLUMNS
        frame_writer(spreadsheet_safe(rows[list(columns)]), folder / name)(folder / name)
    as_of = winback["as_of"].iloc[0] if len(winback) else (lapsed["as_of"].iloc[0] if len(lapsed) else "")
    (folder / OWNER_FILES_MARKER).write_text(
        f"This week's contacts by owner (list as of {as_of}): <owner>.csv holds the owner's targeted customers of the "
        f"win-back list, <owner>_lapsed.csv their targeted lapsed customers; {RETENTION_TEAM_FILE}*.csv the "
        f"targeted customers without an account manager (the retention team's own), {NO_OWNER_FILE}*.csv those whose "
        "manager left with nobody on record to take over (they need an owner). Control customers are never listed "
        "here. The whole folder is replaced by each `churn score --split-by-owner`.\n",
        encoding="utf-8",
    )
    return files


# Number columns that every row fills; the others may be empty (risk_change without an earlier list, the expected
# net value of a row the playbook allows no action).
FILLED_NUMBERS = ("churn_probability", "customer_value", "value_at_risk")


def _refuse_non_finite(winback: pd.DataFrame) -> None:
    """No list goes out with inf anywhere or NaN where every row has a number (its tiers, ranks and totals
    would be wrong)."""
    numbers = winback.select_dtypes("number")
    values = numbers.to_numpy(dtype="float64")
    bad = np.isinf(values) | (np.isnan(values) & numbers.columns.isin(FILLED_NUMBERS))
    if bad.any():
        columns = numbers.columns[bad.any(axis=0)].tolist()
        customers = winback.loc[bad.any(axis=1), "customer_id"].head(5).tolist()
        raise ChurnError(
            f"The list would hold values that are not finite numbers in {', '.join(columns)} "
            f"(customers {', '.join(map(str, customers))}); nothing was written.",
            "check these customers' amounts in the input (input.max_abs_value bounds them)",
        )


def _population_warnings(engine, buckets, as_of: pd.Timestamp, cfg: Config) -> tuple[str, ...]:
    """A warning when far fewer customers are active at ``as_of`` than a week before it; none active is an error."""
    window = cfg.churn.active_window_days
    now, week_before = (
        sum(engine.gather(engine.map(active_count, buckets.handles, as_of=day, active_window_days=window)))
        for day in (as_of, as_of - pd.Timedelta(days=7))
    )
    if not now:
        raise ChurnError(
            f"No customer bought in the {window} days before {as_of.date()}: nothing to score.",
            "check --as-of against the dates in the data",
        )
    if week_before and now < SHRUNK_LIST_SHARE * week_before:
        warning = (
            f"Only {now:,} customers are active at {as_of.date()}, against {week_before:,} a week earlier: check "
            "--as-of and the latest dates in the data (a stray late date, or an export that stopped early?)."
        )
        return (warning,)
    return ()


def _report_html(winback, lapsed, scores, basis, as_of, version, metadata, playbook, cfg, campaign_id,
                 rates, drift_note) -> str:
    return render_report(
        winback,
        lapsed,
        ReportContext(
            as_of=str(as_of.date()),
            model_version=version,
            currency=cfg.scoring.currency,
            horizon_days=cfg.churn.horizon_days,
            capacity_per_week=dict(cfg.scoring.capacity_per_week),
            control_share=cfg.scoring.control_share,
            backtest=metadata.get("latest_backtest_metrics", {}),
            backtest_baselines=metadata.get("latest_backtest_baselines", {}),
            emp_fraction=metadata.get("emp_targeting_fraction"),
            estimate_summary=(metadata.get("estimate") or {}).get("summary"),
            drift=scores.drift,
            drift_note=drift_note,
            warning_psi=cfg.scoring.drift_warning_psi,
            strong_psi=cfg.scoring.drift_strong_psi,
            departed_managers=departed_managers(scores.account_managers, str(as_of.date())),
            basis=basis,
            playbook=playbook,
            campaign_id=campaign_id,
            contact_cooldown_days=cfg.scoring.contact_cooldown_days,
            measured_save_rates=rates,
            save_rates_setting=cfg.scoring.save_rates,
            reactivation=metadata.get(REACTIVATION_METADATA),
            reactivation_fallback=reactivation_fallback(metadata),
        ),
    )
