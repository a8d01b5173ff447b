"""The evaluation report: one self-contained HTML file saying what a campaign's contacts achieved, how far the
comparison can be trusted, what is too small to tell yet, and the save rates the next lists will use.

Uplift = control churn rate - treated churn rate, in churn-rate points (positive: the contacts kept customers).
Every value is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.campaign import measured_rate_words
from models.uplift import ALPHA, MIN_CELL, POWER, SRM_P_VALUE
from pipeline import plots
from pipeline.html import STYLE, esc, figure, image, money_text, table


@dataclass(frozen=True)
class EvaluationContext:
    """What the report says beside the cells."""

    campaign_id: str
    lists: tuple[str, ...]  # as-of dates of the lists whose customers are evaluated
    data_end: str  # the day after the last transaction
    horizon_days: list[int]
    currency: str
    control_share: float
    checks: pd.DataFrame  # per list of the campaign: models.campaign.arm_check
    pooled: pd.DataFrame  # models.campaign.pooled_arm_check
    contact_log: bool
    notes: tuple[str, ...]
    detectable_uplift: float
    single_list: bool = False


def points(value: float) -> str:
    """A share as signed churn-rate points: 0.042 -> "+4.2"."""
    return f"{100 * value:+.1f}" if np.isfinite(value) else "n/a"


def interval(low: float, high: float) -> str:
    return f"{points(low)} to {points(high)}" if np.isfinite(low) and np.isfinite(high) else "n/a"


def render_evaluation(cells: pd.DataFrame, customers: pd.DataFrame, rates: pd.DataFrame,
                      c: EvaluationContext) -> str:
    """HTML for one campaign's evaluation (``cells`` from models.uplift.evaluate_cells, ``customers`` the
    evaluation frame, ``rates`` from models.campaign.measured_save_rates)."""
    sections = [
        *_headline(cells, customers, c),
        *_trust(customers, c),
        *_actions(cells, rates, c),
        *_groups(cells, c),
        *_too_small(cells, c),
        *_save_rates(rates),
        *_method(c),
    ]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Campaign {esc(c.campaign_id)}: "
        f"evaluation</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )


def _headline(cells: pd.DataFrame, customers: pd.DataFrame, c: EvaluationContext) -> list[str]:
    overall = cells.iloc[0]
    horizon = " or ".join(str(h) for h in c.horizon_days)
    which = (f"the customers the list of {c.lists[0]} brought into the campaign" if c.single_list else
             f"{len(c.lists)} weekly list{'s' if len(c.lists) != 1 else ''}, {c.lists[0]} to {c.lists[-1]}")
    figures = "".join([
        figure(f"{points(overall['uplift'])} points",
               f"uplift: churn in control minus churn among the treated (95% interval "
               f"{interval(overall['uplift_ci_low'], overall['uplift_ci_high'])})"),
        figure(f"{points(overall['adjusted_uplift'])} points",
               f"adjusted for the list's churn probability (95% interval "
               f"{interval(overall['adjusted_ci_low'], overall['adjusted_ci_high'])})"),
        figure(money_text(overall["retained_value"], c.currency),
               f"margin kept among the treated: uplift x their value (95% interval "
               f"{money_text(overall['retained_value_ci_low'], c.currency)} to "
               f"{money_text(overall['retained_value_ci_high'], c.currency)})"),
        figure(money_text(overall["cost"], c.currency), "cost of the contacts"),
        figure(f"{overall['roi']:.1f}x" if np.isfinite(overall["roi"]) else "n/a",
               "return: (kept - cost) / cost, at the uplift's point estimate"),
    ])
    return [
        f"<h1>Campaign {esc(c.campaign_id)}: what the contacts achieved</h1>",
        (f'<p class="sub">{len(customers):,} customers ({int(overall["treated_n"]):,} treated, '
         f'{int(overall["control_n"]):,} held out as control) at their first list in the campaign: {esc(which)}. '
         f"Outcome: no purchase in the {esc(horizon)} days after their list; the data run to "
         f"{esc(c.data_end)} (exclusive). Amounts in {esc(c.currency)}.</p>"),
        f'<div class="figures">{figures}</div>',
        (f"<p><b>Overall:</b> {esc(overall['verdict'])}. Treated customers churned at "
        f"{overall['treated_churn_rate']:.1%}, the control group at {overall['control_churn_rate']:.1%}.</p>"),
    ]


def _trust(customers: pd.DataFrame, c: EvaluationContext) -> list[str]:
    checks = c.checks.assign(
        status=np.where(c.checks["passed"], np.where(c.checks["off_draw"] > 0, "some arms off the draw: left out",
                                                     "ok"), "FAILS the ratio check: not evaluated"),
        as_of=c.checks["as_of"].dt.strftime("%Y-%m-%d"),
        srm_p_value=c.checks["srm_p_value"].map(lambda p: f"{p:.3g}"),
    )[["as_of", "planned", "treated_n", "control_n", "control_share", "srm_p_value", "off_draw", "status"]]
    checks = checks.rename(columns={"as_of": "list of", "planned": "planned (all)", "treated_n": "new: treated",
                                    "control_n": "new: control", "control_share": "share drawn",
                                    "srm_p_value": "ratio check p", "off_draw": "arms off the draw"})
    pooled = c.pooled.assign(srm_p_value=c.pooled["srm_p_value"].map(lambda p: f"{p:.3g}")).rename(columns={
        "value_tier": "tier", "treated_n": "treated", "control_n": "control", "control_share": "control share",
        "srm_p_value": "ratio check p"})
    parts = [
        "<h2>Can the comparison be trusted?</h2>",
        (f"<p>Each list holds out about {c.control_share:.0%} of the customers it plans to contact, by a fixed draw "
         "of customer and campaign, and every planned customer's arm is checked against that draw. Each customer "
         "is counted once, at the first list that planned them (the <i>new</i> customers below): later lists see "
         "them after their arm acted (a contacted customer waits out the cooldown, so later lists hold more "
         "controls). The <b>ratio check</b> (the new customers' arm sizes against the share: a chi-square test, "
         f"exact binomial for a small list) flags a list whose arms are not as drawn: p below {SRM_P_VALUE} means the assignment broke (a "
         "list edited by hand, customers moved between arms), and such a list is not evaluated.</p>"),
        table(checks, share=("share drawn",), nowrap=("list of",)),
        "<p>The evaluated customers by tier:</p>",
        table(pooled, share=("control share",)),
    ]
    if c.contact_log:
        treated, control = customers[customers["treated"]], customers[~customers["treated"]]
        contacted = treated["contacted"].astype(bool).mean() if len(treated) else np.nan
        contaminated = int(control["contacted"].astype(bool).sum())
        parts.append(
            f"<p><b>Contact log:</b> {contacted:.0%} of the treated customers were contacted in the horizon after "
            "their list (the others were planned but not reached: the uplift is what <i>planning</i> a contact "
            f"achieved). <b>Contamination:</b> {contaminated:,} of {len(control):,} control customers "
            f"({contaminated / max(len(control), 1):.1%}) were contacted all the same; they stay in the control "
            "arm (intention to treat), which makes the uplift smaller, not biased towards the contacts.</p>")
    else:
        parts.append("<p><b>No contact log</b> (contacts.* in the data): every treated customer is taken as "
                     "contacted at their planned action's cost; contamination of the control group cannot be "
                     "checked.</p>")
    if c.notes:
        parts.append("<ul>" + "".join(f'<li class="warn">{esc(note)}</li>' for note in c.notes) + "</ul>")
    return parts


def estimate(value: float, low: float, high: float) -> str:
    """An uplift and its interval in points: "+4.2 (+1.1, +7.3)"."""
    if not np.isfinite(value):
        return "n/a"
    return f"{points(value)} ({points(low)} to {points(high)})" if np.isfinite(low) else points(value)


def _cell_rows(cells: pd.DataFrame, label: str) -> pd.DataFrame:
    return pd.DataFrame({
        label: cells["level"].to_numpy(),
        "treated": cells["treated_n"].to_numpy(), "control": cells["control_n"].to_numpy(),
        "churn treated": cells["treated_churn_rate"].to_numpy(),
        "churn control": cells["control_churn_rate"].to_numpy(),
        "uplift (95%)": [estimate(*v) for v in cells[["uplift", "uplift_ci_low", "uplift_ci_high"]].to_numpy()],
        "adjusted (95%)": [estimate(*v) for v in
                           cells[["adjusted_uplift", "adjusted_ci_low", "adjusted_ci_high"]].to_numpy()],
        "reading": [short_verdict(v) for v in cells["verdict"]],
    })


def short_verdict(verdict: str) -> str:
    """The verdict's first words (the whole sentence is in evaluation.csv and, for small cells, below)."""
    return verdict.split(":")[0].split(" by ")[0].replace("contacting ", "")


