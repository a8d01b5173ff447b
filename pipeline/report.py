"""The scoring report: one self-contained HTML file (embedded PNG plots) a retention manager reads in two minutes.

Value-weighted throughout: the plan first (contacts per channel against capacity, what the plan is expected to
keep, who was left out and why), then the owners' workloads, why customers are at risk, risk by tier, the lapsed
customers, week over week, the model's quality in plain sentences, and drift. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.campaign import measured_rate_words
from models.owners import ACCOUNT_MANAGER, NEEDS_OWNER, SUCCESSOR, TEAM_LEAD, UNMANAGED
from models.plan import Playbook
from models.week_over_week import Basis, left_the_target
from pipeline import plots
from pipeline.html import STYLE, esc, figure, image, money_text, table

OWNER_WORDS = {
    ACCOUNT_MANAGER: "their account manager",
    SUCCESSOR: "the successor of a manager who left",
    TEAM_LEAD: "the team lead (the manager left, no successor)",
    NEEDS_OWNER: "nobody: the manager left and no successor or team lead is on record",
    UNMANAGED: "no account manager (the retention team)",
}
CHANNEL_ORDER = ("senior_manager_call", "account_manager_call", "email")


@dataclass(frozen=True)
class ReportContext:
    """Everything the report says beside the two lists."""

    as_of: str
    model_version: str
    currency: str
    horizon_days: int
    capacity_per_week: Mapping[str, int | None]
    control_share: float
    backtest: Mapping[str, float]
    drift: pd.Series
    warning_psi: float
    strong_psi: float
    playbook: Playbook
    backtest_baselines: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    emp_fraction: float | None = None
    estimate_summary: str | None = None
    departed_managers: pd.DataFrame | None = None  # account_manager_id, departed_at
    basis: Basis | None = None
    campaign_id: str = ""
    contact_cooldown_days: int = 0
    measured_save_rates: pd.DataFrame | None = None  # as pipeline.evaluate kept them (used: the rate planned with)
    save_rates_setting: str = "prior"
    drift_note: str | None = None  # why the inputs drift, on a short history
    reactivation: Mapping | None = None  # the model's reactivation map (models.lapsed.ReactivationMap.to_dict)
    reactivation_fallback: str | None = None  # why the lapsed list says BG/NBD's P(alive) instead (no map)


def _channel_words(channel: str) -> str:
    return channel.replace("_", " ")


def departed_managers(managers: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Account managers who left before ``as_of``: account_manager_id, departed_at (YYYY-MM-DD)."""
    left = managers[(managers["departed_at"] < pd.Timestamp(as_of)).to_numpy(dtype=bool, na_value=False)]
    return pd.DataFrame({
        "account_manager_id": left["account_manager_id"].astype("str").to_numpy(),
        "departed_at": left["departed_at"].dt.strftime("%Y-%m-%d").to_numpy(),
    })


def render_report(winback: pd.DataFrame, lapsed: pd.DataFrame, context: ReportContext) -> str:
    """HTML for one week's lists (frames as models.winback.build_lists returns them)."""
    c = context
    sections = [
        f"<h1>Retention worklist, week of {esc(c.as_of)}</h1>",
        (
            f'<p class="sub">{len(winback):,} active customers scored with model {esc(c.model_version)}; '
            f"amounts in {esc(c.currency)}, as margin over the next {c.horizon_days} days.</p>"
        ),
        *_plan_section(winback, lapsed, c),
        *_save_rates_section(c),
        *_owners_section(winback, lapsed, c),
        *_reasons_section(winback, c),
        *_tiers_section(winback, c),
        *_lapsed_section(lapsed, c),
        *_week_section(winback, c),
        *_model_section(c),
        *_drift_section(c),
    ]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Retention worklist "
        f"{esc(c.as_of)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )


