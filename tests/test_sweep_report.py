"""The sweep report tells market conditions from a strategy's own parameters, flags an optimum
at the edge of the grid and opens with a headline (issue 10, item 14)."""

from __future__ import annotations

import re
import textwrap

import pandas as pd
import pytest

from market_sim.cli import main
from tests.test_sweep import TINY


@pytest.mark.parametrize("markups", ["0.5,1,2", "0.1,0.2,0.3"])  # an optimum inside, then at the edge
def test_sweep_report_headline_own_parameters_and_edges(tmp_path, markups):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        textwrap.dedent(TINY).replace(
            "{kind: fixed, price: 25}", "{kind: fixed, price: 25, name: twenty-five}"
        )
    )
    out = tmp_path / "out"
    grid = ["--grid", "sellers[1].unit_cost=6,12", "--grid", f"strategies[0].markup={markups}"]
    assert main(["sweep", str(scenario), *grid, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    report = (out / "report.html").read_text()
    summary = pd.read_csv(out / "summary.csv")
    best = summary.loc[summary["profit_mean"].idxmax()]
    headline = report[report.index("<p class='headline'>") :].split("</p>")[0]
    if best["strategy"].startswith("cost_plus"):  # one name across points, though its display name changes
        assert (
            f"Best profit: cost_plus (strategies[0]) with strategies[0].markup = {best['strategies[0].markup']:g}, "
            in headline
        )
    else:
        assert "Best profit: twenty-five, " in headline
    # a rival's unit cost is a market condition: never a strategy's best parameter
    assert "market conditions swept (sellers[1].unit_cost)" in headline
    # the fixed price has no parameter of its own in the sweep: no best point is invented for it
    assert "<tr><td>twenty-five</td><td colspan='5' class='note'>no parameter of its own swept" in report
    cost_plus = summary[summary["strategy"].str.startswith("cost_plus")]
    markup = cost_plus.loc[cost_plus["profit_mean"].idxmax(), "strategies[0].markup"]
    edge = markup in (cost_plus["strategies[0].markup"].min(), cost_plus["strategies[0].markup"].max())
    assert edge == (markups == "0.1,0.2,0.3")  # the grid is made so
    assert edge == (" ⚠ edge</td>" in report) == ("lies at the edge of the grid" in headline)
    assert "(markup swept)" in report


def test_a_sampled_design_is_drawn_as_points_not_a_mostly_empty_grid():
    import numpy as np

    from market_sim.report.sweep import sparse

    diagonal = np.full((8, 8), np.nan)
    np.fill_diagonal(diagonal, 1.0)  # a Latin hypercube: one point per row and column
    assert sparse({"a": diagonal, "b": diagonal})
    assert not sparse({"a": np.ones((3, 3)), "b": np.ones((3, 3))})


def dense_report(columns: int = 10, rows: int = 9, strategies: int = 3):
    """A sweep of two word-valued fields with many long values (e.g. strategy variants × market
    conditions), with made-up scores."""
    import itertools

    import numpy as np

    from market_sim.report.sweep import SweepReport
    from tests.conftest import scenario_from

    xs = [f"segment prices, learned variant number {i}" for i in range(columns)]
    ys = [f"a long market condition called {j}" for j in range(rows)]
    names = tuple(f"strategy with a long display name {k}" for k in range(strategies))
    rng = np.random.default_rng(0)
    runs, summary = [], []
    for point, (x, y) in enumerate(itertools.product(xs, ys)):
        for name in names:
            profits = rng.normal(100, 10, 2)
            runs += [
                {"point": point, "strategy": name, "replication": r, "fx": x, "fy": y, "profit": profit}
                for r, profit in enumerate(profits)
            ]
            summary.append(
                {"point": point, "strategy": name, "fx": x, "fy": y, "profit_mean": profits.mean()}
                | {"profit_ci_low": profits.min(), "profit_ci_high": profits.max(), "replications": 2}
            )
    return SweepReport(
        scenario=scenario_from(textwrap.dedent(TINY)),
        note="full grid",
        parameters=("fx", "fy"),
        points=columns * rows,
        strategies=names,
        results=pd.DataFrame(runs),
        summary=pd.DataFrame(summary),
        score="profit",
        axes=("fx", "fy"),
        failures=(),
    ), set(xs + ys)


def test_dense_word_maps_show_every_label_whole_inside_the_figure_and_apart(monkeypatch):
    """Item 14: many long categories were cut to "a long [...]" and ran into each other and the
    next panel; each tick label must read as its value and keep its own place."""
    from market_sim.report import sweep

    report, values = dense_report()
    figures = []
    monkeypatch.setattr(sweep, "_png", lambda figure: figures.append(figure) or "")
    sweep._heatmaps(report)
    sweep._best_strategy_map(report)
    sweep._sensitivity(report)
    assert len(figures) == 3
    for figure in figures:
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        page = figure.bbox
        panels = [axes for axes in figure.axes if axes.get_visible()]
        for axes in panels:
            for ticks in (axes.get_xticklabels(), axes.get_yticklabels()):
                labels = [label for label in ticks if label.get_text() and label.get_visible()]
                shown = [" ".join(label.get_text().split()) for label in labels]  # lines joined
                if all(re.fullmatch(r"[−-]?[\d.,]+", text) for text in shown):
                    continue  # numbers: the score axis, the colour bar
                assert set(shown) <= values, "a value shortened beyond recognition"
                boxes = [label.get_window_extent(renderer) for label in labels]
                for box in boxes:
                    assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, "cut at the figure's side"
                    assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, "cut at the figure's edge"
                    for other in panels:
                        if other is not axes:
                            assert not box.overlaps(other.get_window_extent(renderer)), "into a panel"
                for first, second in zip(boxes, boxes[1:], strict=False):
                    assert not first.overlaps(second), "labels run into each other"
