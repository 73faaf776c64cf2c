"""The sweep report: the best parameters of every strategy with intervals, how a chosen score
changes over two swept fields, which strategy is best where, and how sensitive each strategy
is to one field at a time. One self-contained HTML file (figures embedded as PNG), laid out by
templates/sweep.html, which escapes every piece of text.
"""

from __future__ import annotations

import base64
import io
import math
import re
import textwrap
from dataclasses import dataclass

import matplotlib

from market_sim.report import agg  # matplotlib's Agg, text drawn a string at a time

matplotlib.use(agg.BACKEND)
matplotlib.rcParams["text.parse_math"] = False  # names are text: `$20 off` is no formula
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from market_sim import metrics  # noqa: E402
from market_sim.report.template import render  # noqa: E402
from market_sim.scenario import Scenario  # noqa: E402

MAX_LEVELS = 12  # distinct values shown one by one along an axis; more are binned
MAX_BINS = 8
MIN_BINS = 3
MAX_SENSITIVITY_PANELS = 6
TOP_POINTS = 10
MAX_FAILURES_SHOWN = 20
MAX_FIGURE_WIDTH = 14.0  # inches: a page's width at a legible size
LABEL_LINE = 18  # characters per line of a tick label; longer values wrap
LABEL_LINES = 3  # lines at most; a longer value ends in "…"
TICK_SIZE = 7  # points
CHAR_WIDTH = TICK_SIZE * 0.6 / 72  # inches per character of a tick label, about
LINE_HEIGHT = TICK_SIZE * 1.3 / 72  # inches per line


@dataclass(frozen=True)
class SweepReport:
    """What the report shows. `results` has one row per finished point × strategy × replication
    and `summary` one per point × strategy (`metrics.summarise` columns); both carry the swept
    fields as columns and name each strategy the same way at every point."""

    scenario: Scenario
    note: str  # how the points were made
    parameters: tuple[str, ...]
    points: int
    strategies: tuple[str, ...]  # in the order of `strategies:`
    results: pd.DataFrame
    summary: pd.DataFrame
    score: str
    axes: tuple[str, ...]  # the one or two swept fields of the maps
    failures: tuple[str, ...]


def render_sweep_report(report: SweepReport) -> str:
    """The whole report as one HTML string (templates/sweep.html)."""
    scenario = report.scenario
    finished = not report.summary.empty and report.score + "_mean" in report.summary
    return render(
        "sweep.html",
        name=scenario.name,
        description=scenario.description or "",
        score=_score_label(report.score),
        parameters=report.parameters,
        axes=report.axes,
        overview=_overview(report),
        failures=_failures(report.failures),
        findings=_findings(report) if finished else None,
    )


def _findings(report: SweepReport) -> dict:
    return {
        "headline": headline(report),
        "best": _best_table(report),
        "heatmaps": _heatmaps(report),
        "best_map": _best_strategy_map(report),
        "sensitivity": _sensitivity(report),
        "max_panels": MAX_SENSITIVITY_PANELS,
        "top_count": TOP_POINTS,
        "top": _top_table(report),
    }


def _overview(report: SweepReport) -> dict:
    scenario, summary = report.scenario, report.summary
    return {
        "points": report.points,
        "note": report.note,
        "strategies": len(report.strategies),
        "replications": int(summary["replications"].max()) if len(summary) else 0,
        "days": "days as swept" if "days" in report.parameters else f"{scenario.days} days each",
        "seed": scenario.seed,
        "direction": {"lower": "lower is better", "": "higher shown as best"}.get(
            _better(report.score), "higher is better"
        ),
        "fields": [(field, _values_text(report, field)) for field in report.parameters],
    }


def _values_text(report: SweepReport, parameter: str) -> str:
    values = (
        report.summary[parameter].drop_duplicates() if len(report.summary) else pd.Series([], dtype=object)
    )
    if pd.api.types.is_numeric_dtype(values) and len(values) > MAX_LEVELS:
        return f"{len(values)} values from {_number(values.min())} to {_number(values.max())}"
    shown = sorted(values) if pd.api.types.is_numeric_dtype(values) else list(values)
    return ", ".join(_number(value) for value in shown)


def _failures(failures: tuple[str, ...]) -> dict | None:
    if not failures:
        return None
    return {
        "count": len(failures),
        "shown": failures[:MAX_FAILURES_SHOWN],
        "more": max(0, len(failures) - MAX_FAILURES_SHOWN),
    }


