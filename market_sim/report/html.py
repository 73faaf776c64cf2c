"""Assemble the report page: one self-contained HTML file (images embedded, no scripts, no
links out) that opens offline. Every piece of user text is escaped."""

from __future__ import annotations

import re
from html import escape

import numpy as np
import pandas as pd

from market_sim import metrics
from market_sim.report import plots
from market_sim.report import theory as report_theory
from market_sim.report.data import Results
from market_sim.report.personal import personal_section
from market_sim.scenario import Event, Scenario, Segment, Seller

STYLE = """
:root { --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --good: #1a7f37; --bad: #cf222e;
  --wash: #f6f8fa; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0; }
main { max-width: 74rem; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: .2rem 0; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .3rem;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.meta, .note, .ci { color: var(--muted); }
.ci { font-size: .82em; white-space: nowrap; }
.note { font-size: .9em; }
.verdict { border-left: 4px solid var(--ink); background: var(--wash); padding: .7rem 1rem; margin: 1rem 0; }
.verdict.clear { border-color: var(--good); }
.lesson { border-left: 4px solid #8250df; background: #fbefff; padding: .2rem 1rem; margin: 1rem 0; }
.warning { border-left: 4px solid var(--bad); background: #ffebe9; padding: .5rem 1rem; }
nav { font-size: .9em; margin: 1rem 0; }
nav a { margin-right: .8rem; white-space: nowrap; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .88em; }
td.name { min-width: 11rem; }
th, td { padding: .3rem .45rem; border-bottom: 1px solid var(--line); text-align: right;
  vertical-align: top; }
th { background: var(--wash); font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
tr.group th { text-align: left; background: #eef1f4; }
.scroll { overflow-x: auto; }
table.fit { table-layout: fixed; width: 100%; }
table.fit th, table.fit td { overflow-wrap: anywhere; hyphens: auto; }
table.fit .ci { white-space: normal; }
table.fit td.name { min-width: 0; }
table.ranking th:first-child { width: 2.2rem; }
table.ranking th:nth-child(2) { width: 12rem; }
table.scores th:first-child { width: 11rem; }
table.segments th:first-child { width: 11rem; }
.better { color: var(--good); font-weight: 600; }
.worse { color: var(--bad); font-weight: 600; }
.same { color: var(--muted); }
.winner { font-weight: 700; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .9em; }
dl { margin: 0; }
dt { font-weight: 600; margin-top: .6rem; }
dd { margin-left: 1.2rem; }
pre.traceback { font-size: .8em; white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; }
code { background: var(--wash); padding: 0 .25rem; border-radius: 3px; font-size: .92em; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85em; }
"""

PERCENT_UNITS = ("share",)
STATISTICS_GLOSSARY = (
    (
        "Replication",
        "One replay of the market with its own seed. Every strategy meets the same replications: the same "
        "consumers, visits, arrival order and taste shocks (common random numbers).",
    ),
    (
        "Mean [95% CI]",
        "The mean over replications and the t confidence interval of that mean, cut at the values the "
        "score can take: 0% and 100% for shares and the Gini, 0 for counts, prices and costs, 1 for the "
        "highest / lowest segment price, 100% for the margin. The true mean lies within those bounds, so "
        "the cut interval covers it just as often and never shows an impossible value.",
    ),
    (
        "Paired difference",
        "Strategy minus baseline, replication by replication, then averaged; its 95% interval comes from "
        "the spread of those differences. Common random numbers make it much tighter than comparing "
        "two separate intervals.",
    ),
    ("Better in", "The share of replications in which the strategy did strictly better than the baseline."),
    (
        "Verdict",
        "“better” or “worse” only when the paired 95% interval excludes zero; otherwise “no clear "
        "difference”. A winner is declared only when the best strategy is clearly better than every "
        "other one. Each comparison is at the 95% level; with many strategies, a few false alarms are "
        "expected.",
    ),
)


def render_report(results: Results, workers: int = 1) -> str:
    """The whole report as one HTML string (its figures drawn on up to `workers` processes)."""
    sections = [
        _header(results),
        _contents(results),
        _lesson(results.scenario),
        _ranking(results),
        _theory(results),
        _figures(results, plots.draw_all(results, workers)),
        personal_section(results),
        _all_scores(results),
        _scenario_table(results),
        _glossary(),
        _footer(results),
    ]
    body = "\n".join(part for part in sections if part)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(results.scenario.name)} – market-sim report</title><style>{STYLE}</style></head>"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


