"""The report's time charts draw from per-strategy aggregates computed once
(market_sim/report/figure_data.py): they must equal what the figures used to compute from every
row of daily.csv and segments.csv, filtering by strategy (the pandas code kept here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from market_sim.cli import main
from market_sim.metrics import CONFIDENCE
from market_sim.report import load_results

MARKET = """
name: figures
days: 12
replications: 5
seed: 11
market:
  choice: logit
  events: [{name: rush, day: 4, days: 2, traffic: 2.5}]
consumers:
  population: 500
  segments:
    - {name: bargain, share: 0.6, visit_rate: 0.4, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.5}
    - {name: members, share: 0.4, observable: true, visit_rate: 0.3, wtp: 30, price_sensitivity: 0.3, loyalty: 2}
sellers:
  - {name: us, focal: true, unit_cost: 8, inventory: {initial: 120, reorder_point: 40, order_quantity: 60, lead_time: 2}}
  - {name: them, unit_cost: 9, strategy: {kind: cost_plus, markup: 0.8}}
  - {name: corner, unit_cost: 10, inventory: {initial: 50}, strategy: {kind: fixed, price: 22}}
strategies:
  - {kind: fixed, price: 25, name: fixed}
  - {kind: cost_plus, markup: 0.5}
  - {kind: competitor_response, undercut: 0.05}
  - {kind: segment_pricing, prices: {members: 28}, base_price: 24}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    (folder / "market.yaml").write_text(MARKET, encoding="utf-8")
    assert (
        main(["run", str(folder / "market.yaml"), "--out", str(folder / "out"), "--quiet", "--workers", "1"])
        == 0
    )
    return load_results(folder / "out")


def _row_mean_band(table: pd.DataFrame, column: str):
    """The figures' former computation: mean per day and the t interval of that mean."""
    by_day = table.groupby("day")[column]
    mean, sd, n = by_day.mean(), by_day.std(ddof=1), by_day.count()
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = half.where(n > 1, 0.0).fillna(0.0)
    return mean, mean - half, mean + half


def _row_spread(table: pd.DataFrame, column: str):
    by_day = table.groupby("day")[column]
    return by_day.mean(), by_day.quantile(0.1), by_day.quantile(0.9)


def _same(line, expected) -> None:
    mean, low, high = expected
    np.testing.assert_array_equal(line.days, mean.index.to_numpy())
    for got, want in ((line.mean, mean), (line.low, low), (line.high, high)):
        np.testing.assert_allclose(got, want.to_numpy(dtype=float), rtol=1e-12, atol=1e-9, equal_nan=True)


def test_the_scenario_exercises_every_line(results):
    data = results.figures
    assert set(data.strategies) == set(results.strategies) and len(data.strategies) == 4
    assert data.has_inventory and data.leftover > 0
    assert any(days.paid_differs for days in data.strategies.values())  # segment prices
    assert not data.strategies["fixed"].paid_differs
    assert set(data.strategies["fixed"].rivals) == {"them", "corner"}


def test_aggregates_equal_the_row_wise_computation(results):
    daily, segments, focal = results.daily, results.segments, results.focal
    own = daily[daily["seller"] == focal].sort_values(["strategy", "replication", "day"]).copy()
    own["cumulative"] = own.groupby(["strategy", "replication"], sort=False)["profit"].cumsum()
    cumulative = own.pivot_table(index=["replication", "day"], columns="strategy", values="profit")
    cumulative = cumulative.groupby(level="replication").cumsum()
    data = results.figures
    for strategy, days in data.strategies.items():
        runs = own[own["strategy"] == strategy]
        _same(days.cumulative, _row_mean_band(runs, "cumulative"))
        _same(days.price, _row_spread(runs, "price"))
        _same(days.inventory, _row_spread(runs, "inventory"))
        pd.testing.assert_series_equal(
            days.sold_out, runs.groupby("day")["stockout"].mean(), check_names=False, check_index_type=False
        )
        came = runs.assign(came=runs["received"] > 0).groupby("day")["came"].mean()
        np.testing.assert_allclose(days.delivered.to_numpy(), came.to_numpy())
        assert days.inventory_max == np.nanmax(runs["inventory"])
        assert days.paid_differs == (
            not np.allclose(runs["revenue"], runs["units"] * runs["price"], rtol=1e-9)
        )
        everyone = daily[daily["strategy"] == strategy]
        for rival, line in days.rivals.items():
            expected = everyone[everyone["seller"] == rival].groupby("day")["price"].mean()
            np.testing.assert_array_equal(line.index, expected.index)
            np.testing.assert_allclose(line.to_numpy(), expected.to_numpy(), rtol=1e-12)
        cells = segments[(segments["strategy"] == strategy) & (segments["seller"] == focal)]
        sums = cells.groupby(["day", "segment"])[["revenue", "units"]].sum()
        paid = (sums["revenue"] / sums["units"]).where(sums["units"] > 0)
        assert list(days.paid) == [f"price paid by {name}" for name in cells["segment"].unique()]
        for name in cells["segment"].unique():
            expected = paid.xs(name, level="segment")
            got = days.paid[f"price paid by {name}"]
            np.testing.assert_array_equal(got.index, expected.index)
            np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)
        if strategy != results.baseline:
            difference = (cumulative[strategy] - cumulative[results.baseline]).dropna().rename("difference")
            _same(days.difference, _row_mean_band(difference.reset_index(), "difference"))
        else:
            assert days.difference is None
    last = own[own["day"] == own["day"].max()]
    assert data.last_day == last["day"].iloc[0]
    assert data.leftover == pytest.approx(last["inventory"].fillna(0).mean(), rel=1e-12)
    assert data.top_cumulative == pytest.approx(own.groupby(["strategy", "day"])["cumulative"].mean().max())


