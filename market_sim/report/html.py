"""Assemble the report page: one self-contained HTML file (images embedded, no scripts, no
links out) that opens offline. Python computes the values of each section; the templates in
templates/run_*.html lay them out, escaping every piece of text (Jinja2 autoescaping)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from markupsafe import Markup

from market_sim import metrics
from market_sim.report import collusion
from market_sim.report import theory as report_theory
from market_sim.report.data import Results
from market_sim.report.painters import Painters, draw_all
from market_sim.report.personal import personal_section
from market_sim.report.template import macro, render
from market_sim.scenario import Event, Scenario, Segment, Seller

SECTIONS = "run_sections.html"  # one macro per section

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


def render_report(
    results: Results, workers: int | Painters = 1, experiment: Markup | str = "", report_data: bool = False
) -> str:
    """The whole report as one HTML string (its figures drawn on up to `workers` processes, or
    on `Painters` already started);
    `experiment`: the A/B-test section (report/experiment.py) when the run made one;
    `report_data`: whether report_data.npz is beside the report (the footer names it)."""
    if isinstance(workers, Painters):
        workers.begin(results)  # the figures are drawn while the other sections are made
    above = [_header(results), _contents(results), _lesson(results.scenario), _ranking(results)]
    above.append(_theory(results))
    below = [  # a section module adds its fragment (Markup) here
        personal_section(results),
        collusion.section(results),
        experiment,
        _all_scores(results),
        _scenario_table(results),
        _glossary(),
        _footer(results, report_data),
    ]
    items = _figure_items(results)
    sections = [*above, _figures(items, draw_all(results, workers)), *below]
    return render("run_report.html", name=results.scenario.name, sections=sections)


def load_templates() -> None:
    """Compile the report's templates now (Jinja2 takes a tenth of a second or two), so that
    writing the report after the runs does not wait for it."""
    from market_sim.report.template import environment

    environment().get_template("run_report.html")
    environment().get_template(SECTIONS).module  # noqa: B018  (its macros: made once, kept by Jinja2)


def render_fragment(results: Results, workers: int = 1) -> str:
    """The top of the report (verdict and ranking) and its figures as an HTML fragment, for a
    notebook (`market_sim.api.Results._repr_html_`)."""
    sections = [
        _header(results),
        _ranking(results),
        _theory(results),
    ]
    sections.append(_figures(_figure_items(results), draw_all(results, workers)))
    return render("run_fragment.html", sections=sections)


def _section(name: str, *args, **values) -> Markup:
    """One section's HTML: the macro `name` of run_sections.html filled with plain values."""
    return macro(SECTIONS, name)(*args, **values)


# --- numbers ------------------------------------------------------------------------------


def number(value: float, unit: str = "") -> str:
    """A number for people: about four significant digits, percentages for shares, "–" for none."""
    if unit in PERCENT_UNITS and not pd.isna(value):
        return f"{value:.1%}"
    return metrics.readable(value)


def signed(value: float, unit: str = "") -> str:
    text = number(value, unit)
    return text if text == "–" or value <= 0 else f"+{text}"


def _interval(low: float, high: float, unit: str, sign: bool = False) -> tuple[str, str] | None:
    """The interval's two ends, shown in small print; None when it is undefined or has no width."""
    if pd.isna(low) or pd.isna(high) or high - low <= metrics.TOLERANCE * max(1.0, abs(high)):
        return None
    show = signed if sign else number
    return show(low, unit), show(high, unit)


def _mean(row: dict | pd.Series, score: str, unit: str) -> dict:
    """A mean and its interval, as a table cell shows them."""
    return {
        "value": number(row[f"{score}_mean"], unit),
        "ci": _interval(row[f"{score}_ci_low"], row[f"{score}_ci_high"], unit),
    }


def _verdict_class(verdict: str) -> str:
    return {"better": "better", "worse": "worse"}.get(verdict, "same")


# --- sections -----------------------------------------------------------------------------