# the fragment's own style, scoped to it: a notebook page keeps its look
FRAGMENT_STYLE = """
.market-sim .ci, .market-sim .meta, .market-sim .note, .market-sim figcaption { color: #656d76; }
.market-sim .ci { font-size: .82em; white-space: nowrap; }
.market-sim .verdict { border-left: 4px solid #1f2328; background: #f6f8fa; padding: .5rem 1rem; }
.market-sim .verdict.clear { border-color: #1a7f37; }
.market-sim .warning { border-left: 4px solid #cf222e; background: #ffebe9; padding: .5rem 1rem; }
.market-sim .better { color: #1a7f37; font-weight: 600; }
.market-sim .worse { color: #cf222e; font-weight: 600; }
.market-sim .winner { font-weight: 700; }
.market-sim td, .market-sim th { text-align: right; vertical-align: top; }
.market-sim td.text, .market-sim th.text { text-align: left; }
.market-sim figure img { max-width: 100%; height: auto; }
"""


def render_fragment(results: Results, workers: int = 1) -> str:
    """The top of the report (verdict and ranking) and its figures as an HTML fragment, for a
    notebook (`market_sim.api.Results._repr_html_`)."""
    sections = [
        _header(results),
        _ranking(results),
        _theory(results),
        _figures(results, plots.draw_all(results, workers)),
    ]
    body = "\n".join(part for part in sections if part)
    return f"<div class='market-sim'><style>{FRAGMENT_STYLE}</style>\n{body}\n</div>"


# --- numbers ------------------------------------------------------------------------------


def number(value: float, unit: str = "") -> str:
    """A number for people: about four significant digits, percentages for shares, "–" for none."""
    if unit in PERCENT_UNITS and not pd.isna(value):
        return f"{value:.1%}"
    return metrics.readable(value)


def signed(value: float, unit: str = "") -> str:
    text = number(value, unit)
    return text if text == "–" or value <= 0 else f"+{text}"


def _interval(low: float, high: float, unit: str, sign: bool = False) -> str:
    """The interval in small print; nothing when it is undefined or has no width."""
    if pd.isna(low) or pd.isna(high) or high - low <= metrics.TOLERANCE * max(1.0, abs(high)):
        return ""
    show = signed if sign else number
    return f"<span class='ci'>[{show(low, unit)}, {show(high, unit)}]</span>"


def _mean_cell(row: pd.Series, score: str) -> str:
    unit = metrics.SCORE[score].unit
    interval = _interval(row[f"{score}_ci_low"], row[f"{score}_ci_high"], unit)
    return f"<td>{number(row[f'{score}_mean'], unit)}<br>{interval}</td>"


def _verdict_class(verdict: str) -> str:
    return {"better": "better", "worse": "worse"}.get(verdict, "same")


# --- sections -----------------------------------------------------------------------------


def _header(results: Results) -> str:
    scenario, manifest = results.scenario, results.manifest
    replications = int(results.summary["replications"].max()) if len(results.summary) else 0
    meta = " · ".join(
        [
            f"Focal seller <b>{escape(results.focal)}</b>",
            _count(len(results.strategies), "strategy", "strategies"),
            _count(scenario.days, "day", "days"),
            f"{_count(replications, 'replication', 'replications')} each (seed {scenario.seed})",
            f"{escape(scenario.market.choice)} choice",
            _count(len(scenario.sellers), "seller", "sellers"),
            _count(len(scenario.consumers.segments), "segment", "segments"),
        ]
    )
    parts = [f"<header><h1>{escape(scenario.name)}</h1><p class='meta'>{meta}</p></header>"]
    if manifest.get("partial"):
        parts.append(
            "<p class='warning'>This run was interrupted: only the finished replications are reported.</p>"
        )
    failures = manifest.get("failures") or []
    if failures:
        items = "".join(f"<li>{escape(str(f))}</li>" for f in failures)
        parts.append(
            f"<div class='warning'><b>Failed runs</b> (left out of every score)<ul>{items}</ul>"
            f"{_tracebacks(manifest)}</div>"
        )
    verdict = results.verdict
    clear = " clear" if verdict.leader and not verdict.tied and verdict.behind else ""
    parts.append(f"<p class='verdict{clear}'>{escape(verdict.text)}</p>")
    if scenario.description:
        parts.append(_markdown(scenario.description))
    return "\n".join(parts)