# --- tables -------------------------------------------------------------------------------


def _best_rows(report: SweepReport) -> pd.DataFrame:
    """Per strategy, the point where its mean score is best."""
    mean = (report.summary[report.score + "_mean"] * _sign(report.score)).dropna()
    best = mean.groupby(report.summary.loc[mean.index, "strategy"], sort=False).idxmax()
    return report.summary.loc[best.to_numpy()]


def own_fields(report: SweepReport, strategy: str) -> list[str]:
    """The swept fields that are parameters of `strategy` (not market conditions, not another
    strategy's)."""
    slot = report.strategies.index(strategy)
    return [field for field in report.parameters if _owner(field) == slot]


def at_edge(report: SweepReport, field: str, value: object) -> bool:
    """Whether `value` is the lowest or highest value swept of a numeric `field`."""
    values = report.summary[field]
    if not pd.api.types.is_numeric_dtype(values) or values.nunique() < 3:
        return False
    return bool(value in (values.min(), values.max()))


def headline(report: SweepReport) -> str:
    """One sentence: the best strategy a seller could run, at its own best parameters, and whether
    the market conditions swept change which strategy is best."""
    benchmarks = metrics.benchmarks(report.scenario.strategies)
    sign = _sign(report.score)
    runnable = report.summary[~report.summary["strategy"].isin(benchmarks)]
    mean = (runnable[report.score + "_mean"] * sign).dropna()
    if mean.empty:
        return "No strategy a seller could run finished."
    best = runnable.loc[mean.idxmax()]
    strategy = str(best["strategy"])
    own = own_fields(report, strategy)
    setting = ", ".join(f"{field} = {_number(best[field])}" for field in own)
    text = f"Best {_score_label(report.score).lower()}: {strategy}"
    text += f" with {setting}" if setting else ""
    text += f", {_number(best[report.score + '_mean'])} on average at that point."
    conditions = [field for field in report.parameters if _owner(field) is None]
    if conditions:
        winners = runnable.loc[mean.groupby(runnable.loc[mean.index, "point"]).idxmax()]["strategy"]
        counts = winners.value_counts()
        if len(counts) == 1:
            swept = ", ".join(conditions)
            text += f" It is the best strategy at every point of the market conditions swept ({swept})."
        else:
            shares = ", ".join(f"{name} at {count}" for name, count in counts.items())
            text += (
                f" The best strategy changes with the market conditions swept: {shares} of "
                f"{len(winners)} points."
            )
    edges = [field for field in own if at_edge(report, field, best[field])]
    if edges:
        text += (
            f" Its best {', '.join(edges)} lies at the edge of the grid: widen the range to find the optimum."
        )
    return text


def _best_table(report: SweepReport) -> list[dict]:
    """A row per strategy: its best point over its own parameters (None for the others: a market
    condition or another strategy's parameter is no choice of this one)."""
    rows = []
    for _, row in _best_rows(report).iterrows():
        strategy = str(row["strategy"])
        own = own_fields(report, strategy)
        if not own:  # nothing of its own swept: its "best point" is only the kindest market
            rows.append({"strategy": strategy, "own": False})
            continue
        rows.append(
            {
                "strategy": _swept_name(strategy, own),
                "own": True,
                "cells": [
                    {"text": _number(row[p]), "edge": at_edge(report, p, row[p])} if p in own else None
                    for p in report.parameters
                ],
                "score": _interval(row, report.score),
                "replications": int(row["replications"]),
                "ties": _tied_points(report, strategy, row["point"]),
            }
        )
    return rows


def _swept_name(strategy: str, own: list[str]) -> str:
    """The display name, marked where it was written for parameter values the sweep changes."""
    fields = ", ".join(re.sub(r"^strategies\[\d+\]\.", "", field) for field in own)
    return f"{strategy} ({fields} swept)"


def _tied_points(report: SweepReport, strategy: str, best_point: int) -> int:
    runs = report.results[report.results["strategy"] == strategy]
    table = runs.pivot_table(index="replication", columns="point", values=report.score, aggfunc="first")
    if best_point not in table:
        return 0
    differences = table.drop(columns=best_point).sub(table[best_point], axis=0)
    return sum(_includes_zero(differences[point].dropna().to_numpy()) for point in differences)