def _header(results: Results) -> Markup:
    scenario, manifest = results.scenario, results.manifest
    replications = int(results.summary["replications"].max()) if len(results.summary) else 0
    verdict = results.verdict
    return _section(
        "header",
        {
            "name": scenario.name,
            "focal": results.focal,
            "meta": [
                _count(len(results.strategies), "strategy", "strategies"),
                _count(scenario.days, "day", "days"),
                f"{_count(replications, 'replication', 'replications')} each (seed {scenario.seed})",
                f"{scenario.market.choice} choice",
                _count(len(scenario.sellers), "seller", "sellers"),
                _count(len(scenario.consumers.segments), "segment", "segments"),
            ],
            "partial": bool(manifest.get("partial")),
            "failures": [str(f) for f in manifest.get("failures") or []],
            "tracebacks": _tracebacks(manifest),
            "clear_winner": bool(verdict.leader and not verdict.tied and verdict.behind),
            "verdict": verdict.text,
            "description": _markdown(scenario.description or ""),
        },
    )


def _tracebacks(manifest: dict) -> list[dict]:
    """Where each failing strategy raised (file, line, its own code): the first run of each
    distinct traceback, with how many runs failed the same way."""
    seen: dict[str, list[str]] = {}
    for run, text in (manifest.get("tracebacks") or {}).items():
        seen.setdefault(text, []).append(run.replace("#", ", replication "))
    return [{"run": runs[0], "more": _more(len(runs) - 1), "text": text} for text, runs in seen.items()]


def _more(runs: int) -> str:
    return f" (and {_count(runs, 'more run', 'more runs')} alike)" if runs else ""


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _contents(results: Results) -> Markup:
    links = [("ranking", "Ranking"), ("theory", "Theory"), ("profit", "Profit")]
    links += [("difference", "Against the baseline"), ("prices", "Prices")]
    links += [("stock", "Stock"), ("segments", "Segments"), ("fairness", "Fairness")]
    links += [("distribution", "Prices paid"), ("scores", "All scores"), ("scenario", "Scenario")]
    links.append(("glossary", "Glossary"))
    if results.theory is None:
        links.remove(("theory", "Theory"))
    return _section("contents", links)


def _lesson(scenario: Scenario) -> Markup | str:
    if not scenario.lesson:
        return ""
    return _section("lesson", _markdown(scenario.lesson))


def _markdown(text: str) -> list[tuple[str, str | list[str]]]:
    """A little Markdown: paragraphs and `- ` lists (items may wrap), as ("paragraph", text) and
    ("list", items) blocks; the template escapes them and marks up `code` and **bold**."""
    blocks: list[tuple[str, str | list[str]]] = []
    if not text.strip():
        return blocks
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and lines[0].startswith(("- ", "* ")):
            items: list[str] = []
            for line in lines:
                if line.startswith(("- ", "* ")):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line
            blocks.append(("list", items))
        else:
            blocks.append(("paragraph", " ".join(lines)))
    return blocks


def _ranking(results: Results) -> Markup:
    if results.summary.empty:
        return _section("ranking", {"rows": []})
    extra = _ranking_scores(results)
    tied = {results.verdict.leader, *results.verdict.tied}
    rows = []
    rank = 0
    for row in _records(results.ranked):
        strategy = str(row["strategy"])
        benchmarks_start = bool(row["benchmark"]) and rank == len(rows)  # the first benchmark
        if not row["benchmark"]:
            rank += 1
        rows.append(
            {
                "benchmarks_start": benchmarks_start,
                "place": "–" if row["benchmark"] else str(rank),
                "strategy": strategy,
                "winner": strategy in tied,
                "mark": _leader_mark(results, strategy),
                "profit": _mean(row, "profit", metrics.SCORE["profit"].unit),
                **_against_baseline(results, strategy),
                "extra": [number(row[f"{score}_mean"], metrics.SCORE[score].unit) for score in extra],
            }
        )
    return _section(
        "ranking",
        {
            "rows": rows,
            "labels": [metrics.SCORE[s].label for s in extra],
            "focal": results.focal,
            "baseline": results.baseline,
            "surplus": _surplus_measure(results.scenario),
        },
    )


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
    """ "leader" (★), "best" (best mean, others not clearly behind), "tied" or ""."""
    verdict = results.verdict
    if strategy == verdict.leader:
        return "leader" if not verdict.tied else "best"
    return "tied" if strategy in verdict.tied else ""