def _actions(cells: pd.DataFrame, rates: pd.DataFrame, c: EvaluationContext) -> list[str]:
    actions = cells[cells["group"] == "action"].sort_values("treated_n", ascending=False)
    if actions.empty:
        return []
    compared = actions[(actions["treated_n"] > 0) & (actions["control_n"] > 0)]
    prior_uplift = compared["level"].map(rates.set_index("action")["prior"]) * compared["control_churn_rate"]
    png = plots.uplift_plot(
        compared["level"].tolist(), compared[["uplift", "uplift_ci_low", "uplift_ci_high"]].to_numpy(),
        compared[["adjusted_uplift", "adjusted_ci_low", "adjusted_ci_high"]].to_numpy(),
        prior_uplift.to_numpy(dtype=float),
        (np.minimum(compared["treated_n"], compared["control_n"]) < MIN_CELL).to_numpy(),
    )
    one_arm = actions[(actions["treated_n"] == 0) | (actions["control_n"] == 0)]
    rows = _cell_rows(actions, "action")
    if actions["effect_on_contacted"].notna().any():
        rows.insert(7, "on the contacted (95%)", [estimate(*v) for v in actions[
            ["effect_on_contacted", "effect_on_contacted_ci_low", "effect_on_contacted_ci_high"]].to_numpy()])
    return [
        "<h2>Uplift per action</h2>",
        ("<p>Each action's customers (by the action planned at their first list, the control group's too: what "
         "they would have had): the uplift with its 95% interval (thin line), the same adjusted for the churn "
         "probability the list carried (thick line: the risk explains much of who churns whatever the arm, so the "
         "adjusted interval is narrower), and the uplift the action's save-rate prior promised (x: prior x the "
         "control churn rate). An interval that crosses zero has not shown an effect; grey rows are too small to "
         "tell.</p>"),
        image(png, "uplift per action with 95% intervals"),
        (f"<p class='small'>Not in the plot (one arm empty, nothing to compare yet): "
         f"{esc(', '.join(one_arm['level']))}.</p>" if len(one_arm) else ""),
        table(rows, share=("churn treated", "churn control")),
        ("<p class='small'>Reading: lowered (or raised) churn when the interval excludes zero; too small to tell when "
         "the cell could not detect the uplift worth knowing (see below); no effect shown otherwise. Margin kept, "
         "cost and return per action, and each verdict in full: evaluation.csv.</p>"),
    ]


