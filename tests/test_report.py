"""The report: closed forms against theory.md, the lessons, and a real run folder rendered to one
self-contained page whose numbers are the CSVs' (checked in headless Chromium too)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim import metrics, theory
from market_sim.cli import main
from market_sim.loader import load_scenario
from market_sim.report import read_table
from market_sim.report.theory import closed_forms

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "scenarios" / "lessons").glob("*.yaml"))

MARKET = """
name: "Report <test> & co"
description: |
  A **small** market with `code` and <b>tags</b>.
lesson: |
  - notice <this>
days: 8
replications: 4
seed: 3
start_date: 2026-11-01
market:
  choice: logit
  events: [{name: promo, date: 2026-11-03, traffic: 2}]
consumers:
  population: 400
  segments:
    - {name: "a<b>", share: 0.5, visit_rate: 0.4, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.5}
    - {name: b, share: 0.5, observable: true, visit_rate: 0.3, wtp: 30, price_sensitivity: 0.3, loyalty: 2}
sellers:
  - {name: us, focal: true, unit_cost: 8, inventory: {initial: 150, reorder_point: 40, order_quantity: 60, lead_time: 2}}
  - {name: them, unit_cost: 9, strategy: {kind: fixed, price: 20}}
strategies:
  - {kind: fixed, price: 25, name: "<img src=x onerror=alert(1)>"}
  - {kind: fixed, price: 25, name: "the same 25"}
  - {kind: cost_plus, markup: 0.5}
  - {kind: competitor_response, undercut: 0.05}
"""

# Q = 100 − 2p a day, p* = 30: prices 25 and 35 earn the same in expectation (theory.md §1)
TWINS = """
name: twins
days: 10
replications: 8
seed: 2
market: {choice: max_surplus}
consumers:
  population: 1000
  segments: [{name: all, share: 1, visit_rate: 0.1, wtp: {dist: uniform, low: 0, high: 50}}]
sellers: [{name: shop, focal: true, unit_cost: 10}]
strategies:
  - {kind: fixed, price: 25}
  - {kind: fixed, price: 35}