def _against_baseline(results: Results, strategy: str) -> dict:
    """The profit comparison with the baseline: paired difference, share of wins, verdict."""
    if strategy == results.baseline:
        return {"baseline": True}
    comparison = results.against_baseline(strategy, "profit")
    share = (
        f"{round(comparison.better_share * comparison.replications)}/{comparison.replications}"
        if comparison.replications
        else "–"
    )
    return {
        "baseline": False,
        "difference": {
            "value": signed(comparison.mean),
            "ci": _interval(comparison.ci_low, comparison.ci_high, "", sign=True),
        },
        "share": share,
        "verdict": comparison.verdict,
        "tone": _verdict_class(comparison.verdict),
    }


def _theory(results: Results) -> Markup | str:
    theory = results.theory
    if theory is None:
        return ""
    return _section(
        "theory",
        {
            "title": theory.title,
            "summary": theory.summary,
            "facts": theory.facts,
            "check": _theory_check(results),
            "tolerance": f"{report_theory.AGREEMENT_TOLERANCE:.2%}",
        },
    )


def _theory_check(results: Results) -> list[dict]:
    """Strategies that held one price all run: the textbook's expected profit at that price next
    to the simulated mean."""
    theory = results.theory
    if theory is None or theory.profit_at is None:
        return []
    rows = []
    for strategy in results.strategies:
        days = results.figures.strategies.get(strategy)
        price = None if days is None else days.one_price
        summary = results.summary.set_index("strategy").loc[strategy]
        if price is None:
            continue
        if not np.isclose(summary["avg_price_paid_mean"], price, rtol=1e-9):  # segment prices, coupons
            continue
        expected = theory.profit_at(price)
        agreement = report_theory.agrees(expected, summary["profit_ci_low"], summary["profit_ci_high"])
        rows.append(
            {
                "strategy": strategy,
                "price": number(price),
                "expected": number(expected),
                "simulated": _mean(summary, "profit", ""),
                "inside": {None: "–", True: "yes", False: "no"}[agreement],
            }
        )
    return rows


def _figure(anchor: str, title: str, uri: str, alt: str, caption: str, missing: str = "") -> dict:
    """A figure's section; `uri`: the figure's name (painters.FIGURES) until `_figures` puts its
    PNG data URI (or None) there."""
    return {"anchor": anchor, "title": title, "uri": uri, "alt": alt, "caption": caption, "missing": missing}


def _figures(items: list[dict], uris: dict[str, str | None]) -> Markup:
    """The figures' sections (`_figure_items`) with their PNGs."""
    return _section("figures", [{**item, "uri": uris[item["uri"]]} for item in items])


def _figure_items(results: Results) -> list[dict]:
    """The figures' sections, made while the figures are drawn (`_figures` adds them)."""
    focal = results.focal
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
    figures = [
        _figure(
            "profit",
            "Cumulative profit",
            "cumulative_profit",
            f"cumulative profit of {focal} per strategy",
            f"Mean cumulative profit of {focal} per strategy; the band is the 95% confidence interval of the "
            f"mean.{theory}{events}",
        ),
        _figure(
            "difference",
            "Against the baseline",
            "profit_difference",
            f"cumulative profit of each strategy minus the baseline, {results.baseline}",
            f"Each strategy's cumulative profit minus the baseline's ({results.baseline}), "
            "replication by replication: the mean and the 95% band of that paired difference. Where the "
            f"band leaves zero the strategy is clearly ahead or behind by that day.{events}",
        ),
        _figure(
            "prices",
            "Prices",
            "price_paths",
            "price paths per strategy against the rivals' prices",
            f"One panel per strategy: {focal}'s posted base price (mean over replications, 10–90% "
            "band); where buyers paid something else (segment prices, coupons), the average price paid, "
            "per segment when there are several (dashed, with markers); the rivals' mean posted prices "
            f"(dark dashes, one colour each).{theory}{events}",
        ),
        _figure(
            "response",
            "Demand and profit against price",
            "price_response",
            "units and profit against the average price paid, with the textbook curves",
            "Each point is a strategy at its average price paid (mean, 95% interval); the dotted curves "
            "are what theory expects from holding that price all run. A strategy whose price moves need "
            "not lie on them.",
        ),
        _figure(
            "stock",
            "Stock on hand",
            "stock",
            "stock on hand per strategy with stock-outs and deliveries",
            "Units on hand each evening (mean, 10–90% band); red bars rising from the bottom: the share "
            "of replications sold out that day (a bar the panel's full height: every replication); green "
            "triangles: days a delivery arrived (darker: in more replications).",
            missing=f"{focal}'s stock is unlimited in this scenario: no stock-outs, no deliveries.",
        ),
        _segments(results, "segments"),
        _figure(
            "fairness",
            "Fairness",
            "fairness",
            "fairness gaps and Gini of prices paid per strategy",
            fairness,
            missing="Every fairness score is zero under every strategy."
            + (" One segment: there are no gaps between segments." if one_segment else ""),
        ),
        _figure(
            "distribution",
            "Prices paid",
            "price_distribution",
            "distribution of prices paid per strategy",
            f"The share of {focal}'s units sold at each price, all replications together.",
        ),
    ]
    return figures