def _includes_zero(differences: np.ndarray) -> bool:
    _, _, low, high = metrics.interval(differences)
    return bool(np.isnan(low) or low <= 0 <= high)


def _top_table(report: SweepReport) -> list[dict]:
    summary = report.summary
    order = (summary[report.score + "_mean"] * _sign(report.score)).sort_values(
        ascending=False, kind="stable"
    )
    top = summary.loc[order.dropna().index[:TOP_POINTS]]
    return [
        {
            "point": int(row["point"]),
            "strategy": str(row["strategy"]),
            "cells": [_number(row[p]) for p in report.parameters],
            "score": _interval(row, report.score),
        }
        for _, row in top.iterrows()
    ]


def _interval(row: pd.Series, score: str) -> dict:
    """A mean and its interval as text (mean None when there is none)."""
    mean, low, high = row[f"{score}_mean"], row[f"{score}_ci_low"], row[f"{score}_ci_high"]
    if pd.isna(mean):
        return {"mean": None, "ci": None}
    return {"mean": _number(mean), "ci": None if pd.isna(low) else (_number(low), _number(high))}


# --- figures ------------------------------------------------------------------------------


def _heatmaps(report: SweepReport) -> str:
    """The score's mean over the map's cells, one panel per strategy."""
    cells = _Cells(report.results, report.axes, _map_bins(report.points))
    strategies = report.strategies
    means = {s: cells.means(report.results, report.score, s) for s in strategies}
    if sparse(means) and len(report.axes) == 2:
        return _scatter_maps(report)
    finite = np.concatenate([m[np.isfinite(m)] for m in means.values()])
    low, high = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
    figure, panels = _panels(len(strategies), cells)
    for axes, strategy in zip(panels, strategies, strict=False):
        image = axes.imshow(
            means[strategy], origin="lower", aspect="auto", cmap="viridis", vmin=low, vmax=high
        )
        cells.decorate(axes, _wrapped(strategy))
        if means[strategy].size <= 64:  # beyond that the numbers would not fit their cells
            _annotate(axes, means[strategy], (low + high) / 2)
    for axes in panels[len(strategies) :]:
        axes.set_visible(False)
    figure.colorbar(image, ax=panels, label=_score_label(report.score), shrink=0.9)
    return _png(figure)


def sparse(means: dict[str, np.ndarray]) -> bool:
    """Whether most cells of the map are empty (a sampled design): then the points are drawn
    where they are instead of a mostly empty grid."""
    cells = np.stack(list(means.values()))
    return bool(np.isnan(cells).mean() > 0.4)


def _scatter_maps(report: SweepReport) -> str:
    """Every point where it lies in the two fields, coloured by its mean score, one panel per
    strategy (for sampled designs)."""
    x_field, y_field = report.axes
    score = report.score + "_mean"
    values = report.summary[score].to_numpy(dtype=float)
    low, high = (np.nanmin(values), np.nanmax(values)) if np.isfinite(values).any() else (0.0, 1.0)
    columns = min(3, len(report.strategies))
    rows = math.ceil(len(report.strategies) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.2 * columns + 1.2, 3.6 * rows), squeeze=False)
    panels = list(grid.ravel())
    for axes, strategy in zip(panels, report.strategies, strict=False):
        rows_of = report.summary[report.summary["strategy"] == strategy]
        image = axes.scatter(
            rows_of[x_field], rows_of[y_field], c=rows_of[score], cmap="viridis", vmin=low, vmax=high, s=36
        )
        axes.set_xlabel(_wrapped(x_field), fontsize=9)
        axes.set_ylabel(_wrapped(y_field), fontsize=9)
        axes.set_title(_wrapped(strategy), fontsize=10)
        axes.grid(alpha=0.3)
    for axes in panels[len(report.strategies) :]:
        axes.set_visible(False)
    figure.colorbar(image, ax=panels, label=_score_label(report.score), shrink=0.9)
    return _png(figure)


def _annotate(axes: plt.Axes, values: np.ndarray, middle: float) -> None:
    """Write each cell's value in it: white on the dark half of the colour scale."""
    for (y, x), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "w" if value < middle else "k"
            axes.text(x, y, _compact(value), ha="center", va="center", fontsize=7, color=colour)


