"""The output stage (issue 13, item 2): `run` saves what the report draws from daily.csv and
segments.csv (report_data.npz), and `report DIR` uses it only for the very tables it was made
from; figures are drawn on painter processes started ahead; the manifest says where the time
went. No timings are asserted, only what is computed and written."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading

import numpy as np
import pandas as pd
import pytest

from market_sim import result_folder
from market_sim.cli import main
from market_sim.report import Painters, figure_cache, load_results
from market_sim.report.figure_data import figure_data
from market_sim.report.painters import FIGURES, FigureError, draw_all

MARKET = """
name: cached figures
days: 10
replications: 3
seed: 5
market: {choice: logit}
consumers:
  population: 300
  segments:
    - {name: bargain, share: 0.6, visit_rate: 0.5, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.5}
    - {name: members, share: 0.4, observable: true, visit_rate: 0.4, wtp: 30, price_sensitivity: 0.3}
sellers:
  - {name: us, focal: true, unit_cost: 8, inventory: {initial: 150, reorder_point: 50, order_quantity: 80, lead_time: 2}}
  - {name: them, unit_cost: 9, strategy: {kind: cost_plus, markup: 0.8}}
strategies:
  - {kind: fixed, price: 25, name: fixed}
  - {kind: cost_plus, markup: 0.5}
  - {kind: segment_pricing, prices: {members: 28}, base_price: 24}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    (root / "market.yaml").write_text(MARKET, encoding="utf-8")
    out = root / "out"
    assert main(["run", str(root / "market.yaml"), "--out", str(out), "--quiet", "--workers", "2"]) == 0
    return out


def _text(path) -> str:
    """report.html without its images (PNG bytes may change with matplotlib) and creation time."""
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", path.read_text(encoding="utf-8"))
    return re.sub(r"Created [0-9T:+-]+;", "", html)


def _tree(data) -> tuple:
    arrays: dict[str, np.ndarray] = {}
    return figure_cache._encode(data, arrays), arrays


def _assert_same(got, want) -> None:
    """Two FigureData equal to the last bit: the same structure, values and arrays."""
    (tree, arrays), (tree_want, arrays_want) = _tree(got), _tree(want)
    assert tree == tree_want
    for key, values in arrays_want.items():
        assert arrays[key].dtype == values.dtype
        np.testing.assert_array_equal(arrays[key], values)


def _digests(out) -> dict[str, str]:
    return result_folder.table_digests(result_folder.check_tables(out))


def test_the_saved_figure_data_equals_the_tables_read_again(folder):
    assert (folder / figure_cache.FILE).is_file()
    from_csv = load_results(folder)
    cached = load_results(folder, digests=_digests(folder))
    assert cached.daily.empty and cached.segments.empty  # not read: everything drawn came from the file
    assert not from_csv.daily.empty
    _assert_same(cached.figures, from_csv.figures)
    pd.testing.assert_frame_equal(cached.segment_summary, from_csv.segment_summary)
    for strategy in from_csv.strategies:  # the theory table's one price comes with the figures
        assert (
            cached.figures.strategies[strategy].one_price == from_csv.figures.strategies[strategy].one_price
        )
    assert cached.figures.strategies["fixed"].one_price == 25.0
    assert cached.figures.strategies["cost_plus(markup=0.5)"].one_price == 12.0


def test_another_baseline_draws_the_differences_anew(folder):
    baseline = "cost_plus(markup=0.5)"
    cached = load_results(folder, baseline, digests=_digests(folder))
    again = load_results(folder, baseline)
    expected = figure_data(again.daily, again.segments, again.focal, baseline)
    _assert_same(cached.figures, expected)
    assert cached.figures.strategies[baseline].difference is None
    assert cached.figures.strategies["fixed"].difference is not None


