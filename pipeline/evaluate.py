"""Step `churn evaluate`: the lists of a campaign whose horizon has passed in the data -> what the contacts achieved
(evaluation.csv, its HTML report), the measured save rates beside the history, and an MLflow run."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features import as_timestamp
from features.labels import purchase_history
from models.campaign import (
    ListInfo,
    arm_check,
    campaign_customers,
    first_appearances,
    measured_save_rates,
    pooled_arm_check,
)
from models.uplift import evaluate_cells
from pipeline.config import Config
from pipeline.errors import ChurnError, Interrupted
from pipeline.evaluation_report import EvaluationContext, render_evaluation
from pipeline.history import HistoryEntry, history_entries, list_rows, save_rates_path
from pipeline.io import frame_writer, load_data_dir, refuse_overwriting_inputs, text_writer
from pipeline.outputs import check_distinct, check_writable, staged_outputs, unwritten
from pipeline.tracking import RunLink, log_evaluation_run

# The contract's columns of evaluation.csv, first; the readout's other columns follow them.
EVALUATION_COLUMNS = (
    "group", "level", "treated_n", "control_n", "treated_churn_rate", "control_churn_rate", "uplift",
    "uplift_ci_low", "uplift_ci_high", "retained_value", "cost", "roi",
)
GROUPS = {"value_tier": "value_tier", "action": "action_id", "owner": "owner"}
# Only what the evaluation reads: purchases and the contact log (the other tables are not needed).
READ_COLUMNS = {"transactions": ("customer_id", "timestamp", "amount"), "complaints": ("customer_id", "opened_at"),
                "visits": ("customer_id", "timestamp")}


@dataclass(frozen=True)
class EvaluationResult:
    out: Path
    report: Path
    save_rates: Path
    campaign_id: str
    lists: tuple[str, ...]  # the as-of dates whose customers were evaluated
    customers: int
    cells: pd.DataFrame
    notes: tuple[str, ...]  # lists or rows left out, and why, in words
    run: RunLink


def report_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_report.html")


@dataclass(frozen=True)
class Evaluation:
    """A campaign's readout before anything is written: the cells (evaluation.csv's rows), the customers compared,
    the measured save rates and what the report says beside them."""

    cells: pd.DataFrame
    customers: pd.DataFrame
    rates: pd.DataFrame
    context: EvaluationContext


def evaluate_campaign(
    data_dir: str | os.PathLike,
    history: str | os.PathLike,
    cfg: Config,
    *,
    campaign: str | None = None,
    as_of: date | None = None,
    progress: Callable[[str], None] = lambda m: None,
) -> Evaluation:
    """Evaluate a campaign (default: the latest with a list whose horizon has passed), or the customers a single
    list (``as_of``) brought into its campaign, from the lists kept in ``history`` and the data (no output)."""
    progress("reading the list history")
    entries = history_entries(history)
    progress("loading the data")
    tables, _warnings = load_data_dir(data_dir, cfg.input.limits(), READ_COLUMNS)
    span = purchase_history(tables)
    if span is None:
        raise ChurnError(f"{data_dir}: no transactions, so no outcome can be observed.", "check transactions.*")
    end = span[1]
    chosen, evaluable = select_lists(entries, end, history, campaign, as_of)
    campaign_id = chosen[0].campaign_id
    progress(f"comparing the arms of campaign {campaign_id}")
    rows = pd.concat([list_rows(entry) for entry in chosen], ignore_index=True)
    infos = {entry.as_of: ListInfo(entry.as_of, entry.campaign_id, entry.control_share, entry.horizon_days)
             for entry in chosen}
    first = first_appearances(rows)
    if first.empty:
        raise ChurnError(f"Campaign {campaign_id}: its {len(chosen)} list(s) planned no contact, so no treated "
                         "and control customers can be compared.", "evaluate a campaign whose lists planned contacts")
    checks = pd.DataFrame([arm_check(rows[rows["as_of"] == day], first[first["as_of"] == day], info)
                           for day, info in infos.items()])
    notes = list(_pending_note(first, evaluable))
    failed = set(checks.loc[~checks["passed"], "as_of"])
    kept = first["as_of"].isin(set(evaluable) - failed).to_numpy().copy()
    if as_of is not None:
        kept &= (first["as_of"] == as_timestamp(as_of)).to_numpy()
    off_draw = {i for ids in checks["off_draw_ids"] for i in ids}
    kept &= ~first["customer_id"].astype("str").isin(off_draw).to_numpy()
    notes += _check_notes(checks, set(evaluable))
    if not kept.any():
        raise ChurnError(
            f"Campaign {campaign_id}: no list can be evaluated: " + " ".join(notes),
            "the arms of a list must be as the campaign drew them; check how the history entries were made",
        )
    first = first[kept].reset_index(drop=True).assign(owner=lambda f: f["owner_id"].fillna("(none)"))
    costs = {name: action.cost for name, action in cfg.scoring.actions.items()}
    horizons = {day: info.horizon_days for day, info in infos.items()}
    contacts = tables.contacts if len(tables.contacts) else None
    customers = campaign_customers(first, tables.transactions, contacts, costs, horizons)
    shares = customers["as_of"].map({day: info.control_share for day, info in infos.items()})
    control_share = float(shares.mean())
    lists_used = sorted(customers["as_of"].unique())
    cells = evaluate_cells(
        customers, GROUPS, control_share=control_share, effect_of_interest=cfg.campaign.detectable_uplift,
        weekly_customers=len(customers) / len(lists_used),
    ).assign(campaign_id=campaign_id)
    cells = cells[[*EVALUATION_COLUMNS, *[c for c in cells.columns if c not in EVALUATION_COLUMNS]]]
    priors = {name: action.save_rate for name, action in cfg.scoring.actions.items()}
    rates = measured_save_rates(cells, priors, cfg.campaign.save_rate_prior_strength).assign(
        campaign_id=campaign_id, lists=f"{lists_used[0]:%Y-%m-%d} to {lists_used[-1]:%Y-%m-%d}",
        data_end=f"{end:%Y-%m-%d}",
    )
    context = EvaluationContext(
        campaign_id=campaign_id, lists=tuple(f"{day:%Y-%m-%d}" for day in lists_used), data_end=f"{end:%Y-%m-%d}",
        horizon_days=sorted({h for day, h in horizons.items() if day in lists_used}),
        currency=cfg.scoring.currency, control_share=control_share, checks=checks,
        pooled=pooled_arm_check(customers, control_share), contact_log=contacts is not None, notes=tuple(notes),
        detectable_uplift=cfg.campaign.detectable_uplift, single_list=as_of is not None,
    )
    return Evaluation(cells, customers, rates, context)


def write_evaluation(
    data_dir: str | os.PathLike,
    history: str | os.PathLike,
    out: Path,
    cfg: Config,
    *,
    campaign: str | None = None,
    as_of: date | None = None,
    progress: Callable[[str], None] = lambda m: None,
) -> EvaluationResult:
    """:func:`evaluate_campaign`, then write evaluation.csv at ``out``, its report beside it and the measured save
    rates beside the history, all or nothing, and log the MLflow run."""
    out = Path(out)
    report, rates_out = report_path_for(out), save_rates_path(history)
    _check_places(data_dir, out, report, rates_out)
    done = evaluate_campaign(data_dir, history, cfg, campaign=campaign, as_of=as_of, progress=progress)
    c = done.context
    progress("writing the evaluation, its report and the save rates")
    html = render_evaluation(done.cells, done.customers, done.rates, c)
    _write(out, report, rates_out, done.cells, html, done.rates, c.campaign_id)
    run = log_evaluation_run(cfg, _run_metrics(done.cells, done.customers), {
        "campaign_id": c.campaign_id, "lists": ", ".join(c.lists), "data_end": c.data_end,
        **({"notes": " ".join(c.notes)[:4000]} if c.notes else {}),
    }, [out, report, rates_out])
    return EvaluationResult(out, report, rates_out, c.campaign_id, c.lists, len(done.customers), done.cells,
                            c.notes, run)


def select_lists(entries: list[HistoryEntry], end: pd.Timestamp, history, campaign: str | None,
                 as_of: date | None) -> tuple[list[HistoryEntry], list[pd.Timestamp]]:
    """The campaign's lists (all of them: a customer's first appearance may be in any) and the as-of dates of
    those whose horizon has passed by ``end``; refuses an unknown campaign or date and a horizon still running."""
    with_campaign = [e for e in entries if e.campaign_id]
    if not with_campaign:
        raise ChurnError(
            f"No list in {history} records its campaign ({len(entries)} older list(s) found).",
            "score with this version (`churn score` records the campaign of each list), then evaluate",
        )
    known = sorted({e.campaign_id for e in with_campaign})
    if as_of is not None:
        day = as_timestamp(as_of)
        matches = [e for e in with_campaign if e.as_of == day]
        if not matches:
            dates = ", ".join(f"{e.as_of:%Y-%m-%d}" for e in with_campaign)
            raise ChurnError(f"--as-of {day:%Y-%m-%d}: no list of that date in {history}.", f"lists kept: {dates}")
        campaign = matches[0].campaign_id
    if campaign is not None and campaign not in known:
        raise ChurnError(f"--campaign {campaign}: no list of that campaign in {history}.",
                         f"campaigns kept: {', '.join(known)}")

    def observed(entry: HistoryEntry) -> bool:
        return entry.as_of + pd.Timedelta(days=entry.horizon_days) <= end

    if campaign is None:
        ready = [e for e in with_campaign if observed(e)]
        if not ready:
            first = min(with_campaign, key=lambda e: e.as_of + pd.Timedelta(days=e.horizon_days))
            raise _not_yet(first, end)
        campaign = max(ready, key=lambda e: e.as_of).campaign_id
    chosen = sorted((e for e in with_campaign if e.campaign_id == campaign), key=lambda e: e.as_of)
    targets = [e for e in chosen if as_of is None or e.as_of == as_timestamp(as_of)]
    evaluable = [e.as_of for e in targets if observed(e)]
    if not evaluable:
        raise _not_yet(min(targets, key=lambda e: e.as_of), end)
    return chosen, evaluable


def _not_yet(entry: HistoryEntry, end: pd.Timestamp) -> ChurnError:
    ready = entry.as_of + pd.Timedelta(days=entry.horizon_days)
    return ChurnError(
        f"The horizon of the list of {entry.as_of:%Y-%m-%d} ({entry.horizon_days} days) has not passed in the "
        f"data: its outcomes are known once the data reach {ready:%Y-%m-%d} (the transactions end on "
        f"{end - pd.Timedelta(days=1):%Y-%m-%d}).",
        f"evaluate again when the data run to {ready - pd.Timedelta(days=1):%Y-%m-%d} or later",
    )


def _pending_note(first: pd.DataFrame, evaluable: list[pd.Timestamp]) -> list[str]:
    waiting = int((~first["as_of"].isin(set(evaluable))).sum())
    if not waiting:
        return []
    return [(f"{waiting:,} customers entered the campaign in lists whose horizon has not passed yet (or outside the "
            "list asked for): they are evaluated later.")]


def _check_notes(checks: pd.DataFrame, evaluable: set) -> list[str]:
    notes = []
    for check in checks.itertuples(index=False):
        if check.as_of not in evaluable:
            continue
        day = f"{check.as_of:%Y-%m-%d}"
        if not check.passed:
            notes.append(
                f"The list of {day} fails the ratio check: of the customers it brought into the campaign, "
                f"{check.treated_n:,} are treated and {check.control_n:,} in control against a control share of "
                f"{check.control_share:.0%} (p = {check.srm_p_value:.1g}); its arms are not as the campaign drew "
                "them, so its customers are not evaluated."
            )
        elif check.off_draw:
            notes.append(
                f"In the list of {day}, {check.off_draw:,} customers' arms differ from the campaign's draw "
                f"(e.g. {', '.join(check.off_draw_ids[:3])}); they are left out."
            )
    return notes


def _run_metrics(cells: pd.DataFrame, customers: pd.DataFrame) -> dict[str, float]:
    overall = cells.iloc[0]
    names = ("treated_n", "control_n", "treated_churn_rate", "control_churn_rate", "uplift", "uplift_ci_low",
             "uplift_ci_high", "adjusted_uplift", "adjusted_ci_low", "adjusted_ci_high", "retained_value", "cost",
             "roi", "mde")
    metrics = {f"overall.{name}": float(overall[name]) for name in names if np.isfinite(float(overall[name]))}
    for row in cells[cells["group"] == "action"].itertuples(index=False):
        if np.isfinite(row.uplift):
            metrics[f"action.{row.level}.uplift"] = float(row.uplift)
    metrics["customers"] = float(len(customers))
    return metrics


def _check_places(data_dir, out: Path, report: Path, rates: Path) -> None:
    if out.suffix.lower() != ".csv":
        raise ChurnError(f"--out {out}: the evaluation is a CSV file.", "give a file name ending in .csv")
    places = {"--out": out, "the report": report, "the save rates": rates}
    check_distinct(places)
    for label, place in places.items():
        check_writable(place, label)
    refuse_overwriting_inputs(data_dir, places)


def _write(out: Path, report: Path, rates_out: Path, table: pd.DataFrame, html: str, rates: pd.DataFrame,
           campaign_id: str) -> None:
    outputs = None
    try:
        with staged_outputs(out, [out, report, rates_out], {"command": "churn evaluate", "campaign": campaign_id}) \
                as outputs:
            outputs.file(out, frame_writer(table, out))
            outputs.file(report, text_writer(html))
            outputs.file(rates_out, frame_writer(rates, rates_out))
            outputs.commit()
    except KeyboardInterrupt:
        state = "just after" if outputs is not None and outputs.committed else "before"
        raise Interrupted(f"stopped {state} the evaluation, its report and the save rates were replaced.") from None
    except OSError as error:
        raise unwritten(error) from None