def _best_strategy_map(report: SweepReport) -> str:
    """Per cell the strategy with the best mean, faded where its lead over the runner-up is noise."""
    cells = _Cells(report.results, report.axes, _map_bins(report.points))
    strategies = report.strategies
    sign = _sign(report.score)
    means = np.stack([cells.means(report.results, report.score, s) for s in strategies]) * sign
    colours = plt.get_cmap("tab10" if len(strategies) <= 10 else "tab20").colors
    picture = np.ones((*means.shape[1:], 4))
    width, height = cells.panel_size()
    figure, axes = plt.subplots(figsize=(width + 3.5, height), layout="constrained")  # legend beside
    for y, x in np.ndindex(means.shape[1:]):
        column = means[:, y, x]
        if not np.isfinite(column).any():
            continue
        ranked = np.argsort(-np.nan_to_num(column, nan=-np.inf), kind="stable")
        winner = ranked[0]
        clear = len(strategies) == 1 or cells.lead_is_clear(
            report.results, report.score, strategies[winner], strategies[ranked[1]], (y, x), sign
        )
        picture[y, x] = (*colours[winner % len(colours)][:3], 1.0 if clear else 0.35)
        axes.text(x, y, str(winner + 1), ha="center", va="center", fontsize=8)
    axes.imshow(picture, origin="lower", aspect="auto")
    cells.decorate(axes, f"Best {_score_label(report.score).lower()}")
    legend = [
        Patch(color=colours[i % len(colours)], label=f"{i + 1}: {textwrap.shorten(s, 60)}")
        for i, s in enumerate(strategies)
    ]
    axes.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small", frameon=False)
    return _png(figure)


