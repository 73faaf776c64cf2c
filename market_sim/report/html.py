"""Assemble the report page. Every piece of user text is escaped."""

from __future__ import annotations

from html import escape

import pandas as pd

from market_sim.report import plots
from market_sim.scenario import Scenario

RANKING = (
    ("profit", "Profit"),
    ("revenue", "Revenue"),
    ("units", "Units"),
    ("avg_price_paid", "Avg price paid"),
    ("fill_rate", "Fill rate"),
    ("consumer_surplus", "Consumer surplus"),
    ("price_gini", "Gini of prices paid"),
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.ci { color: #777; font-size: .85em; }
.failure { color: #a00; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .8rem; }
img { max-width: 100%; }
"""


def render_report(scenario: Scenario, summary: pd.DataFrame, daily: pd.DataFrame, failures: list[str]) -> str:
    """The whole report as one HTML string."""
    focal = scenario.focal.name
    parts = [
        f"<h1>{escape(scenario.name)}</h1>",
        f"<p>{scenario.days} days, {summary['replications'].max() if len(summary) else 0} replications per "
        f"strategy, seed {scenario.seed}. Every strategy met the same shoppers and shocks.</p>",
    ]
    if scenario.description:
        parts.append(f"<h2>Scenario</h2><pre>{escape(scenario.description)}</pre>")
    if scenario.lesson:
        parts.append(f"<h2>What to notice</h2><pre>{escape(scenario.lesson)}</pre>")
    if failures:
        items = "".join(f"<li>{escape(f)}</li>" for f in failures)
        parts.append(f"<h2 class='failure'>Failures</h2><ul class='failure'>{items}</ul>")
    parts.append(f"<h2>Ranking (focal seller: {escape(focal)})</h2>{_ranking(summary)}")
    if len(daily):
        parts.append(
            f"<h2>Profit</h2><img alt='cumulative profit' src='{plots.cumulative_profit(daily, focal)}'>"
        )
        parts.append(f"<h2>Prices</h2><img alt='price paths' src='{plots.price_paths(daily, focal)}'>")
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(scenario.name)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _ranking(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "<p>No strategy finished.</p>"
    ranked = summary.sort_values("profit_mean", ascending=False, kind="stable")
    head = "".join(f"<th>{label}</th>" for _, label in RANKING)
    rows = []
    for _, row in ranked.iterrows():
        cells = "".join(_cell(row, score) for score, _ in RANKING)
        rows.append(f"<tr><td>{escape(str(row['strategy']))}</td>{cells}</tr>")
    note = "<p class='ci'>Means with 95% confidence intervals.</p>"
    return f"<table><tr><th>Strategy</th>{head}</tr>{''.join(rows)}</table>{note}"


def _cell(row: pd.Series, score: str) -> str:
    mean, low, high = row[f"{score}_mean"], row[f"{score}_ci_low"], row[f"{score}_ci_high"]
    if pd.isna(mean):
        return "<td>–</td>"
    interval = "" if pd.isna(low) else f"<br><span class='ci'>[{low:,.4g}, {high:,.4g}]</span>"
    return f"<td>{mean:,.4g}{interval}</td>"
