"""What contacting customers achieved: treated vs control churn, uplift with intervals, and how far to trust them.

Pure statistics on one evaluated list (one row per customer: the arm the list assigned, whether they were
contacted, their observed outcome over the horizon, and what the list knew before: churn probability, value, tier,
action, owner). The readout follows what experimentation platforms do (Deng et al. 2013; GrowthBook, Statsig,
Eppo): intention-to-treat by assigned arm, a sample-ratio-mismatch check, regression adjustment with the
pre-period churn probability (CUPED; Lin 2013's interacted form with robust errors), and the minimal detectable
effect of every cell, so a small cell says "too small to tell" with a number rather than a verdict.

uplift = control churn rate - treated churn rate (positive: contacting kept customers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

ALPHA = 0.05
POWER = 0.8
SRM_P_VALUE = 0.001  # the usual threshold: a mismatch this unlikely by chance means the assignment broke
MIN_CELL = 30  # per arm: below this no interval is worth printing


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def uplift_interval(
    treated_churned: int, treated_n: int, control_churned: int, control_n: int, alpha: float = ALPHA
) -> Interval:
    """Control churn rate minus treated churn rate, with Newcombe's hybrid score interval (good at small n and
    rates near 0 or 1, where the plain Wald interval is too narrow)."""
    estimate = control_churned / control_n - treated_churned / treated_n
    low, high = confint_proportions_2indep(
        control_churned, control_n, treated_churned, treated_n, compare="diff", method="newcomb", alpha=alpha
    )
    return Interval(estimate, float(low), float(high))


def adjusted_uplift(churned: np.ndarray, treated: np.ndarray, covariate: np.ndarray, alpha: float = ALPHA) -> Interval:
    """The uplift adjusted for a pre-period covariate (the list's churn probability): OLS of the outcome on the
    arm, the centred covariate and their interaction (Lin 2013), heteroskedasticity-robust (HC2) errors.

    The covariate explains much of who churns whatever the arm, so the adjusted interval is narrower while the
    estimate stays unbiased (the arm was drawn at random, independently of the covariate).
    """
    centred = covariate - covariate.mean()
    columns = [np.ones(len(churned)), treated]
    if np.ptp(centred) > 0:  # a covariate without spread adjusts nothing (and would make the design singular)
        columns += [centred, treated * centred]
    design = np.column_stack(columns)
    fit = sm.OLS(churned.astype(float), design).fit(cov_type="HC2")
    low, high = fit.conf_int(alpha)[1]
    return Interval(-float(fit.params[1]), -float(high), -float(low))  # churn reduction = minus the arm's effect


def sample_ratio_mismatch(treated_n: int, control_n: int, control_share: float) -> float:
    """p-value of the arm sizes against the configured control share: chi-square goodness of fit, or the exact
    binomial test when an arm expects fewer than 5 customers (where the chi-square's p-values are far too small)."""
    total = treated_n + control_n
    if total == 0 or not 0 < control_share < 1:
        return 1.0
    expected = [total * (1 - control_share), total * control_share]
    if min(expected) < 5:
        return float(stats.binomtest(int(control_n), int(total), control_share).pvalue)
    return float(stats.chisquare([treated_n, control_n], expected).pvalue)


def minimal_detectable_effect(control_rate: float, treated_n: int, control_n: int, alpha: float = ALPHA,
                              power: float = POWER) -> float:
    """The smallest uplift (in churn-rate points, as a share) the cell could detect with the given power."""
    if treated_n == 0 or control_n == 0:
        return math.inf
    rate = min(max(control_rate, 1e-3), 1 - 1e-3)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * math.sqrt(rate * (1 - rate) * (1 / treated_n + 1 / control_n)))


def customers_needed(control_rate: float, effect: float, control_share: float, alpha: float = ALPHA,
                     power: float = POWER) -> int:
    """Customers (both arms together) a cell needs to detect ``effect`` at this control share."""
    if effect <= 0:
        return 0
    rate = min(max(control_rate, 1e-3), 1 - 1e-3)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    # MDE^2 = z^2 p(1-p) (1/(n(1-s)) + 1/(n s))  =>  n = z^2 p(1-p) / (MDE^2 s (1-s))
    return math.ceil(z**2 * rate * (1 - rate) / (effect**2 * control_share * (1 - control_share)))


def shrunk_save_rate(measured: float, n: int, prior: float, strength: float) -> float:
    """A measured save rate pulled towards its prior by the prior's weight in customers (``strength``): with few
    customers the prior dominates, with many the measurement."""
    if n <= 0 or not np.isfinite(measured):
        return prior
    return (n * measured + strength * prior) / (n + strength)


def evaluate_cells(
    frame: pd.DataFrame, groups: dict[str, str], *, costs: pd.Series | None = None, alpha: float = ALPHA,
    power: float = POWER, control_share: float, effect_of_interest: float, weekly_customers: float | None = None,
) -> pd.DataFrame:
    """One row per (group, level): arm sizes and churn rates, uplift with its interval, adjusted uplift, value
    retained, cost, return, and whether the cell can tell anything.

    ``frame`` has one row per customer: ``treated`` (assigned arm, bool), ``churned`` (observed, bool),
    ``churn_probability`` (the list's, before the outcome), ``customer_value`` and ``cost`` (of the contact
    made, 0 when none), plus the columns named by ``groups`` ({"value_tier": "value_tier", ...}); group
    "overall" is always first. ``weekly_customers``: how many customers a week join a cell like this one, per
    cell share, to say how many more weeks a small cell needs.
    """
    rows = [_cell(frame, "overall", "all", alpha, power, control_share, effect_of_interest, weekly_customers)]
    for group, column in groups.items():
        for level, members in frame.groupby(column, sort=True, observed=True):
            share = len(members) / max(len(frame), 1)
            weekly = None if weekly_customers is None else weekly_customers * share
            rows.append(_cell(members, group, str(level), alpha, power, control_share, effect_of_interest, weekly))
    return pd.DataFrame(rows)


def _cell(members: pd.DataFrame, group: str, level: str, alpha: float, power: float, control_share: float,
          effect: float, weekly: float | None) -> dict:
    treated = members["treated"].to_numpy(dtype=bool)
    churned = members["churned"].to_numpy(dtype=bool)
    treated_n, control_n = int(treated.sum()), int((~treated).sum())
    treated_churned, control_churned = int(churned[treated].sum()), int(churned[~treated].sum())
    row = {
        "group": group, "level": level, "treated_n": treated_n, "control_n": control_n,
        "treated_churn_rate": treated_churned / treated_n if treated_n else math.nan,
        "control_churn_rate": control_churned / control_n if control_n else math.nan,
    }
    cost = float(members["cost"].sum())
    treated_value = float(members.loc[treated, "customer_value"].sum())
    if treated_n and control_n:
        plain = uplift_interval(treated_churned, treated_n, control_churned, control_n, alpha)
        # Robust errors understate the spread of a handful of customers: no adjusted interval below MIN_CELL.
        adjusted = (adjusted_uplift(churned, treated, members["churn_probability"].to_numpy(dtype=float), alpha)
                    if min(treated_n, control_n) >= MIN_CELL else Interval(math.nan, math.nan, math.nan))
        # The churn rate of both arms together: a handful of controls gives rates of 0 or 1 and no variance.
        mde = minimal_detectable_effect(float(churned.mean()), treated_n, control_n, alpha, power)
    else:
        plain = adjusted = Interval(math.nan, math.nan, math.nan)
        mde = math.inf
    retained = plain.estimate * treated_value  # churn avoided, in the margin of the customers treated
    row |= {
        "uplift": plain.estimate, "uplift_ci_low": plain.low, "uplift_ci_high": plain.high,
        "adjusted_uplift": adjusted.estimate, "adjusted_ci_low": adjusted.low, "adjusted_ci_high": adjusted.high,
        "retained_value": retained, "retained_value_ci_low": plain.low * treated_value,
        "retained_value_ci_high": plain.high * treated_value, "cost": cost,
        "roi": (retained - cost) / cost if cost > 0 else math.nan,
        "mde": mde,
        "srm_p_value": sample_ratio_mismatch(treated_n, control_n, control_share),
        **_on_the_contacted(members, treated, plain),
    }
    row["verdict"] = _verdict(row, effect, control_share, weekly, min(treated_n, control_n))
    return row


def _on_the_contacted(members: pd.DataFrame, treated: np.ndarray, plain: Interval) -> dict:
    """Who was contacted in each arm (the contact log's ``contacted``; NaN without one) and the effect on the
    contacted: the uplift over the gap between the arms' contacted shares (the Wald instrumental-variable ratio;
    its interval scales the uplift's, taking the shares as known, which their sample sizes make nearly so)."""
    row = {"treated_contacted_share": math.nan, "control_contacted_share": math.nan, "effect_on_contacted": math.nan,
           "effect_on_contacted_ci_low": math.nan, "effect_on_contacted_ci_high": math.nan}
    if "contacted" not in members or members["contacted"].isna().any() or not treated.any() or treated.all():
        return row
    contacted = members["contacted"].to_numpy(dtype=bool)
    shares = float(contacted[treated].mean()), float(contacted[~treated].mean())
    row["treated_contacted_share"], row["control_contacted_share"] = shares
    gap = shares[0] - shares[1]
    if gap > 0:
        row |= {"effect_on_contacted": plain.estimate / gap, "effect_on_contacted_ci_low": plain.low / gap,
                "effect_on_contacted_ci_high": plain.high / gap}
    return row


def _verdict(row: dict, effect: float, control_share: float, weekly: float | None, smaller_arm: int) -> str:
    """One plain sentence: what the cell shows, or why it cannot show anything yet (uplifts in churn-rate points)."""
    if smaller_arm < MIN_CELL:
        return f"too small to tell: {row['treated_n']} treated and {row['control_n']} control customers"
    if row["uplift_ci_low"] > 0:
        return (f"contacting lowered churn by {100 * row['uplift']:.1f} points "
                f"(95% interval {100 * row['uplift_ci_low']:.1f} to {100 * row['uplift_ci_high']:.1f})")
    if row["uplift_ci_high"] < 0:
        return f"contacting raised churn by {-100 * row['uplift']:.1f} points: reconsider this action"
    if row["mde"] > effect:
        pooled = (row["treated_churn_rate"] * row["treated_n"] + row["control_churn_rate"] * row["control_n"]) / (
            row["treated_n"] + row["control_n"])
        needed = customers_needed(pooled, effect, control_share)
        more = max(needed - row["treated_n"] - row["control_n"], 0)
        weeks = f"; about {math.ceil(more / weekly)} more weeks of lists" if weekly else ""
        return (f"too small to tell: it could only detect an uplift of {100 * row['mde']:.0f} points or more; "
                f"{more:,} more customers are needed to detect {100 * effect:.0f} points{weeks}")
    return (f"no effect shown: the interval {100 * row['uplift_ci_low']:.1f} to {100 * row['uplift_ci_high']:.1f} "
            "points includes zero")