def _tracebacks(manifest: dict) -> str:
    """Where each failing strategy raised (file, line, its own code): the first run of each
    distinct traceback, with how many runs failed the same way."""
    seen: dict[str, list[str]] = {}
    for run, text in (manifest.get("tracebacks") or {}).items():
        seen.setdefault(text, []).append(run.replace("#", ", replication "))
    return "".join(
        f"<details open><summary>Traceback of {escape(runs[0])}"
        f"{_more(len(runs) - 1)}</summary>"
        f"<pre class='traceback'>{escape(text)}</pre></details>"
        for text, runs in seen.items()
    )


def _more(runs: int) -> str:
    return f" (and {_count(runs, 'more run', 'more runs')} alike)" if runs else ""


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _contents(results: Results) -> str:
    links = [("ranking", "Ranking"), ("theory", "Theory"), ("profit", "Profit")]
    links += [("difference", "Against the baseline"), ("prices", "Prices")]
    links += [("stock", "Stock"), ("segments", "Segments"), ("fairness", "Fairness")]
    links += [("distribution", "Prices paid"), ("scores", "All scores"), ("scenario", "Scenario")]
    links.append(("glossary", "Glossary"))
    if results.theory is None:
        links.remove(("theory", "Theory"))
    return "<nav>" + "".join(f"<a href='#{anchor}'>{label}</a>" for anchor, label in links) + "</nav>"


def _lesson(scenario: Scenario) -> str:
    if not scenario.lesson:
        return ""
    return f"<section class='lesson'><h3>What to notice</h3>{_markdown(scenario.lesson)}</section>"