def _segments(results: Results, uri: str) -> dict:
    """What each segment bought and paid: a figure when there are several, and the table."""
    caption = (
        f"What each segment bought from {results.focal} per replication and the average price it "
        "paid (mean, 95% interval). Observable segments can be priced apart; hidden ones pay the base price."
    )
    alt = "units and average price paid per consumer segment"
    table = _records(results.segment_summary)
    rows = [
        {
            "strategy": strategy,
            "segment": str(row["segment"]),
            "cells": [_mean(row, score.name, score.unit) for score in metrics.SEGMENT_SCORES],
        }
        for strategy in results.strategies
        for row in table
        if row["strategy"] == strategy
    ]
    labels = [score.label for score in metrics.SEGMENT_SCORES]
    return {**_figure("segments", "Segments", uri, alt, caption), "rows": rows, "labels": labels}


def _all_scores(results: Results) -> Markup | str:
    if results.summary.empty:
        return ""
    rows = _records(results.ranked)
    order = [str(row["strategy"]) for row in rows]
    groups, constant = [], []
    for group in metrics.GROUPS:
        shown = []
        for score in (s for s in metrics.SCORES if s.group == group):
            means = [f"{score.name}_mean", f"{score.name}_sd"]
            values = np.array([[row[name] for name in means] for row in rows], dtype=float)
            if np.isnan(values[:, 0]).all():
                continue
            if np.ptp(values[:, 0]) == 0 and not np.nan_to_num(values[:, 1]).any():
                constant.append(f"{score.label} {number(values[0, 0], score.unit)}")
            else:
                shown.append(score)
        if shown:
            scores = [
                {"label": score.label, "cells": [_score_cell(results, row, score) for row in rows]}
                for score in shown
            ]
            groups.append({"name": group, "scores": scores})
    return _section(
        "all_scores",
        {
            "strategies": [(s, s == results.baseline) for s in order],
            "groups": groups,
            "constant": "; ".join(constant),
        },
    )


def _records(table: pd.DataFrame) -> list[dict]:
    """The rows of a table, each as a dict of the very values `iterrows` gives (a row of its
    `.values`), without a Series per row."""
    columns = list(table.columns)
    return [dict(zip(columns, row, strict=True)) for row in table.values]


def _score_cell(results: Results, row: dict, score: metrics.Score) -> dict:
    """A mean with its interval and, against the baseline, a mark when the difference is clear."""
    cell = _mean(row, score.name, score.unit)
    cell["mark"] = None
    if row["strategy"] != results.baseline:
        verdict = results.against_baseline(str(row["strategy"]), score.name).verdict
        symbol = {"better": "▲", "worse": "▼", "higher": "↑", "lower": "↓"}.get(verdict)
        if symbol:
            cell["mark"] = {"tone": _verdict_class(verdict), "verdict": verdict, "symbol": symbol}
    return cell


def _scenario_table(results: Results) -> Markup:
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
    return _section("scenario", rows)


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


def _glossary() -> Markup:
    groups = [
        (group, [_term(score) for score in metrics.SCORES if score.group == group])
        for group in metrics.GROUPS
    ]
    return _section(
        "glossary",
        {
            "groups": groups,
            "segment_scores": [_term(score) for score in metrics.SEGMENT_SCORES],
            "statistics": STATISTICS_GLOSSARY,
        },
    )


def _term(score: metrics.Score) -> dict:
    return {"label": score.label, "name": score.name, "better": score.better, "definition": score.definition}


def _footer(results: Results, report_data: bool = False) -> Markup:
    manifest = results.manifest
    versions = ", ".join(f"{k} {v}" for k, v in (manifest.get("versions") or {}).items())
    return _section("footer", str(manifest.get("created", "")), versions, report_data)