"""


def run(folder: Path, text: str, *options: str) -> Path:
    source = folder / "scenario-source.yaml"
    source.write_text(text)
    out = folder / "out"
    assert main(["run", str(source), "--out", str(out), "--quiet", *options]) == 0
    return out


@pytest.fixture(scope="module")
def market_run(tmp_path_factory) -> Path:
    return run(tmp_path_factory.mktemp("market"), MARKET, "--workers", "1")


def page(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def without_images(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


# --- closed forms (theory.md) --------------------------------------------------------------


def test_logit_closed_forms_match_theory_md():
    a, c = np.array([2.0, 2.0]), np.array([1.0, 1.0])
    nash, joint = theory.logit_nash(a, c, 0, 0.25), theory.logit_joint(a, c, 0, 0.25)
    assert nash == pytest.approx([1.472927] * 2, abs=1e-6)
    assert joint == pytest.approx([1.924981] * 2, abs=1e-6)
    assert theory.logit_shares(nash, a, 0, 0.25) == pytest.approx([0.471377] * 2, abs=1e-6)
    assert theory.logit_shares(joint, a, 0, 0.25) == pytest.approx([0.364862] * 2, abs=1e-6)
    assert theory.logit_best_response(0, joint, a, c, 0, 0.25) == pytest.approx(1.661695, abs=1e-6)
    one, three = np.array([2.0]), np.array([2.0] * 3)
    assert theory.logit_nash(one, one / 2, 0, 0.25) == pytest.approx([1.801985], abs=1e-6)
    assert theory.logit_joint(one, one / 2, 0, 0.25) == pytest.approx([1.801985], abs=1e-6)
    assert theory.logit_nash(three, three / 2, 0, 0.25) == pytest.approx([1.370163] * 3, abs=1e-6)
    assert theory.logit_joint(three, three / 2, 0, 0.25) == pytest.approx([2.0] * 3, abs=1e-6)


def test_linear_and_discrimination_closed_forms_match_theory_md():
    assert theory.linear_optimum(100, 2, 10) == 30 and theory.linear_optimum(100, 2, 0) == 25
    # Q₁ = 110 − p, Q₂ = 100 − 2p as V (1 − p/W): both served at the uniform optimum 40
    assert theory.best_uniform_price(np.array([110.0, 100.0]), np.array([110.0, 50.0]), 10) == 40
    # Q₁ = 100 − p, Q₂ = 80 − 2p: the uniform seller drops segment 2 and charges 55
    assert theory.best_uniform_price(np.array([100.0, 80.0]), np.array([100.0, 40.0]), 10) == 55


def test_finite_inventory_closed_forms_match_theory_md():
    assert theory.gvr_optimal_revenue(2, 1, 20, 50) == pytest.approx(30.495662, abs=1e-6)
    assert theory.gvr_fluid(2, 1, 20, 50) == pytest.approx((math.log(5), 32.188758), abs=1e-6)
    assert theory.fixed_price_revenue(math.log(5), 2, 1, 20, 50) == pytest.approx(29.329260, abs=1e-6)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_has_notes_and_a_theory_overlay(path):
    scenario = load_scenario(path)
    assert scenario.lesson.strip() and scenario.description.strip()
    overlay = closed_forms(scenario)
    assert overlay is not None and overlay.prices and overlay.facts
    assert all(len(line.values) == scenario.days for line in overlay.prices + overlay.profits)


def lesson(stem: str):
    return load_scenario(next(p for p in LESSONS if p.stem.startswith(stem)))


def test_lesson_overlays_carry_the_textbook_numbers():
    demand = closed_forms(lesson("01"))
    assert demand.prices[0].values == pytest.approx([30.0] * 60)
    assert demand.profit_at(30) == pytest.approx(800 * 60) and demand.profit_at(35) == pytest.approx(750 * 60)

    war = closed_forms(lesson("03"))
    assert (war.nash_profit, war.joint_profit) == pytest.approx((0.222927, 0.337490), abs=1e-6)

    one_day = closed_forms(dataclasses.replace(lesson("04"), days=1))
    facts = dict(one_day.facts)
    assert facts["Expected profit over 1 days"] == "segment prices 3,300; uniform 2,700"
    assert facts["Expected consumer surplus"] == "segment prices 1,650; uniform 2,550"
    assert facts["Expected welfare (profit + surplus)"] == "segment prices 4,950; uniform 5,250"
    assert facts["Gini of prices paid (segment prices)"] == "0.158730"
    assert facts["Highest / lowest price (segment prices)"] == "2.000000"

    holiday = closed_forms(lesson("05")).prices[0].values
    assert holiday[[0, 14, 20, 28, 32, 33]] == pytest.approx([30, 25, 25, 35, 35, 30])

    stock = closed_forms(lesson("06"))
    assert dict(stock.endpoints)["optimal dynamic pricing J* − c n"] == pytest.approx(
        theory.gvr_optimal_revenue(20, 0.1, 150, 30) - 600
    )


def test_markets_without_a_closed_form_get_none():
    assert closed_forms(load_scenario(ROOT / "scenarios" / "holiday_market.yaml")) is None


# --- a run folder and its report -----------------------------------------------------------


def test_report_is_one_self_contained_file(market_run):
    html = page(market_run)
    assert html.startswith("<!DOCTYPE html>")
    links = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)""", html)
    assert links and all(link.startswith(("data:image/png;base64,", "#")) for link in links)
    assert not re.search(r"<script|<link|@import|url\(", html, re.IGNORECASE)
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) >= 6 and all("alt='" in image for image in images)


def test_user_text_is_escaped(market_run):
    html = page(market_run)
    assert "<img src=x" not in html and "<b>tags</b>" not in html and "<this>" not in html
    assert escape("<img src=x onerror=alert(1)>") in html
    assert "Report &lt;test&gt; &amp; co" in html
    assert escape("a<b>") in html


def test_report_numbers_are_the_csv_numbers(market_run):
    html = page(market_run)
    summary = read_table(market_run / "summary.csv")
    comparisons = read_table(market_run / "comparisons.csv")
    baseline = summary["baseline"].iloc[0]
    for _, row in summary.iterrows():
        assert metrics.readable(row["profit_mean"]) in html
        if row["strategy"] != baseline:
            versus = comparisons[
                (comparisons["strategy"] == row["strategy"])
                & (comparisons["versus"] == baseline)
                & (comparisons["score"] == "profit")
            ].iloc[0]
            assert versus["mean"] == pytest.approx(row["profit_diff_mean"])
            assert versus["verdict"] == row["profit_verdict"]
            assert f"{escape(versus['verdict'])}</td>" in html
    scores = read_table(market_run / "scores.csv")
    assert len(scores) == 4 * 4 and set(scores["replication"]) == {0, 1, 2, 3}
    assert summary.set_index("strategy")["profit_mean"].to_dict() == pytest.approx(
        scores.groupby("strategy")["profit"].mean().to_dict()
    )
    assert escape(metrics.verdict(scores).text) in html


def test_a_clear_winner_and_a_tie_are_reported_as_such(market_run):
    summary = read_table(market_run / "summary.csv").set_index("strategy")
    assert summary.loc["the same 25", "profit_diff_mean"] == 0
    assert summary.loc["the same 25", "profit_verdict"] == metrics.NO_DIFFERENCE
    assert "Winner on profit: competitor_response(undercut=0.05)." in page(market_run)