def _groups(cells: pd.DataFrame, c: EvaluationContext) -> list[str]:
    tiers = cells[cells["group"] == "value_tier"]
    owners = cells[cells["group"] == "owner"].sort_values("treated_n", ascending=False).head(15)
    return [
        "<h2>By value tier</h2>",
        table(_cell_rows(tiers, "tier"), share=("churn treated", "churn control")),
        "<h2>By owner (the 15 with the most customers)</h2>",
        table(_cell_rows(owners, "owner"), share=("churn treated", "churn control")),
    ]


def _too_small(cells: pd.DataFrame, c: EvaluationContext) -> list[str]:
    small = cells[cells["verdict"].str.startswith("too small", na=False)]
    intro = (f"<p>A cell says nothing yet when it could not tell an uplift of {c.detectable_uplift:.0%} "
             f"(campaign.detectable_uplift) from chance: its minimal detectable effect (at {POWER:.0%} power, "
             f"{1 - ALPHA:.0%} confidence) is larger, or an arm holds fewer than {MIN_CELL} customers. Such a cell's "
             "interval is wide and its point estimate is mostly noise: do not act on it. The customers still "
             "needed and the weeks of lists that bring them follow from the cell's size and its share of each "
             "week's new customers.</p>")
    if small.empty:
        return ["<h2>Too small to tell yet</h2>", intro, "<p>Every cell is large enough.</p>"]
    owners = cells[cells["group"] == "owner"]
    small_owners = int((small["group"] == "owner").sum())
    small = small[small["group"] != "owner"]
    owner_words = (f"<p>{small_owners} of {len(owners)} owners' cells are too small to tell (evaluation.csv has "
                   "each).</p>" if small_owners else "")
    rows = pd.DataFrame({"group": small["group"].str.replace("_", " "), "level": small["level"],
                         "treated": small["treated_n"], "control": small["control_n"],
                         "could detect (points)": small["mde"].map(lambda m: f"{100 * m:.1f}" if np.isfinite(m) else "n/a"),
                         "why": small["verdict"]})
    return ["<h2>Too small to tell yet</h2>", intro, table(rows), owner_words]


