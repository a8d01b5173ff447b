"""Pieces of the HTML reports: the style sheet, escaping, embedded PNGs, money, figures and tables."""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 64em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; margin: 1em 0; }
.figure { background: #f6f8fa; border-radius: 6px; padding: 0.6em 1em; flex: 1 1 0; }
td.nowrap { white-space: nowrap; } td { vertical-align: top; }
.figure b { display: block; font-size: 1.5em; } .figure span { color: #555; font-size: 0.9em; }
.warn { color: #a15c00; } .strong { color: #b00020; font-weight: bold; } img { max-width: 100%; }
.small { font-size: 0.9em; color: #444; }
"""

def esc(value) -> str:
    return html.escape(str(value), quote=True)


def image(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def money_text(value: float, currency: str) -> str:
    return f"{esc(currency)} {value:,.0f}" if np.isfinite(value) else ""


def table(
    frame: pd.DataFrame, money: tuple[str, ...] = (), currency: str = "", share: tuple[str, ...] = (),
    nowrap: tuple[str, ...] = (),
) -> str:
    """An HTML table; ``money`` columns as whole currency units, ``share`` columns as percentages, ``nowrap``
    columns on one line."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for name, value in zip(frame.columns, row, strict=True):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                cells.append("<td></td>")
            elif name in money:
                cells.append(f'<td class="num">{money_text(float(value), currency)}</td>')
            elif name in share:
                cells.append(f'<td class="num">{float(value):.0%}</td>')
            elif isinstance(value, bool | np.bool_):
                cells.append(f"<td>{'yes' if value else 'no'}</td>")
            elif isinstance(value, int | np.integer):
                cells.append(f'<td class="num">{int(value):,}</td>')
            elif isinstance(value, float | np.floating):
                cells.append(f'<td class="num">{float(value):,.2f}</td>')
            else:
                kind = ' class="nowrap"' if name in nowrap else ""
                cells.append(f"<td{kind}>{esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def figure(value: str, label: str) -> str:
    return f'<div class="figure"><b>{value}</b><span>{esc(label)}</span></div>'