def test_no_real_difference_means_no_winner(tmp_path, capsys):
    out = run(tmp_path, TWINS, "--workers", "1")
    html = page(out)
    assert "No clear winner on profit" in html
    assert "Theory: Linear demand" in html and "p* = (a + b c)/(2b) = (W + c)/2 = 30" in html
    assert "Fixed prices: theory against simulation" in html


def test_no_nan_text_and_deterministic_tables(market_run, tmp_path):
    again = run(tmp_path, MARKET, "--workers", "2")
    for name in ("summary.csv", "scores.csv", "comparisons.csv", "daily.csv", "segments.csv"):
        text = (market_run / name).read_text()
        assert text == (again / name).read_text(), name
        assert not re.search(r"(^|,)(nan|NaN|inf|-inf)(,|$)", text, re.MULTILINE), name
    assert not re.search(r"\bnan\b|\binf\b", without_images(page(market_run)), re.IGNORECASE)


def test_report_command_rebuilds_with_another_baseline(market_run, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(market_run, folder)
    (folder / "report.html").unlink()
    assert main(["report", str(folder), "--quiet"]) == 0
    assert without_images(page(folder)) == without_images(page(market_run))
    assert main(["report", str(folder), "--baseline", "cost_plus(markup=0.5)"]) == 0
    printed = capsys.readouterr().out
    assert "baseline: cost_plus(markup=0.5)" in printed and "Ranking by profit of us" in printed
    assert "baseline <b>cost_plus(markup=0.5)</b>" in page(folder)


def test_a_report_that_cannot_be_drawn_leaves_the_ranking_and_why(market_run, tmp_path, monkeypatch):
    import market_sim.report as report

    folder = tmp_path / "copy"
    shutil.copytree(market_run, folder)

    def broken(*args, **kwargs):
        raise ValueError("<no> 'figures'")

    monkeypatch.setattr(report, "render_report", broken)
    with pytest.warns(UserWarning, match="report.html holds the ranking only"):
        results = report.write_report(folder)
    html = page(folder)
    assert (
        "The full report could not be drawn (ValueError(&quot;&lt;no&gt; &#x27;figures&#x27;&quot;))" in html
    )
    ranking = report.ranking_text(results.scores, results.baseline, results.focal, results.benchmarks)
    assert f"<pre>{escape(ranking)}</pre>" in html and "<no>" not in html


def test_report_command_refuses_bad_input(market_run, tmp_path, capsys):
    assert main(["report", str(market_run), "--baseline", "nobody"]) == 2
    assert "no finished strategy named 'nobody'" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a complete run folder" in capsys.readouterr().err
    source = tmp_path / "s.yaml"
    source.write_text(MARKET)
    assert main(["run", str(source), "--out", str(tmp_path / "out"), "--baseline", "nobody"]) == 2
    assert not (tmp_path / "out").exists()


# --- in a real browser -----------------------------------------------------------------------

CHECK = """<script>
window.problems = [];
window.addEventListener("error", e => problems.push(String(e.message || (e.target && e.target.src) || e)), true);
// words of table cells set over two lines: a line may break at a space or after a dash, never inside a word
function brokenWords() {
  const broken = [];
  for (const cell of document.querySelectorAll("th, td")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const word of node.data.matchAll(/[^\\s\\-–—\\/]+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
  }
  return broken;
}
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const out = document.createElement("pre");
  out.id = "check";
  out.textContent = JSON.stringify({
    problems, images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    width: document.documentElement.scrollWidth,
    overflowing: Array.from(document.querySelectorAll(".scroll")).filter(d => d.scrollWidth > d.clientWidth + 1).length,
    broken: brokenWords(),
  });
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def test_report_loads_in_headless_chromium_without_errors(market_run, tmp_path):
    check = browser_check(page(market_run), tmp_path)
    assert check["problems"] == []
    assert check["images"] >= 6 and check["decoded"] == check["images"]
    assert check["width"] <= 1280
    assert check["overflowing"] == 0  # wide tables wrap to fit 1,280 px, not scroll
    # ... at spaces: "Consumer surplus", never "Consumer surp-lus"
    assert check["broken"] == [], check["broken"]


def browser_check(html: str, tmp_path: Path) -> dict:
    """Load a report in headless Chromium at 1,280 px; what CHECK measured."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    checked = tmp_path / "checked.html"
    checked.write_text(html.replace("<head>", "<head>" + CHECK, 1), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += [
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    flags += ["--window-size=1280,900", "--virtual-time-budget=10000", "--dump-dom", checked.as_uri()]
    dom = subprocess.run([browser, *flags], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="check">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_lesson_files_run_end_to_end_quickly(tmp_path):
    """A shortened lesson 4 (given segment prices) lands on the §5 numbers in its report."""
    out = tmp_path / "lesson"
    code = main(
        ["run", str(lesson_path("04")), "--out", str(out), "--quiet", "--days", "5", "--replications", "3"]
        + ["--strategies", "best single price (40)", "segment prices (60 / 30)", "--workers", "1"]
    )
    assert code == 0
    summary = pd.read_csv(out / "summary.csv").set_index("strategy")
    assert summary.loc["segment prices (60 / 30)", "price_ratio_mean"] == pytest.approx(2.0)
    assert summary.loc["segment prices (60 / 30)", "price_gap_mean"] == pytest.approx(30)
    assert summary.loc["best single price (40)", "price_gini_mean"] == 0
    assert "Third-degree price discrimination" in page(out)


def lesson_path(stem: str) -> Path:
    return next(p for p in LESSONS if p.stem.startswith(stem))


# --- benchmarks are not contestants (issue 10, item 1) -----------------------------------------

ORACLE_FIRST = TWINS.replace(
    "strategies:\n", "strategies:\n  - {kind: oracle_best_fixed, grid: 5, name: oracle}\n"
).replace("replications: 8", "replications: 4")


def test_an_oracle_is_a_benchmark_never_the_winner_or_default_baseline(tmp_path, capsys):
    out = tmp_path / "out"
    source = tmp_path / "s.yaml"
    source.write_text(ORACLE_FIRST)
    assert main(["run", str(source), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    summary = read_table(out / "summary.csv").set_index("strategy")
    # the oracle earns the most, yet the baseline is the first strategy a seller could run
    assert summary["profit_mean"].idxmax() == "oracle"
    assert set(summary["baseline"]) == {"fixed(price=25)"}
    assert json.loads((out / "manifest.json").read_text())["baseline"] == "fixed(price=25)"
    assert summary["benchmark"].to_dict() == {
        "oracle": True,
        "fixed(price=25)": False,
        "fixed(price=35)": False,
    }
    html = page(out)
    assert "oracle has the best mean" not in html and "Winner on profit: oracle" not in html
    assert "Benchmark oracle (uses hidden truth, ranked apart)" in html
    assert "Benchmarks: they use hidden truth" in html
    # ranked apart: the runnable strategies take places 1 and 2, the oracle none
    assert re.search(r"<tr><td>–</td><td class='text name'>oracle", html)
    table = printed.splitlines()[2:5]  # title, header, three strategies
    assert [line.split()[0] for line in table] == ["1", "2", "benchmark"]
    assert table[2].split()[1] == "oracle"


# --- a failing plug-in can be debugged from the output (issue 10, item 10) ----------------------

OOPS = """from strategies import PricingStrategy


class Oops(PricingStrategy):
    def price(self, obs):
        table = {}
        return table["oops"] if obs.day == 1 else 20
"""


def test_a_failing_plugin_leaves_its_traceback_in_the_manifest_and_the_report(tmp_path, monkeypatch):
    (tmp_path / "oops_plugin.py").write_text(OOPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = TWINS.replace("  - {kind: fixed, price: 35}", "  - {kind: 'oops_plugin:Oops'}").replace(
        "replications: 8", "replications: 2"
    )
    source = tmp_path / "s.yaml"
    source.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(source), "--out", str(out), "--quiet", "--workers", "1"]) == 1
    tracebacks = json.loads((out / "manifest.json").read_text())["tracebacks"]
    assert sorted(tracebacks) == ["oops_plugin:Oops()#0", "oops_plugin:Oops()#1"]
    plugin = str(tmp_path / "oops_plugin.py")
    for text in tracebacks.values():
        assert f'File "{plugin}", line 7, in price' in text and "KeyError: 'oops'" in text
    html = page(out)
    assert escape(f'File "{plugin}", line 7, in price') in html
    assert "Traceback of oops_plugin:Oops(), replication 0 (and 1 more run alike)" in html  # told once


# --- figures (issue 10, item 13) -------------------------------------------------------------


def test_figures_shade_events_compare_with_the_baseline_and_name_rivals_once(market_run):
    from market_sim.report.plots import rival_label

    html = page(market_run)
    assert "<h2 id='difference'>Against the baseline</h2><figure><img" in html
    assert "Shaded: event days." in html  # the market has a promo event
    assert (rival_label("rival"), rival_label("rival_2"), rival_label("them")) == (
        "rival",
        "rival_2",
        "rival them",
    )


def test_the_fairness_caption_fits_a_one_segment_run(tmp_path):
    html = page(run(tmp_path, TWINS, "--workers", "1"))
    assert "Gaps are max − min across segments" not in html
    assert "Shaded: event days." not in html