def _plan_section(winback: pd.DataFrame, lapsed: pd.DataFrame, c: ReportContext) -> list[str]:
    both = pd.concat([winback.assign(list="worklist"), lapsed.assign(list="lapsed")], ignore_index=True)
    target = both[both["in_target"]]
    control = both[both["control_group"]]
    plan_value = float(target["expected_net_value"].sum())
    at_risk = float(winback["value_at_risk"].sum())
    figures = "".join([
        figure(f"{len(target):,}", "contacts planned this week"),
        figure(money_text(plan_value, c.currency), "expected net value of the plan"),
        figure(money_text(at_risk, c.currency), f"value at risk on the worklist ({c.horizon_days} days)"),
        figure(f"{int(lapsed['in_target'].sum()):,}", "win-back contacts to lapsed customers"),
    ])
    channels = [ch for ch in CHANNEL_ORDER if ch in c.capacity_per_week] + sorted(
        set(c.capacity_per_week) - set(CHANNEL_ORDER))
    held_from = control["action_id"].astype("object").map(
        {name: action.channel for name, action in c.playbook.actions.items()}).to_numpy()
    rows = []
    for channel in channels:
        planned = target[target["action_channel"] == channel]
        limit = c.capacity_per_week[channel]
        held = int(np.sum(held_from == channel))
        rows.append({
            "channel": _channel_words(channel),
            "contacts": len(planned),
            "capacity a week": "unlimited" if limit is None else f"{limit:,}",
            "expected net value": float(planned["expected_net_value"].sum()),
            "held out as control": held,
        })
    plan_table = table(pd.DataFrame(rows), money=("expected net value",), currency=c.currency)

    left_out = both[~both["in_target"]].copy()
    left_out["why"] = left_out["recommended_action"].str.replace("No action this week: ", "", regex=False)
    recently = left_out["recommended_action"].str.startswith("No contact this week: contacted", na=False)
    left_out.loc[recently, "why"] = f"contacted in the last {c.contact_cooldown_days} days"
    # Money as each list counts it: value at risk on the worklist, past value x reachability on the lapsed list.
    left_out["at stake"] = left_out["value_at_risk"].fillna(
        left_out["past_value"] * left_out["reactivation_probability"])
    why = (left_out.groupby(["list", "why"]).agg(customers=("customer_id", "size"), at_stake=("at stake", "sum"))
           .reset_index().sort_values(["list", "at_stake"], ascending=[False, False]))
    why = why.rename(columns={"why": "why no contact", "at_stake": "value at stake"})
    n_active = len(winback)
    share_contacted = winback["in_target"].mean() if n_active else 0.0
    personal = winback["action_channel"].isin(["senior_manager_call", "account_manager_call"]).mean() if n_active else 0
    emp = ""
    if c.emp_fraction is not None:
        emp = (f"<p class='small'>Check against the model's backtest: contacting the riskiest "
               f"{c.emp_fraction:.0%} of active customers maximised the expected profit there (EMP, with its own "
               f"cost assumptions); this plan contacts {share_contacted:.0%} of them, {personal:.0%} by a personal "
               "call. The plan itself follows each contact's expected net value and the channels' capacity.</p>")
    top = winback[winback["in_target"]].head(10)
    top_table = table(
        top[["rank", "customer_id", "value_tier", "churn_probability", "expected_net_value", "action_channel",
             "owner_id", "reasons"]].assign(
            action_channel=top["action_channel"].map(_channel_words),
            churn_probability=top["churn_probability"].map(lambda p: f"{p:.0%}"),
        ).rename(columns={"customer_id": "customer", "value_tier": "tier", "churn_probability": "risk",
                          "expected_net_value": "expected net value", "action_channel": "channel",
                          "owner_id": "owner"}),
        money=("expected net value",), currency=c.currency, nowrap=("channel",),
    )
    return [
        "<h2>This week's plan</h2>",
        f'<div class="figures">{figures}</div>',
        (
            "<p>Each customer gets the contact the playbook allows for their reason and tier with the highest expected "
            "net value (churn probability x the contact's save rate x the customer's value, minus its cost), as long "
            "as its channel has capacity left this week; the channels are filled by expected net value, highest "
            "first, over the worklist and the lapsed list together.</p>"
        ),
        plan_table,
        (
            f"<p>The control group ({len(control):,} customers) is held out of campaign <b>{esc(c.campaign_id)}</b>: "
            f"about {c.control_share:.0%} of the customers the plan would contact, in every value tier, by a fixed "
            "draw of customer and campaign, so a customer keeps their arm in every weekly list of the campaign. They "
            "are <b>not</b> contacted, so comparing them later with those who were (<code>churn evaluate</code>) "
            "measures what the contacts achieve. Their slots stay unused.</p>"
        ),
        "<h3>Left out this week, and why</h3>",
        ("<p class='small'>Value at stake: value at risk on the worklist; on the lapsed list, past value x their "
         "reactivation probability (how often customers like them came back).</p>"),
        table(why, money=("value at stake",), currency=c.currency),
        emp,
        "<h3>The first contacts on the list</h3>",
        top_table,
    ]