def _save_rates(rates: pd.DataFrame) -> list[str]:
    if rates.empty:
        return []
    rows = pd.DataFrame({
        "action": rates["action"], "prior save rate": rates["prior"],
        "measured uplift (95%)": [estimate(*v) for v in rates[["uplift", "uplift_ci_low", "uplift_ci_high"]].to_numpy()],
        "measured save rate": measured_rate_words(rates), "customers": rates["customers"],
        "as precise as": rates["effective_customers"].round().astype(int), "rate to use": rates["used"],
    })
    return [
        "<h2>Save rates for the next lists</h2>",
        ("<p>An action's measured save rate is its uplift over the control churn rate: the share of would-be "
         "churners a planned contact kept. The rate to use pulls it towards the prior in proportion to how "
         "precisely it was measured: the customers of an even split as precise as the cell (<i>as precise as</i>; "
         "a 10% control group makes them far fewer than the customers) against the prior's weight "
         "(campaign.save_rate_prior_strength customers), kept between 0 and 1; a cell too small to tell keeps the "
         "prior. With "
         "<code>scoring.save_rates: measured</code>, <code>churn score</code> plans with these rates "
         "(save_rates.csv beside the history); the other actions keep their priors.</p>"),
        table(rows, share=("prior save rate", "rate to use")),
    ]


def _method(c: EvaluationContext) -> list[str]:
    return [
        "<h2>How this is measured</h2>",
        ("<ul><li><b>Intention to treat:</b> customers are compared by the arm the list assigned them, whether or "
         "not the contact happened; so the comparison stays random.</li>"
         "<li><b>First appearance:</b> a customer enters the evaluation at the first list of the campaign that "
         "planned them; later lists see them after their arm has acted (a kept customer is listed again, a lost "
         "one is not), which would favour the contacts.</li>"
         "<li><b>Intervals:</b> Newcombe's hybrid score interval for a difference of two rates; the adjusted uplift "
         "is Lin's regression of the outcome on the arm, the centred churn probability and their interaction, "
         "with HC2 robust errors (CUPED).</li>"
         "<li><b>Effect on the contacted</b> (with a contact log): the uplift divided by the difference between "
         "the arms' shares contacted.</li></ul>"),
    ]