def test_report_dir_rebuilds_the_report_run_wrote(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert main(["report", str(copy), "--quiet"]) == 0
    assert _text(copy / "report.html") == _text(folder / "report.html")


def test_an_edited_daily_csv_is_not_silently_ignored(folder, tmp_path):
    """daily.csv edited and the manifest made to agree (so the folder passes its check): the
    saved figure data no longer belongs to the tables, and the report draws the edited rows."""
    copy = tmp_path / "edited"
    shutil.copytree(folder, copy)
    daily = result_folder.read_csv(copy / "daily.csv")
    fixed_us = (daily["strategy"] == "fixed") & (daily["seller"] == "us")
    daily.loc[fixed_us & (daily["day"] == 3), "price"] = 99.0
    result_folder.write_csv(daily, copy / "daily.csv")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    data = (copy / "daily.csv").read_bytes()
    manifest["tables"]["daily.csv"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    results = load_results(copy, digests=_digests(copy))
    assert not results.daily.empty  # read from the file, not from report_data.npz
    price = results.figures.strategies["fixed"].price
    assert price.mean[list(price.days).index(3)] == 99.0
    assert results.figures.strategies["fixed"].one_price is None  # no longer one price all run
    assert main(["report", str(copy), "--quiet"]) == 0
    assert "<td>fixed</td><td>25</td>" not in _text(copy / "report.html")  # no theory row for it now


def test_a_damaged_or_foreign_cache_is_not_used(folder, tmp_path):
    copy = tmp_path / "damaged"
    shutil.copytree(folder, copy)
    digests = _digests(copy)
    (copy / figure_cache.FILE).write_bytes(b"not a zip file")
    assert figure_cache.read(copy, digests) is None
    assert not load_results(copy, digests=digests).daily.empty
    shutil.copy(folder / figure_cache.FILE, copy / figure_cache.FILE)
    assert figure_cache.read(copy, {**digests, "segments.csv": "0" * 64}) is None
    assert figure_cache.read(copy, {}) is None  # a manifest that records no tables


def test_painters_draw_what_this_process_draws_and_start_no_thread(folder):
    results = load_results(folder, digests=_digests(folder))
    threads = threading.active_count()
    with Painters(2) as painters:
        assert threading.active_count() == threads  # run workers can still be forked
        painters.begin(results)
        drawn = painters.draw(results)
        assert painters.draw(results) == drawn  # reusable
    here = draw_all(results, 1)
    assert list(drawn) == list(FIGURES) and drawn == here
    assert drawn["stock"] is not None and drawn["price_response"] is None  # no closed form here


def test_figures_made_ahead_are_drawn_to_the_same_bytes(folder):
    """Painters told what to expect make the blank figures while the runs go on; the PNGs are
    the same bytes as figures made when asked for, also when the counts expected were wrong (a
    strategy that failed): those figures are then made when asked for."""
    results = load_results(folder, digests=_digests(folder))
    scenario = results.scenario
    here = draw_all(results, 1)
    for strategies in (len(scenario.strategies), len(scenario.strategies) + 1):
        with Painters(2) as painters:
            painters.expect(strategies, len(scenario.consumers.segments), True)
            assert painters.draw(results) == here


def test_painters_share_the_figures_evenly():
    import itertools

    from market_sim.report.painters import EFFORT, drawn_figures, shares

    for names in (FIGURES, drawn_figures(4, 2, True), drawn_figures(1, 1, False)):
        for count in (1, 2, 3):
            split = shares(count, names)
            assert sorted(name for share in split for name in share) == sorted(names)
            loads = [sum(EFFORT[name] for name in share) for share in split]
            assert max(loads) - min(loads) <= max(EFFORT.values())
        # two painters: no other split leaves the busier one less to do
        best = max(sum(EFFORT[name] for name in share) for share in shares(2, names))
        for size in range(len(names) + 1):
            for one in itertools.combinations(names, size):
                other = [name for name in names if name not in one]
                assert best <= max(sum(EFFORT[n] for n in one), sum(EFFORT[n] for n in other))
    assert drawn_figures(4, 2, True) == tuple(name for name in FIGURES if name != "price_response")
    assert set(drawn_figures(1, 1, False)) == set(FIGURES) - {
        "price_response",
        "stock",
        "profit_difference",
        "segments",
    }


def test_time_charts_begin_before_the_summaries_and_are_the_same_bytes(folder):
    """`run` begins the time charts from `chart_results` (the figure data, no summaries) and the
    other figures once the whole results are made from the same figure data: every PNG is the
    one drawn here from the whole results; a figure that is not a time chart cannot be drawn
    from the chart results (it fails, it does not draw something else)."""
    import dataclasses

    from market_sim import metrics
    from market_sim.report import chart_results, plots, results_from
    from market_sim.report.painters import CHARTS

    whole = load_results(folder)
    tabled = (whole.scenario, whole.manifest, whole.scores, whole.daily, whole.segments)
    charts = chart_results(*tabled)
    assert charts.summary is None and charts.scores is None and charts.baseline == whole.baseline
    results = results_from(*tabled, charts=charts, comparisons=metrics.comparisons(whole.scores))
    assert results.figures is charts.figures
    assert list(results.baseline_comparisons) == list(whole.baseline_comparisons)
    for key, comparison in whole.baseline_comparisons.items():  # taken from every pair: the same
        got = results.baseline_comparisons[key]
        for field, value in vars(comparison).items():
            assert type(getattr(got, field)) is type(value)
            assert getattr(got, field) == value or (
                value != value and getattr(got, field) != getattr(got, field)
            )
    _assert_same(results.figures, whole.figures)
    pd.testing.assert_frame_equal(results.summary, whole.summary)
    here = draw_all(results, 1)
    for name in CHARTS:
        assert getattr(plots, name)(charts) == here[name]
    with pytest.raises(AttributeError):
        plots.fairness(charts)
    with Painters(2) as painters:
        painters.expect(len(whole.strategies), len(whole.scenario.consumers.segments), True)
        painters.begin(charts)
        painters.begin(results)
        assert painters.draw(results) == here
        painters.begin(charts)  # the charts of one run, then another run's results: all of those
        other = dataclasses.replace(results, figures=whole.figures)
        assert painters.draw(other) == draw_all(other, 1)
        painters.begin(charts)  # the charts, then `draw` given the whole results
        assert painters.draw(results) == here


def test_blank_figures_are_handed_over_once_per_call():
    from market_sim.report import plots

    plots.prepare(3, 2, True, FIGURES)
    made = sum(map(len, plots._prepared.values()))
    assert made == 7  # two wide, the histogram, two panel grids, fairness, segments
    figure, axes = plots._subplots(plots._panel_call(3))
    assert len(axes.ravel()) == 4 and len(axes[0, 0].xaxis.majorTicks) >= plots.TICKS_AHEAD
    assert sum(map(len, plots._prepared.values())) == made - 1
    other, _ = plots._subplots(plots._panel_call(5))  # not made ahead: made now
    assert other is not figure and sum(map(len, plots._prepared.values())) == made - 1
    plots.prepare(1, 1, False, FIGURES)  # the last ones closed and replaced: no stock, segments, difference
    assert sum(map(len, plots._prepared.values())) == 4
    plots.plt.close("all")
    plots._prepared.clear()


def test_a_figure_that_fails_is_named_and_the_painters_stay_usable(folder):
    import dataclasses

    results = load_results(folder, digests=_digests(folder))
    broken = dataclasses.replace(results, summary=results.summary.drop(columns=["price_gini_mean"]))
    with Painters(2) as painters:
        with pytest.raises(FigureError, match="the fairness figure could not be drawn"):
            painters.draw(broken)
        assert painters.draw(results)["fairness"] is not None


def test_a_painter_that_died_costs_the_figures_only(folder):
    """A figure process killed before the results reach it: `begin` (called while the tables
    are still to be written) goes on, and `draw` names the failure, which the report turns into
    its ranking-only page."""
    results = load_results(folder, digests=_digests(folder))
    with Painters(1) as painters:
        process = painters._painters[0].process
        process.kill()
        process.join()
        painters.expect(2, 1, True)
        painters.begin(results)
        with pytest.raises(FigureError, match="a figure process is gone"):
            painters.draw(results)


def test_the_manifest_says_where_the_time_went(folder):
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    timings = manifest["timings"]
    assert list(timings) == ["starting", "simulating", "writing"]
    assert timings["simulating"] == manifest["seconds"]
    assert timings["starting"] > 0 and timings["writing"] > 0


def test_a_painter_that_hangs_costs_the_figures_only(folder):
    """A figure process that stops answering (here: stopped by SIGSTOP) is given `patience`
    seconds for its figure; then `draw` stops it and names what was lost, which the report turns
    into its ranking-only page, instead of waiting for ever."""
    import os
    import signal

    results = load_results(folder, digests=_digests(folder))
    with Painters(1, patience=1) as painters:
        process = painters._painters[0].process
        painters.begin(results)
        os.kill(process.pid, signal.SIGSTOP)
        with pytest.raises(FigureError, match=r"no figure was drawn in 1 s: .* were stopped"):
            painters.draw(results)
        process.join(10)
        assert process.exitcode == -signal.SIGKILL