def _save_rates_section(c: ReportContext) -> list[str]:
    """Which save rates the plan used: the priors, or those measured by the last evaluation beside the prior each
    replaced."""
    if c.save_rates_setting == "prior":
        return ["<h3>Save rates</h3>",
                ("<p class='small'>The plan uses the save-rate priors of the configuration (scoring.actions); "
                "<code>scoring.save_rates: measured</code> uses the rates <code>churn evaluate</code> measured.</p>")]
    rates = c.measured_save_rates
    if rates is None or rates.empty:
        return ["<h3>Save rates</h3>",
                ("<p class='warn'>scoring.save_rates is measured, but no save rate has been measured yet: the plan "
                "uses the priors. <code>churn evaluate</code> measures them once a campaign's horizon has passed.</p>")]
    source = ""
    if "campaign_id" in rates and rates["campaign_id"].notna().any():
        source = f" by the evaluation of campaign {esc(rates['campaign_id'].dropna().iloc[0])}"
        if "lists" in rates and rates["lists"].notna().any():
            source += f" (lists {esc(rates['lists'].dropna().iloc[0])})"

    def uplift(value: float, low: float, high: float) -> str:
        if not np.isfinite(value):
            return "n/a"
        return f"{100 * value:+.1f} ({100 * low:+.1f} to {100 * high:+.1f})" if np.isfinite(low) else f"{100 * value:+.1f}"

    moved = int((rates["used"] - rates["prior"]).abs().gt(1e-9).sum())
    shown = pd.DataFrame({
        "action": rates["action"],
        "prior save rate": rates["prior"],
        "measured uplift (points, 95%)": [uplift(*v) for v in
                                          rates[["uplift", "uplift_ci_low", "uplift_ci_high"]].to_numpy(dtype=float)],
        "measured save rate": measured_rate_words(rates),
        "customers measured": rates["customers"].astype(int),
        "save rate planned with": rates["used"],
    })
    return [
        "<h3>Save rates: measured, in place of the priors</h3>",
        (f"<p>{len(rates)} actions were measured{source}; {moved} of them measured precisely enough to move their "
         "save rate. A measured save rate is the uplift a planned contact achieved over the control group's churn "
         "rate, pulled towards the prior in proportion to how precisely it was measured (a cell too small to tell "
         "keeps its prior). The actions not measured keep their priors.</p>"),
        table(shown, share=("prior save rate", "save rate planned with")),
    ]