def _sensitivity(report: SweepReport) -> str:
    """One panel per swept field: the score along that field, per strategy."""
    fields = report.parameters[:MAX_SENSITIVITY_PANELS]
    bins = min(MAX_BINS, max(MIN_BINS, report.points // 4))
    levels = [_Level(report.results[field], bins) for field in fields]
    words = [level for level in levels if not level.numeric]  # words along x need room for their labels
    width = max([4.6] + [level.space()[0] * level.count + 1.2 for level in words])
    depth = max([0.0] + [level.space()[1] for level in words])
    columns = max(1, min(3, len(fields), int(MAX_FIGURE_WIDTH // width)))
    rows = math.ceil(len(fields) / columns)
    figure, panels = plt.subplots(
        rows, columns, figsize=(width * columns, (3.4 + depth) * rows), squeeze=False
    )
    best = _best_rows(report)
    strategies = report.strategies
    for axes, field, level in zip(panels.flat, fields, levels, strict=False):
        others = [p for p in report.parameters if p != field]
        # a strategy's own parameter says nothing about the other strategies
        owners = strategies if _owner(field) is None else strategies[_owner(field) : _owner(field) + 1]
        slices = {s: _slice(report.summary, s, best, field, others) for s in owners}
        sliced = all(part[field].nunique() > 1 for part in slices.values())
        for strategy in owners:
            colour = f"C{strategies.index(strategy) % 10}"
            if sliced:
                part = slices[strategy]
                part = part.iloc[np.argsort(level.positions(part[field]), kind="stable")]
                x = level.positions(part[field])
                mean = part[f"{report.score}_mean"].to_numpy()
                low, high = (
                    part[f"{report.score}_ci_low"].to_numpy(),
                    part[f"{report.score}_ci_high"].to_numpy(),
                )
            else:
                x, mean, low, high = level.binned(report.results, strategy, field, report.score)
            axes.plot(x, mean, marker="o", markersize=3, linestyle="-" if sliced else "--", color=colour)
            axes.fill_between(x, low, high, color=colour, alpha=0.15)
        level.ticks(axes)
        axes.set(xlabel=_wrapped(field), ylabel=_score_label(report.score))
        axes.grid(alpha=0.3)
    for axes in panels.flat[len(fields) :]:
        axes.set_visible(False)
    handles = [Line2D([], [], color=f"C{i % 10}", marker="o", markersize=3) for i in range(len(strategies))]
    labels = [textwrap.shorten(strategy, 60) for strategy in strategies]
    figure.legend(
        handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize="small", frameon=False
    )
    figure.tight_layout(rect=(0, 0.06 + 0.03 * math.ceil(len(labels) / 3), 1, 1))
    return _png(figure)


def _slice(
    summary: pd.DataFrame, strategy: str, best: pd.DataFrame, field: str, others: list[str]
) -> pd.DataFrame:
    """The strategy's points that differ from its best point in `field` only."""
    rows = summary[summary["strategy"] == strategy]
    anchor = best[best["strategy"] == strategy]
    if anchor.empty:
        return rows.iloc[:0]
    keep = np.ones(len(rows), dtype=bool)
    for other in others:
        keep &= (rows[other] == anchor[other].iloc[0]).to_numpy()
    return rows[keep]


class _Level:
    """Positions along one swept field: its distinct values (numbers as numbers, words in design
    order), or equal-width bins of a field with many values."""

    def __init__(self, values: pd.Series, bins: int = MAX_BINS):
        self.numeric = pd.api.types.is_numeric_dtype(values)
        distinct = values.drop_duplicates()
        self.binned_field = self.numeric and len(distinct) > MAX_LEVELS
        if self.binned_field:
            self.edges = np.linspace(values.min(), values.max(), bins + 1)
            self.order = list((self.edges[:-1] + self.edges[1:]) / 2)
            self.labels = [f"{self.edges[i]:.3g}–{self.edges[i + 1]:.3g}" for i in range(bins)]
        else:
            self.order = sorted(distinct) if self.numeric else list(distinct)
            self.labels = [_number(value) for value in self.order]
        self.count = len(self.order)

    def codes(self, values: pd.Series) -> np.ndarray:
        """The cell of each value: 0 .. count - 1."""
        if self.binned_field:
            return np.clip(
                np.searchsorted(self.edges, values.to_numpy(), side="right") - 1, 0, self.count - 1
            )
        index = {value: i for i, value in enumerate(self.order)}
        return values.map(index).to_numpy(dtype=int)

    def positions(self, values: pd.Series) -> np.ndarray:
        """Where values go on a line plot: themselves when numbers, else their place."""
        return values.to_numpy(dtype=float) if self.numeric else self.codes(values).astype(float)

    def binned(
        self, results: pd.DataFrame, strategy: str, field: str, score: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean and interval of the strategy's runs in each cell of the field."""
        runs = results[results["strategy"] == strategy]
        codes = self.codes(runs[field])
        bounds = metrics.SCORE[score].bounds if score in metrics.SCORE else (-np.inf, np.inf)
        stats = [
            metrics.interval(runs[score].to_numpy()[codes == i], bounds=bounds) for i in range(self.count)
        ]
        mean, _, low, high = (np.array(column, dtype=float) for column in zip(*stats, strict=True))
        x = np.array(self.order, dtype=float) if self.numeric else np.arange(self.count, dtype=float)
        return x, mean, low, high

    def ticks(self, axes: plt.Axes) -> None:
        if not self.numeric:
            axes.set_xticks(range(self.count), self.tick_labels())
            axes.tick_params(axis="x", labelrotation=90 if self.crowded() else 0, labelsize=TICK_SIZE)

    def tick_labels(self) -> list[str]:
        """Each value in full where it fits, wrapped over a few lines."""
        return [
            "\n".join(textwrap.wrap(label, LABEL_LINE, max_lines=LABEL_LINES, placeholder=" …")) or label
            for label in self.labels
        ]

    def widest(self) -> int:
        """Characters in the longest line of a tick label."""
        return max((len(line) for label in self.tick_labels() for line in label.split("\n")), default=1)

    def lines(self) -> int:
        return max((label.count("\n") + 1 for label in self.tick_labels()), default=1)

    def crowded(self) -> bool:
        """Whether labels side by side along x would run into each other: then they stand upright."""
        return self.count > 1 and self.widest() > 6

    def space(self) -> tuple[float, float]:
        """Inches a cell needs along x so its label fits, and the labels' depth below the axis."""
        if self.crowded():
            return max(0.4, self.lines() * LINE_HEIGHT * 1.2), self.widest() * CHAR_WIDTH
        return max(0.4, (self.widest() + 1) * CHAR_WIDTH), self.lines() * LINE_HEIGHT


class _Cells:
    """The map's grid: cells along the first axis field (x) and the second (y, if any)."""

    def __init__(self, results: pd.DataFrame, axes: tuple[str, ...], bins: int):
        self.fields = axes
        self.x = _Level(results[axes[0]], bins)
        self.y = _Level(results[axes[1]], bins) if len(axes) > 1 else _Level(pd.Series([""], dtype=object))
        self.shape = (self.y.count, self.x.count)

    def of(self, runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        y = self.y.codes(runs[self.fields[1]]) if len(self.fields) > 1 else np.zeros(len(runs), dtype=int)
        return y, self.x.codes(runs[self.fields[0]])

    def means(self, results: pd.DataFrame, score: str, strategy: str) -> np.ndarray:
        runs = results[results["strategy"] == strategy]
        values = runs[score].to_numpy(dtype=float)
        y, x = self.of(runs)
        total, count = np.zeros(self.shape), np.zeros(self.shape)
        finite = np.isfinite(values)
        np.add.at(total, (y[finite], x[finite]), values[finite])
        np.add.at(count, (y[finite], x[finite]), 1)
        with np.errstate(invalid="ignore"):
            return total / count

    def lead_is_clear(
        self,
        results: pd.DataFrame,
        score: str,
        winner: str,
        runner_up: str,
        cell: tuple[int, int],
        sign: float,
    ) -> bool:
        """Whether the winner beats the runner-up in the cell on paired runs (same point and replication)."""
        y, x = self.of(results)
        inside = results[(y == cell[0]) & (x == cell[1])]

        def runs(strategy: str) -> pd.Series:
            return inside[inside["strategy"] == strategy].set_index(["point", "replication"])[score]

        both = pd.concat({"a": runs(winner), "b": runs(runner_up)}, axis=1, join="inner").dropna()
        _, _, low, high = metrics.interval(sign * (both["a"] - both["b"]).to_numpy())
        return bool(low > 0)

    def panel_size(self) -> tuple[float, float]:
        """Inches of one map panel: cells big enough for their tick labels, and the labels."""
        cell, depth = self.x.space()
        row = max(0.3, self.y.lines() * LINE_HEIGHT * 1.2)
        width = max(3.6, cell * self.x.count + self.y.widest() * CHAR_WIDTH + 0.8)
        height = max(2.4, row * self.y.count + depth + 1.0)
        return width, height

    def decorate(self, axes: plt.Axes, title: str) -> None:
        axes.set_xticks(range(self.x.count), self.x.tick_labels())
        axes.tick_params(axis="x", labelrotation=90 if self.x.crowded() else 0, labelsize=TICK_SIZE)
        axes.set_yticks(range(self.y.count), self.y.tick_labels())
        axes.tick_params(axis="y", labelsize=TICK_SIZE)
        axes.set_xlabel(_wrapped(self.fields[0]), fontsize=8)
        if len(self.fields) > 1:
            axes.set_ylabel(_wrapped(self.fields[1]), fontsize=8)
        axes.set_title(title, fontsize=9)


def _map_bins(points: int) -> int:
    """Bins per axis of a map of a sampled design: about two points per cell."""
    return min(MAX_BINS, max(MIN_BINS, math.isqrt(points // 2)))


def _panels(count: int, cells: _Cells) -> tuple[plt.Figure, list[plt.Axes]]:
    width, height = cells.panel_size()
    columns = max(1, min(3, count, int(MAX_FIGURE_WIDTH // width)))  # wide panels: fewer a row
    rows = math.ceil(count / columns)
    figure, panels = plt.subplots(
        rows, columns, figsize=(width * columns + 1, height * rows), squeeze=False, layout="constrained"
    )  # constrained: room for every tick label between the panels
    return figure, list(panels.flat)


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- words and numbers --------------------------------------------------------------------


def _better(score: str) -> str:
    return metrics.SCORE[score].better if score in metrics.SCORE else "higher"


def _sign(score: str) -> float:
    return -1.0 if _better(score) == "lower" else 1.0


def _score_label(score: str) -> str:
    return metrics.SCORE[score].label if score in metrics.SCORE else score


def _number(value: object) -> str:
    """Whole money amounts with thousands separators, smaller numbers to four digits."""
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _owner(field: str) -> int | None:
    """The place in `strategies:` of the strategy whose parameter `field` is, if it is one."""
    match = re.match(r"strategies\[(\d+)\]", field)
    return int(match[1]) if match else None


def _compact(value: float) -> str:
    """A number in a few characters, for labels inside map cells."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _wrapped(text: str) -> str:
    return "\n".join(textwrap.wrap(text, 36, break_long_words=True)) or text
