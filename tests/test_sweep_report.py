"""The sweep report tells market conditions from a strategy's own parameters, flags an optimum
at the edge of the grid and opens with a headline (issue 10, item 14)."""

from __future__ import annotations

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