def _owners_section(winback: pd.DataFrame, lapsed: pd.DataFrame, c: ReportContext) -> list[str]:
    both = pd.concat([winback, lapsed], ignore_index=True)
    target = both[both["in_target"]]
    calls = target[target["action_channel"].isin(["senior_manager_call", "account_manager_call"])]
    owner = calls["owner_id"].where(calls["owner_status"] != UNMANAGED, "(retention team)").fillna("(needs an owner)")
    load = (calls.assign(owner=owner).groupby("owner")
            .agg(calls=("customer_id", "size"), expected_net_value=("expected_net_value", "sum"))
            .sort_values(["calls", "expected_net_value"], ascending=False).head(15).reset_index())
    status = winback["owner_status"].value_counts()
    status_rows = pd.DataFrame({
        "customers are owned by": [OWNER_WORDS.get(s, s) for s in status.index],
        "customers": status.to_numpy(),
        "value at risk": [float(winback.loc[winback["owner_status"] == s, "value_at_risk"].sum()) for s in status.index],
    })
    managed = winback[winback["account_manager_id"].notna()]
    parts = [
        "<h2>Owners' workloads</h2>",
        (
            "<p>A customer's owner is their account manager; when that manager has left, the successor, else the team "
            "lead; the calls below go to them. Nobody who has left is named as an owner.</p>"
            if len(managed) else
            "<p>No active customer has an account manager on record, so every call goes to the retention team.</p>"
        ),
        table(status_rows, money=("value at risk",), currency=c.currency),
    ]
    if len(load):
        parts += ["<h3>Calls planned per owner (top 15)</h3>",
                  table(load.rename(columns={"expected_net_value": "expected net value"}),
                         money=("expected net value",), currency=c.currency)]
    if not len(managed):
        return parts
    by_manager = (managed.groupby(managed["account_manager_id"].astype("str"))["value_at_risk"].sum()
                  .sort_values(ascending=False).head(15))
    left = c.departed_managers if c.departed_managers is not None else pd.DataFrame(
        columns=["account_manager_id", "departed_at"])
    left_date = dict(zip(left["account_manager_id"], left["departed_at"], strict=True))
    marked = {m for m in by_manager.index if m in left_date}
    labelled = by_manager.rename(index=lambda m: f"{m} (left {left_date[m]})" if m in left_date else m)
    parts.append(image(plots.bar_plot(
        labelled, "Value at risk by account manager on record (top 15)", f"value at risk ({c.currency})",
        marked={f"{m} (left {left_date[m]})" for m in marked},
        note="red: the manager has left; their customers are owned by the successor or team lead" if marked else "",
    ), "value at risk by account manager"))
    gone = winback[winback["account_manager_id"].isin(list(left_date))]
    if len(gone):
        summary = (gone.groupby("account_manager_id")
                   .agg(customers=("customer_id", "size"), value_at_risk=("value_at_risk", "sum"),
                        now_owned_by=("owner_id", lambda s: ", ".join(sorted(set(s.dropna()))) or "nobody"))
                   .sort_values("value_at_risk", ascending=False).head(10).reset_index())
        summary.insert(1, "left on", summary["account_manager_id"].map(left_date))
        parts += [f"<p>{len(gone):,} active customers have an account manager who has left:</p>",
                  table(summary.rename(columns={"account_manager_id": "manager who left",
                                                 "value_at_risk": "value at risk", "now_owned_by": "now owned by"}),
                         money=("value at risk",), currency=c.currency)]
    return parts


FAMILY_WORDS = {
    "open_complaint": "open complaint", "stale_complaint": "old open complaint (check the data)",
    "complaint": "past complaints", "account_manager": "account manager left", "price": "price",
    "decline": "buying less", "engagement": "fewer visits / browsing", "wallet": "buys elsewhere",
    "recency": "overdue", "tenure": "new customer", "other": "other", "": "no clear reason",
}


def _reasons_section(winback: pd.DataFrame, c: ReportContext) -> list[str]:
    main = winback["reason_codes"].fillna("").str.split(";").str[0].map(lambda f: FAMILY_WORDS.get(f, f))
    by_reason = winback.groupby(main)["value_at_risk"].sum().sort_values(ascending=False)
    target = winback[winback["in_target"]]
    by_action = (target.groupby("recommended_action")
                 .agg(contacts=("customer_id", "size"), expected_net_value=("expected_net_value", "sum"))
                 .sort_values("expected_net_value", ascending=False).head(12))
    shortened = by_action["expected_net_value"].rename(index=lambda a: a if len(a) <= 60 else a[:57] + "...")
    return [
        "<h2>Why customers are at risk</h2>",
        (
            "<p>Value at risk (churn probability x customer value) by each customer's strongest reason; and what "
            "the plan does about it: the contacts planned by action, by the value they are expected to keep. A "
            "reason is given only where it raises the customer's predicted risk and the customer's value lies "
            "beyond the typical one (the median of this week's active customers) on the risky side.</p>"
        ),
        image(plots.bar_plot(by_reason, "Value at risk by main reason", f"value at risk ({c.currency})"),
             "value at risk by reason"),
        image(plots.bar_plot(shortened, "Planned contacts by action", f"expected net value ({c.currency})"),
             "planned contacts by action"),
        table(by_action.reset_index().rename(columns={"recommended_action": "action",
                                                       "expected_net_value": "expected net value"}),
               money=("expected net value",), currency=c.currency),
    ]


def _tiers_section(winback: pd.DataFrame, c: ReportContext) -> list[str]:
    by_tier = (winback.groupby("value_tier", observed=True)
               .agg(customers=("customer_id", "size"), customer_value=("customer_value", "sum"),
                    value_at_risk=("value_at_risk", "sum"), mean_risk=("churn_probability", "mean"),
                    contacted=("in_target", "sum"))
               .reset_index().rename(columns={"value_tier": "tier", "customer_value": "customer value",
                                              "value_at_risk": "value at risk", "mean_risk": "mean churn risk"}))
    return [
        "<h2>Risk by value tier</h2>",
        (
            "<p>Tier A holds the customers with the top 80% of value. Each panel shows where a tier's value sits on the "
            "churn-probability scale (its own scale per panel).</p>"
        ),
        table(by_tier, money=("customer value", "value at risk"), currency=c.currency, share=("mean churn risk",)),
        image(plots.tier_panels(winback["churn_probability"], winback["customer_value"], winback["value_at_risk"],
                               winback["value_tier"], f"customer value ({c.currency})"),
             "risk by tier"),
    ]


