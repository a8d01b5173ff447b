"""The scoring report: one self-contained HTML file with embedded PNG plots, for the retention team."""

from __future__ import annotations

import base64
import html

import pandas as pd

from pipeline import plots

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; }
th { text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.warn { color: #a15c00; } .strong { color: #b00020; font-weight: bold; } img { max-width: 100%; }
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(frame: pd.DataFrame, float_format: str = "{:,.3f}") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append(f'<td class="num">{float_format.format(value)}</td>')
            elif isinstance(value, int):
                cells.append(f'<td class="num">{value:,}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_report(
    winback: pd.DataFrame,
    *,
    as_of: str,
    model_version: str,
    backtest: dict[str, float],
    drift: pd.Series,
    warning_psi: float,
    strong_psi: float,
    reason_families: pd.Series,
) -> str:
    """HTML for one scored list: summary, risk by tier, reason mix, value at risk, backtest metrics, drift."""
    by_tier = (
        winback.groupby("value_tier", observed=True)
        .agg(customers=("customer_id", "size"), mean_churn_probability=("churn_probability", "mean"),
             customer_value=("customer_value", "sum"), value_at_risk=("value_at_risk", "sum"))
        .reset_index()
    )
    value_by_segment = winback.groupby("segment", observed=True)["value_at_risk"].sum().sort_values(ascending=False)
    managers = winback["account_manager_id"].fillna("(none)").astype("str")
    value_by_manager = winback.groupby(managers)["value_at_risk"].sum().sort_values(ascending=False).head(15)
    mix = reason_families.value_counts()

    drifted = drift[drift > warning_psi]
    if drifted.empty:
        drift_html = f"<p>No feature drifted (all PSI &le; {warning_psi}).</p>"
    else:
        rows = []
        for name, psi in drifted.items():
            level = "strong" if psi > strong_psi else "warn"
            label = "strong drift" if psi > strong_psi else "drift"
            rows.append(f'<tr><td>{html.escape(name)}</td><td class="num">{psi:.3f}</td><td class="{level}">{label}</td></tr>')
        drift_html = (
            f'<p class="warn">{len(drifted)} feature(s) differ from the training data (PSI &gt; {warning_psi}; '
            f"&gt; {strong_psi} is strong): treat their scores with care and consider retraining.</p>"
            f"<table><tr><th>feature</th><th>PSI</th><th></th></tr>{''.join(rows)}</table>"
        )
    metrics = pd.DataFrame({"metric": list(backtest), "value": [float(v) for v in backtest.values()]})
    in_target = int(winback["in_target"].sum())
    control = int(winback["control_group"].sum())
    sections = [
        f"<h1>Win-back list, as of {html.escape(as_of)}</h1>",
        (f"<p>{len(winback):,} active customers scored with model {html.escape(model_version)}. "
        f"{in_target:,} are in the target group; {control:,} are held out as the control group "
        "(do not contact them: they measure what the actions achieve). "
        f"Total value at risk: {winback['value_at_risk'].sum():,.0f}.</p>"),
        "<h2>Risk by value tier</h2>",
        _table(by_tier),
        _img(plots.histogram_by_group(winback["churn_probability"], winback["value_tier"],
                                      "Churn probability by value tier", "churn probability"), "risk by tier"),
        "<h2>Why customers are at risk (reason mix)</h2>",
        _img(plots.bar_plot(mix, "Customers by deciding reason family", "customers"), "reason mix"),
        "<h2>Value at risk by segment</h2>",
        _img(plots.bar_plot(value_by_segment, "Value at risk by segment", "value at risk"), "value by segment"),
        "<h2>Value at risk by account manager (top 15)</h2>",
        _img(plots.bar_plot(value_by_manager, "Value at risk by account manager", "value at risk"), "value by manager"),
        "<h2>How good is the model (latest backtest cutoff)</h2>",
        _table(metrics, "{:,.4f}"),
        "<h2>Drift</h2>",
        drift_html,
    ]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Win-back report {html.escape(as_of)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
