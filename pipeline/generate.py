"""Step: generate the synthetic world and write it (tables + _truth/) as a data directory; with a campaign, also its
weekly lists in the list history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.bucket_store import SCORED_MANIFEST, directory_replaced
from pipeline.campaigns import CampaignSimulation, generate_campaign_world
from pipeline.config import Config
from pipeline.history import history_entry, write_list_entry
from pipeline.io import write_tables
from pipeline.synthetic import generate_world, last_days_only, latent_world, transactions_only

TRUTH_FOLDER = "_truth"


def campaign_simulation(cfg: Config) -> CampaignSimulation:
    """The simulated team plans as `churn score` would with ``cfg``: its campaign periods, control share, churn
    definition, cooldown, tiers, capacities and action priors."""
    return CampaignSimulation(
        name=cfg.campaign.name, weeks=cfg.campaign.weeks, start=pd.Timestamp(cfg.campaign.start),
        control_share=cfg.scoring.control_share, horizon_days=cfg.churn.horizon_days,
        active_window_days=cfg.churn.active_window_days, cooldown_days=cfg.scoring.contact_cooldown_days,
        tier_cuts=cfg.scoring.value_tier_cuts, tier_max_shares=cfg.scoring.value_tier_max_shares,
        capacity_per_week=dict(cfg.scoring.capacity_per_week),
        actions={name: (action.cost, action.save_rate) for name, action in cfg.scoring.actions.items()},
    )


def write_world(
    out: Path,
    n_customers: int,
    seed: int,
    fmt: str = "csv",
    *,
    history_days: int | None = None,
    only_transactions: bool = False,
    seasonal_churn: float = 0.0,
    campaign: CampaignSimulation | None = None,
    history: str | None = None,
) -> str:
    """Generate ``n_customers`` with ``seed`` into ``out``; returns a one-line summary.

    ``history_days`` keeps only the last days of events, ``only_transactions`` only the transactions table;
    the truth is always the whole world's. ``seasonal_churn``: see :func:`pipeline.synthetic.generate_world`.
    ``campaign``: run a retention campaign in the world (:mod:`pipeline.campaigns`) and keep its weekly lists in
    ``history`` as `churn score` keeps its lists.
    """
    lists = []
    if campaign is None:
        world = generate_world(n_customers, seed, seasonal_churn=seasonal_churn)
    else:
        simulated = generate_campaign_world(latent_world(n_customers, seed, seasonal_churn=seasonal_churn), campaign)
        world, lists = simulated.world, simulated.lists
    tables = world.tables
    if history_days is not None:
        tables = last_days_only(tables, history_days)
    if only_transactions:
        tables = transactions_only(tables)
    out = Path(out)
    write_tables(tables, out, fmt)
    write_tables(world.truth, out / TRUTH_FOLDER, fmt)
    for as_of, worklist, lapsed, facts in lists:
        with directory_replaced(history_entry(history, as_of), SCORED_MANIFEST) as entry:
            write_list_entry(entry, worklist, lapsed, facts)
    counts = ", ".join(f"{len(frame):,} {name}" for name, frame in tables.items())
    kept = f"; {len(lists)} weekly lists of campaign {lists[0][3]['campaign_id']} in {history}" if lists else ""
    return f"Wrote {counts} to {out} (truth in {out / TRUTH_FOLDER}){kept}"