def _markdown(text: str) -> str:
    """A little Markdown, safely: paragraphs, `- ` lists (items may wrap), `code` and **bold**,
    all escaped first."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and lines[0].startswith(("- ", "* ")):
            items: list[str] = []
            for line in lines:
                if line.startswith(("- ", "* ")):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line
            blocks.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
        else:
            blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "".join(blocks)


def _inline(text: str) -> str:
    text = escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)  # a lone * (p*) may sit inside


def _ranking(results: Results) -> str:
    head = "<h2 id='ranking'>Ranking</h2>"
    if results.summary.empty:
        return head + "<p>No strategy finished.</p>"
    extra = _ranking_scores(results)
    labels = "".join(f"<th>{escape(metrics.SCORE[s].label)}</th>" for s in extra)
    header = (
        "<tr><th>#</th><th class='text'>Strategy</th>"
        "<th>Profit<br><span class='ci'>mean [95% CI]</span></th>"
        "<th>vs baseline<br><span class='ci'>paired difference [95% CI]</span></th>"
        f"<th>Better in</th><th class='text'>Verdict</th>{labels}</tr>"
    )
    tied = {results.verdict.leader, *results.verdict.tied}
    rows = []
    rank = 0
    for _, row in results.ranked.iterrows():
        strategy = str(row["strategy"])
        if row["benchmark"] and rank == len(rows):  # the first benchmark: the group starts
            rows.append(
                f"<tr class='group'><th colspan='{6 + len(extra)}'>Benchmarks: they use hidden truth "
                "(no seller could run them), so they are ranked apart and never win; they show what a "
                "strategy leaves on the table</th></tr>"
            )
        if not row["benchmark"]:
            rank += 1
        name = f"<td class='text name{' winner' if strategy in tied else ''}'>{escape(strategy)}"
        cells = _mean_cell(row, "profit") + _baseline_cells(results, row)
        cells += "".join(
            f"<td>{number(row[f'{score}_mean'], metrics.SCORE[score].unit)}</td>" for score in extra
        )
        place = "–" if row["benchmark"] else str(rank)
        rows.append(f"<tr><td>{place}</td>{name}{_leader_mark(results, strategy)}</td>{cells}</tr>")
    note = (
        f"<p class='note'>Focal seller {escape(results.focal)}; baseline <b>{escape(results.baseline)}</b> "
        "(change it with <code>--baseline NAME</code>). Each replication pairs a strategy with the "
        "baseline on the same shoppers and shocks; the verdict says “better” or “worse” only when the "
        "paired 95% interval excludes zero. The other columns are means; their intervals are under "
        f"<a href='#scores'>All scores</a>. Consumer surplus: {_surplus_measure(results.scenario)}.</p>"
    )
    return f"{head}<div class='scroll'><table class='fit ranking'>{header}{''.join(rows)}</table></div>{note}"


def _surplus_measure(scenario: Scenario) -> str:
    """Which consumer surplus the report shows (metrics.py defines both)."""
    if scenario.market.choice == "logit":
        return "the logit surplus, each shopper's expected best utility in money (log-sum ÷ β)"
    return "the realised money surplus of every purchase (value − price − outside utility)"


def _ranking_scores(results: Results) -> list[str]:
    """The scores beside profit in the ranking: the ones this scenario makes interesting."""
    summary = results.summary
    scores = ["units", "avg_price_paid", "consumer_surplus"]
    if summary["avg_stock_mean"].notna().any():
        scores += ["fill_rate", "leftover_units"]
    if len(results.scenario.consumers.segments) > 1:
        scores += ["price_gap", "price_gini"]
    return scores + [s for s in ("regret", "profit_gain") if summary[f"{s}_mean"].notna().any()]


def _leader_mark(results: Results, strategy: str) -> str:
    verdict = results.verdict
    if strategy == verdict.leader:
        return " ★" if not verdict.tied else " <span class='ci'>(best mean)</span>"
    if strategy in verdict.tied:
        return " <span class='ci'>(not clearly behind)</span>"
    return ""


def _baseline_cells(results: Results, row: pd.Series) -> str:
    if row["strategy"] == results.baseline:
        return "<td>–</td><td>–</td><td class='text'><b>baseline</b></td>"
    comparison = results.against_baseline(str(row["strategy"]), "profit")
    share = (
        f"{round(comparison.better_share * comparison.replications)}/{comparison.replications}"
        if comparison.replications
        else "–"
    )
    verdict = comparison.verdict
    interval = _interval(comparison.ci_low, comparison.ci_high, "", sign=True)
    return (
        f"<td>{signed(comparison.mean)}<br>{interval}</td><td>{share}</td>"
        f"<td class='text {_verdict_class(verdict)}'>{escape(verdict)}</td>"
    )


def _theory(results: Results) -> str:
    theory = results.theory
    if theory is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(what)}</td><td class='text'>{escape(value)}</td></tr>"
        for what, value in theory.facts
    )
    parts = [
        f"<h2 id='theory'>Theory: {escape(theory.title)}</h2>",
        f"<p>{escape(theory.summary)} The black dotted lines in the figures are these closed forms.</p>",
        f"<table>{rows}</table>",
    ]
    check = _theory_check(results)
    if check:
        parts.append(check)
    return "\n".join(parts)


def _theory_check(results: Results) -> str:
    """Strategies that held one price all run: the textbook's expected profit at that price next
    to the simulated mean."""
    theory = results.theory
    if theory is None or theory.profit_at is None:
        return ""
    own = results.daily[results.daily["seller"] == results.focal]
    rows = []
    for strategy in results.strategies:
        prices = own.loc[own["strategy"] == strategy, "price"]
        summary = results.summary.set_index("strategy").loc[strategy]
        if prices.empty or np.ptp(prices.to_numpy()) > 0:
            continue
        price = float(prices.iloc[0])
        if not np.isclose(summary["avg_price_paid_mean"], price, rtol=1e-9):  # segment prices, coupons
            continue
        expected = theory.profit_at(price)
        agreement = report_theory.agrees(expected, summary["profit_ci_low"], summary["profit_ci_high"])
        inside = {None: "–", True: "yes", False: "no"}[agreement]
        cells = f"<td>{number(price)}</td><td>{number(expected)}</td>{_mean_cell(summary, 'profit')}"
        rows.append(f"<tr><td class='text'>{escape(strategy)}</td>{cells}<td>{inside}</td></tr>")
    if not rows:
        return ""
    head = (
        "<tr><th class='text'>Strategy</th><th>Price</th><th>Expected profit (theory)</th>"
        "<th>Simulated profit<br><span class='ci'>mean [95% CI]</span></th><th>Theory agrees</th></tr>"
    )
    return (
        f"<h3>Fixed prices: theory against simulation</h3><table>{head}{''.join(rows)}</table>"
        "<p class='note'>Theory agrees when the expected profit lies in the 95% interval of the simulated "
        f"mean, give or take {report_theory.AGREEMENT_TOLERANCE:.2%} of the expected profit (so an exact "
        "match with no spread agrees). About one in twenty 95% intervals misses the true mean by "
        "chance.</p>"
    )


def _figure(anchor: str, title: str, uri: str | None, alt: str, caption: str, missing: str = "") -> str:
    if uri is None:
        return f"<h2 id='{anchor}'>{title}</h2><p class='note'>{missing}</p>" if missing else ""
    return (
        f"<h2 id='{anchor}'>{title}</h2><figure><img alt='{escape(alt)}' src='{uri}'>"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _figures(results: Results, uris: dict[str, str | None]) -> str:
    focal = escape(results.focal)
    theory = " Black dotted lines: theory." if results.theory else ""
    one_segment = len(results.scenario.consumers.segments) < 2
    events = " Shaded: event days." if results.scenario.market.events else ""
    fairness = (
        "One segment: there are no gaps between segments, so only the Gini of prices paid and the "
        "purchases above the usual price are drawn (mean and 95% interval per strategy)."
        if one_segment
        else "Gaps are max − min across segments (theory.md §6); smaller is fairer. Mean and 95% interval "
        "per strategy."
    )
    parts = [
        _figure(
            "profit",
            "Cumulative profit",
            uris["cumulative_profit"],
            f"cumulative profit of {results.focal} per strategy",
            f"Mean cumulative profit of {focal} per strategy; the band is the 95% confidence interval of the "
            f"mean.{theory}{events}",
        ),
        _figure(
            "difference",
            "Against the baseline",
            uris["profit_difference"],
            f"cumulative profit of each strategy minus the baseline, {results.baseline}",
            f"Each strategy's cumulative profit minus the baseline's ({escape(results.baseline)}), "
            "replication by replication: the mean and the 95% band of that paired difference. Where the "
            f"band leaves zero the strategy is clearly ahead or behind by that day.{events}",
        ),
        _figure(
            "prices",
            "Prices",
            uris["price_paths"],
            "price paths per strategy against the rivals' prices",
            f"One panel per strategy: {focal}'s posted base price (mean over replications, 10–90% "
            "band); where buyers paid something else (segment prices, coupons), the average price paid, "
            "per segment when there are several (dashed, with markers); the rivals' mean posted prices "
            f"(dark dashes, one colour each).{theory}{events}",
        ),
        _figure(
            "response",
            "Demand and profit against price",
            uris["price_response"],
            "units and profit against the average price paid, with the textbook curves",
            "Each point is a strategy at its average price paid (mean, 95% interval); the dotted curves "
            "are what theory expects from holding that price all run. A strategy whose price moves need "
            "not lie on them.",
        ),
        _figure(
            "stock",
            "Stock on hand",
            uris["stock"],
            "stock on hand per strategy with stock-outs and deliveries",
            "Units on hand each evening (mean, 10–90% band); red bars: the share of replications sold "
            "out that day (right axis); green triangles: days a delivery arrived (darker: in more "
            "replications).",
            missing=f"{focal}'s stock is unlimited in this scenario: no stock-outs, no deliveries.",
        ),
        _segments(results, uris["segments"]),
        _figure(
            "fairness",
            "Fairness",
            uris["fairness"],
            "fairness gaps and Gini of prices paid per strategy",
            fairness,
            missing="Every fairness score is zero under every strategy."
            + (" One segment: there are no gaps between segments." if one_segment else ""),
        ),
        _figure(
            "distribution",
            "Prices paid",
            uris["price_distribution"],
            "distribution of prices paid per strategy",
            f"The share of {focal}'s units sold at each price, all replications together.",
        ),
    ]
    return "\n".join(part for part in parts if part)


def _segments(results: Results, uri: str | None) -> str:
    """What each segment bought and paid: a figure when there are several, and the table."""
    caption = (
        f"What each segment bought from {escape(results.focal)} per replication and the average price it "
        "paid (mean, 95% interval). Observable segments can be priced apart; hidden ones pay the base price."
    )
    alt = "units and average price paid per consumer segment"
    figure = (
        ""
        if uri is None
        else f"<figure><img alt='{alt}' src='{uri}'><figcaption>{caption}</figcaption></figure>"
    )
    return f"<h2 id='segments'>Segments</h2>{figure}{_segments_table(results)}"


def _segments_table(results: Results) -> str:
    table = results.segment_summary
    if table.empty:
        return ""
    head = "".join(f"<th>{escape(score.label)}</th>" for score in metrics.SEGMENT_SCORES)
    rows = []
    for strategy in results.strategies:
        for _, row in table[table["strategy"] == strategy].iterrows():
            cells = "".join(_segment_cell(row, score) for score in metrics.SEGMENT_SCORES)
            segment = escape(str(row["segment"]))
            rows.append(f"<tr><td>{escape(strategy)}</td><td class='text'>{segment}</td>{cells}</tr>")
    head = f"<tr><th class='text'>Strategy</th><th class='text'>Segment</th>{head}</tr>"
    return (
        "<p class='note'>Per segment: mean per replication [95% CI].</p>"
        f"<div class='scroll'><table class='fit segments'>{head}{''.join(rows)}</table></div>"
    )


def _segment_cell(row: pd.Series, score: metrics.Score) -> str:
    name = score.name
    interval = _interval(row[f"{name}_ci_low"], row[f"{name}_ci_high"], score.unit)
    return f"<td>{number(row[f'{name}_mean'], score.unit)}<br>{interval}</td>"


def _all_scores(results: Results) -> str:
    if results.summary.empty:
        return ""
    ranked = results.ranked
    order = [str(s) for s in ranked["strategy"]]
    head = "".join(f"<th>{escape(s)}{' (baseline)' if s == results.baseline else ''}</th>" for s in order)
    rows, constant = [], []
    for group in metrics.GROUPS:
        shown = []
        for score in (s for s in metrics.SCORES if s.group == group):
            values = ranked[[f"{score.name}_mean", f"{score.name}_sd"]].to_numpy(dtype=float)
            if np.isnan(values[:, 0]).all():
                continue
            if np.ptp(values[:, 0]) == 0 and not np.nan_to_num(values[:, 1]).any():
                constant.append(f"{score.label} {number(values[0, 0], score.unit)}")
            else:
                shown.append(score)
        if not shown:
            continue
        rows.append(f"<tr class='group'><th colspan='{len(order) + 1}'>{escape(group)}</th></tr>")
        for score in shown:
            cells = "".join(_score_cell(results, row, score) for _, row in ranked.iterrows())
            rows.append(f"<tr><td class='text'>{escape(score.label)}</td>{cells}</tr>")
    same = (
        f"<p class='note'>The same in every replication of every strategy: {escape('; '.join(constant))}.</p>"
    )
    intro = (
        "<p class='note'>Mean over replications with its 95% interval. A coloured mark compares with the "
        "baseline on the same replications: <span class='better'>▲ better</span>, <span class='worse'>▼ "
        "worse</span> (or ↑/↓ where neither direction is better in itself) when the paired interval "
        "excludes zero; nothing when there is no clear difference. Definitions in the "
        "<a href='#glossary'>glossary</a>.</p>"
    )
    table = f"<table class='fit scores'><tr><th class='text'>Score</th>{head}</tr>{''.join(rows)}</table>"
    return (
        f"<h2 id='scores'>All scores</h2>{intro}<div class='scroll'>{table}</div>{same if constant else ''}"
    )


def _score_cell(results: Results, row: pd.Series, score: metrics.Score) -> str:
    name, unit = score.name, score.unit
    mark = ""
    if row["strategy"] != results.baseline:
        verdict = results.against_baseline(str(row["strategy"]), name).verdict
        symbol = {"better": "▲", "worse": "▼", "higher": "↑", "lower": "↓"}.get(verdict)
        if symbol:
            mark = f" <span class='{_verdict_class(verdict)}' title='{escape(verdict)}'>{symbol}</span>"
    interval = _interval(row[f"{name}_ci_low"], row[f"{name}_ci_high"], unit)
    return f"<td>{number(row[f'{name}_mean'], unit)}{mark}<br>{interval}</td>"


def _scenario_table(results: Results) -> str:
    scenario = results.scenario
    market = scenario.market
    rows = [
        ("Days", f"{scenario.days}" + (f", from {scenario.start_date}" if scenario.start_date else "")),
        (
            "Replications, seed",
            f"{results.manifest.get('replications', scenario.replications)}, {scenario.seed}",
        ),
        ("Choice", f"{market.choice}, outside utility {market.outside_utility:g}"),
        ("Weekly traffic (Mon–Sun)", ", ".join(f"{x:g}" for x in market.weekly_traffic)),
        ("Consumers", f"{scenario.consumers.population:,}"),
    ]
    rows += [(f"Segment {s.name}", _segment_text(s)) for s in scenario.consumers.segments]
    rows += [(f"Event {e.name}", _event_text(e)) for e in market.events]
    rows += [(f"Seller {s.name}", _seller_text(s)) for s in scenario.sellers]
    rails = scenario.guardrails
    if rails != type(rails)():
        rows.append(
            (
                "Guardrails",
                ", ".join(f"{k} {v}" for k, v in vars(rails).items() if v not in (None, 0.0, np.inf)),
            )
        )
    rows += [("Strategy", spec.name) for spec in scenario.strategies]
    body = "".join(
        f"<tr><td>{escape(what)}</td><td class='text'>{escape(value)}</td></tr>" for what, value in rows
    )
    return (
        "<h2 id='scenario'>Scenario</h2><p class='note'>As resolved from the file (defaults filled in); the "
        f"full text is in <code>scenario.yaml</code> beside this report.</p><table>{body}</table>"
    )


def _distribution_text(distribution) -> str:
    data = distribution.to_yaml()
    if not isinstance(data, dict):
        return f"{data:g}"
    kind = data.pop("dist")
    return kind + " " + ", ".join(f"{k} {v:g}" for k, v in data.items())


def _segment_text(segment: Segment) -> str:
    parts = [
        f"share {segment.share:g}",
        "observable" if segment.observable else "hidden",
        f"visit rate {segment.visit_rate:g} a day",
        f"wtp {_distribution_text(segment.wtp)}",
        f"price sensitivity {_distribution_text(segment.price_sensitivity)}",
    ]
    if segment.loyalty is not None:
        parts.append(f"loyalty {_distribution_text(segment.loyalty)}")
    return "; ".join(parts)


def _event_text(event: Event) -> str:
    when = f"{event.date}" if event.date else f"day {event.first_day}"
    return f"{when}, {event.days} day(s), traffic × {event.traffic:g}, wtp × {event.wtp:g}"


def _seller_text(seller: Seller) -> str:
    stock = seller.inventory
    inventory = "unlimited stock" if stock.unlimited else f"stock {stock.initial:,.0f}"
    if stock.reorder_point is not None:
        inventory += f", orders {stock.order_quantity} at {stock.reorder_point} (lead time {stock.lead_time})"
    if seller.focal:
        pricing = "focal: the strategies take this seat"
    elif seller.strategy is None:
        pricing = "default pricing"
    else:
        params = ", ".join(f"{k}={v}" for k, v in seller.strategy.params.items())
        pricing = f"prices by {seller.strategy.kind}" + (f" ({params})" if params else "")
    return f"unit cost {seller.unit_cost:g}, quality {seller.quality:g}, {inventory}; {pricing}"


def _glossary() -> str:
    items = []
    for group in metrics.GROUPS:
        items.append(f"<h3>{escape(group)}</h3><dl>")
        for score in (s for s in metrics.SCORES if s.group == group):
            items.append(_term(score))
        items.append("</dl>")
    items.append("<h3>Per segment</h3><dl>")
    items += [_term(score) for score in metrics.SEGMENT_SCORES]
    items.append("</dl><h3>Statistics</h3><dl>")
    items += [f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>" for term, text in STATISTICS_GLOSSARY]
    items.append("</dl>")
    return "<h2 id='glossary'>Glossary</h2>" + "".join(items)


def _term(score: metrics.Score) -> str:
    better = f" <span class='ci'>({score.better} is better)</span>" if score.better else ""
    term = f"{escape(score.label)} <code>{escape(score.name)}</code>{better}"
    return f"<dt>{term}</dt><dd>{escape(score.definition)}</dd>"


def _footer(results: Results) -> str:
    manifest = results.manifest
    versions = ", ".join(f"{k} {v}" for k, v in (manifest.get("versions") or {}).items())
    created = escape(str(manifest.get("created", "")))
    return (
        "<footer>Made by market-sim. Data beside this file: <code>summary.csv</code> (per strategy), "
        "<code>scores.csv</code> (per strategy and replication), <code>comparisons.csv</code> (paired "
        "differences, every pair of strategies), <code>daily.csv</code>, <code>segments.csv</code>, "
        f"<code>scenario.yaml</code>, <code>manifest.json</code>. Created {created}; "
        f"{escape(versions)}.</footer>"
    )