def _lapsed_section(lapsed: pd.DataFrame, c: ReportContext) -> list[str]:
    if lapsed.empty:
        return ["<h2>Lapsed customers worth winning back</h2>", "<p>No tier A or B customer lapsed in the lookback.</p>"]
    by_tier = (lapsed.groupby("value_tier").agg(customers=("customer_id", "size"), past_value=("past_value", "sum"),
                                                contacts=("in_target", "sum"))
               .reset_index().rename(columns={"value_tier": "tier", "past_value": "past value"}))
    top = lapsed.head(8)[["rank", "customer_id", "value_tier", "past_value", "reactivation_probability",
                          "recommended_action", "reasons"]]
    top = top.assign(reactivation_probability=top["reactivation_probability"].map(lambda p: f"{p:.0%}"))
    return [
        "<h2>Lapsed customers worth winning back</h2>",
        (
            f"<p>{len(lapsed):,} customers who were tier A or B in their last year stopped buying within the lookback "
            "(the lapsed list). Their past value is margin over the same horizon at their old run-rate. "
            f"{reactivation_words(c.reactivation, c.reactivation_fallback)}</p>"
        ),
        table(by_tier, money=("past value",), currency=c.currency),
        table(top.rename(columns={"customer_id": "customer", "value_tier": "tier", "past_value": "past value",
                                   "reactivation_probability": "came back, like them", "recommended_action": "action"}),
               money=("past value",), currency=c.currency),
    ]


def reactivation_words(fitted: Mapping | None, fallback: str | None) -> str:
    """What the lapsed list's reactivation probability is, in a sentence or two."""
    if not fitted:
        return fallback or "Their reactivation probability is BG/NBD's P(alive)."
    share = fitted["n_returned"] / fitted["n_customers"] if fitted["n_customers"] else 0.0
    return (f"Their reactivation probability is how often customers like them came back: at the training cutoffs, "
            f"customers were lapsed {fitted['n_customers']:,} times (once per cutoff) and bought again within the "
            f"next {fitted['horizon_days']} days {share:.1%} of the time, more often the likelier their purchase "
            "pattern said they were still there; each customer gets the share of those like them, as the chance "
            "that a contact still reaches someone who can buy.")


def _week_section(winback: pd.DataFrame, c: ReportContext) -> list[str]:
    if c.basis is None:
        return ["<h2>Week over week</h2>",
                (
                    "<p>No earlier list at this output location: from the next run on, this section shows who entered "
                    "and who left the target.</p>"
                )]
    entered = winback[winback["new_this_week"].fillna(False).astype(bool)]
    left_ids = left_the_target(winback["customer_id"], winback["in_target"].to_numpy(), c.basis)
    left_rows = winback[winback["customer_id"].astype("str").isin(left_ids)]
    # Held out now: in the campaign's control group (a new campaign draws the arms anew), not out of the plan.
    held_out = left_rows[left_rows["control_group"]]
    still_listed = left_rows[~left_rows["control_group"]]
    rising = winback[winback["risk_change"].notna()].nlargest(5, "risk_change")
    names = {"customer_id": "customer", "value_tier": "tier", "churn_probability": "risk now",
             "risk_change": "change", "recommended_action": "this week", "expected_net_value": "expected net value"}

    def shown(rows: pd.DataFrame, columns: list[str]) -> str:
        readable = rows[columns].assign(
            churn_probability=rows["churn_probability"].map(lambda p: f"{p:.0%}"),
            risk_change=rows["risk_change"].map(lambda d: "" if pd.isna(d) else f"{round(100 * d):+d} points"),
        )
        return table(readable.rename(columns=names), money=("expected net value",), currency=c.currency,
                      nowrap=("change",))

    columns = ["customer_id", "value_tier", "churn_probability", "risk_change", "recommended_action"]
    return [
        "<h2>Week over week</h2>",
        (
            f"<p>Compared with the list of {esc(c.basis.as_of.date())}: {len(entered):,} customers entered the "
            f"target, {len(left_ids):,} left it: {len(left_ids) - len(left_rows):,} are no longer active, "
            f"{len(held_out):,} are in this week's control group, {len(still_listed):,} no longer get a contact.</p>"
        ),
        "<h3>Entered the target (highest expected net value)</h3>",
        shown(entered.head(8), [*columns, "expected_net_value"]),
        "<h3>No longer get a contact (highest value at risk)</h3>",
        shown(still_listed.head(8), columns),
        "<h3>Biggest rises in churn probability</h3>",
        shown(rising, columns),
    ]