def test_price_histograms_equal_the_row_wise_ones(results):
    segments, focal = results.segments, results.focal
    cells = segments[(segments["seller"] == focal) & (segments["units"] > 0)]
    low, high = cells["avg_price_paid"].min(), cells["avg_price_paid"].max()
    bins = np.linspace(low, high, 41)
    np.testing.assert_array_equal(results.figures.price_bins, bins)
    for strategy, days in results.figures.strategies.items():
        group = cells[cells["strategy"] == strategy]
        expected, _ = np.histogram(
            group["avg_price_paid"], bins=bins, weights=group["units"] / group["units"].sum()
        )
        np.testing.assert_allclose(days.paid_share, expected, rtol=1e-12)
        # drawn as matplotlib bins each share at its bin's left edge: the same bars
        again, _ = np.histogram(bins[:-1], bins=bins, weights=days.paid_share)
        np.testing.assert_array_equal(again, days.paid_share)


def test_unlimited_stock_has_no_stock_chart(tmp_path):
    text = MARKET.replace(
        "inventory: {initial: 120, reorder_point: 40, order_quantity: 60, lead_time: 2}", "inventory: {}"
    )
    (tmp_path / "market.yaml").write_text(
        text.replace("replications: 5", "replications: 2"), encoding="utf-8"
    )
    assert (
        main(
            [
                "run",
                str(tmp_path / "market.yaml"),
                "--out",
                str(tmp_path / "out"),
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    data = load_results(tmp_path / "out").figures
    assert not data.has_inventory and data.leftover == 0
    assert all(np.isnan(days.inventory.mean).all() for days in data.strategies.values())


def test_tables_parsed_run_by_run_equal_the_file_read_whole(results, tmp_path):
    """`market-sim run` hands the report the tables parsed on the workers, run by run: the same
    frame as reading the written file, also when a failed run wrote no rows."""
    from market_sim import result_folder

    daily = results.daily
    header = result_folder.csv_text(daily.iloc[:0])
    texts = [
        result_folder.csv_text(part) for _, part in daily.groupby(["strategy", "replication"], sort=False)
    ]
    texts.insert(1, header)  # a run that failed on its first day
    result_folder.write_csv_parts(texts, tmp_path / "daily.csv")
    whole = result_folder.read_csv(tmp_path / "daily.csv")
    pd.testing.assert_frame_equal(
        result_folder.joined([result_folder.parsed(t) for t in texts], texts), whole
    )
    pd.testing.assert_frame_equal(whole, daily)
    assert result_folder.joined([result_folder.parsed(header)], [header]).columns.tolist() == list(
        daily.columns
    )


def test_the_band_is_numpys_nanquantile_to_the_bit():
    """The 10–90% band is computed for every day at once when no value is missing: the very
    numbers `np.nanquantile` gives day by day, with values missing or not."""
    import warnings

    from market_sim.report.figure_data import _spread

    rng = np.random.default_rng(13)
    for trial in range(300):
        values = rng.normal(size=(rng.integers(1, 30), rng.integers(1, 50))) * 10.0 ** rng.integers(-3, 6)
        if trial % 3 == 1:
            values = np.round(values, 2)
        if trial % 3 == 2:
            values[rng.random(values.shape) < 0.2] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a day with no value at all
            want = np.nanquantile(values, [0.1, 0.9], axis=0)
        line = _spread(np.arange(values.shape[1]), values)
        np.testing.assert_array_equal(line.low, want[0])
        np.testing.assert_array_equal(line.high, want[1])


def test_wide_tick_labels_push_the_axes_not_the_axis_label_off_the_figure():
    """The fixed layout measures the y tick labels: `−100000` and its axis label stay inside the
    figure, and a second column's labels stay clear of the first column's axes."""
    from market_sim.report import plots

    figure, (left, right) = plots.plt.subplots(1, 2, figsize=(9.5, 3.6))
    try:
        for ax, top in ((left, 100_000), (right, 2_500_000_000)):
            ax.plot([0, 44], [-top, top])
            ax.set_ylabel("cumulative profit − baseline")
        right.ticklabel_format(style="plain", axis="y")  # the widest labels there are
        plots._fixed_layout(figure, columns=2)
        renderer = figure.canvas.get_renderer()
        figure.draw(renderer)
        for ax in (left, right):
            shown = ax.yaxis.get_tightbbox(renderer)
            assert shown.x0 >= 0
            assert ax.yaxis.label.get_window_extent(renderer).x0 >= 0
        assert right.yaxis.get_tightbbox(renderer).x0 >= left.bbox.x1
        assert left.bbox.x0 / figure.dpi >= plots.TICKS_LEFT  # never narrower than before
    finally:
        plots.plt.close(figure)


def test_a_title_wider_than_its_panel_is_set_smaller_to_fit():
    from market_sim.report import plots

    figure, (narrow, wide) = plots.plt.subplots(1, 2, figsize=(4, 2))
    try:
        narrow.set_title("Purchases above the usual price, every replication", fontsize="medium")
        wide.set_title("Gini", fontsize="medium")
        plots._fixed_layout(figure, columns=2)
        plots._fit_titles(figure)
        renderer = figure.canvas.get_renderer()
        assert narrow.title.get_window_extent(renderer).width <= narrow.bbox.width
        assert narrow.title.get_fontsize() < wide.title.get_fontsize() == 10  # only the one too wide
    finally:
        plots.plt.close(figure)