METRIC_SENTENCES = {
    "roc_auc": ("Ranking", "picks the churner over the non-churner in {m:.0%} of random pairs (ROC-AUC {v:.3f})"),
    "lift_at_10": ("Top 10%", "the 10% it rates riskiest hold {v:.1f}x the churners of an average 10% (lift)"),
    "value_captured_at_10": ("Value", "the 10% with the most value at risk held {v:.0%} of the value the churners took with them"),
    "ece": ("Calibration", "its probabilities are off by {pp:.1f} points on average (expected calibration error)"),
    "brier": ("Accuracy", "Brier score {v:.3f} (mean squared error of the probabilities; lower is better)"),
}
BASELINE_WORDS = {"baseline_recency": "the recency rule", "baseline_bgnbd": "BG/NBD (purchase pattern)"}


def _model_section(c: ReportContext) -> list[str]:
    lines = []
    if c.estimate_summary:
        lines.append(f"<p><b>How reliable:</b> {esc(c.estimate_summary)}</p>")
    items = []
    for metric, (label, sentence) in METRIC_SENTENCES.items():
        if metric not in c.backtest:
            continue
        v = float(c.backtest[metric])
        words = sentence.format(v=v, m=v, pp=100 * v)
        compared = []
        for baseline, numbers in c.backtest_baselines.items():
            if metric in numbers and np.isfinite(numbers[metric]):
                b = float(numbers[metric])
                shown = (f"{b:.0%}" if metric == "roc_auc" else f"{b:.1f}x" if metric.startswith("lift")
                         else f"{100 * b:.1f} points" if metric == "ece" else f"{b:.0%}" if "captured" in metric
                         else f"{b:.3f}")
                compared.append(f"{BASELINE_WORDS.get(baseline, baseline)} {shown}")
        if compared:
            words += "; " + ", ".join(compared)
        items.append(f"<li><b>{esc(label)}:</b> {esc(words)}.</li>")
    churn_rate = c.backtest.get("churn_rate")
    intro = ("<p>On the latest backtest cutoff (customers scored as of a past date and checked against what "
             "they did next" + (f"; {float(churn_rate):.0%} of them churned" if churn_rate is not None else "")
             + "), the model against the simple baselines:</p>")
    return ["<h2>How good is the model</h2>", *lines, intro, f"<ul>{''.join(items)}</ul>" if items else ""]


def _drift_section(c: ReportContext) -> list[str]:
    drifted = c.drift[c.drift > c.warning_psi]
    if drifted.empty:
        return ["<h2>Drift</h2>", f"<p>No model input differs from the training data (every PSI &le; {c.warning_psi}).</p>"]
    rows = []
    for name, psi in drifted.sort_values(ascending=False).items():
        level = "strong" if psi > c.strong_psi else "warn"
        label = "strong drift" if psi > c.strong_psi else "drift"
        rows.append(f'<tr><td>{esc(name)}</td><td class="num">{psi:.3f}</td><td class="{level}">{label}</td></tr>')
    return [
        "<h2>Drift</h2>",
        (
            f'<p class="warn">{len(drifted)} model input(s) differ from the training data (population stability index '
            f"PSI &gt; {c.warning_psi}; &gt; {c.strong_psi} is strong): treat the scores that lean on them with care, "
            "and retrain if it persists. Values are compared at the precision each input is shown at (a day, a "
            "whole count, a percentage point): a change well within it barely moves the index.</p>"
        ),
        f"<table><tr><th>input</th><th>PSI</th><th></th></tr>{''.join(rows)}</table>",
        f"<p>{esc(c.drift_note)}</p>" if c.drift_note else "",
    ]
