"""The sweep report: the best parameters of every strategy with intervals, how a chosen score
changes over two swept fields, which strategy is best where, and how sensitive each strategy
is to one field at a time. One self-contained HTML file (figures embedded as PNG); every piece
of user text is escaped.
"""

from __future__ import annotations

import base64
import io
import math
import re
import textwrap
from dataclasses import dataclass
from html import escape

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # names are text: `$20 off` is no formula
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from market_sim import metrics  # noqa: E402
from market_sim.scenario import Scenario  # noqa: E402

MAX_LEVELS = 12  # distinct values shown one by one along an axis; more are binned
MAX_BINS = 8
MIN_BINS = 3
MAX_SENSITIVITY_PANELS = 6
TOP_POINTS = 10
MAX_FAILURES_SHOWN = 20

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.ci, .note { color: #666; font-size: .85em; }
.failure { color: #a00; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .8rem; }
img { max-width: 100%; }
.headline { border-left: 4px solid #1a7f37; background: #f6f8fa; padding: .6rem 1rem; }
code { background: #f3f3f3; padding: 0 .2em; }
"""


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
    """The whole report as one HTML string."""
    scenario = report.scenario
    parts = [f"<h1>Sweep: {escape(scenario.name)}</h1>", _overview(report)]
    if scenario.description:
        parts.append(f"<h2>Scenario</h2><pre>{escape(scenario.description)}</pre>")
    if report.failures:
        parts.append(_failures(report.failures))
    if report.summary.empty or report.score + "_mean" not in report.summary:
        parts.append("<p>No run finished, so there is nothing to compare.</p>")
    else:
        parts += _findings(report)
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Sweep: {escape(scenario.name)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _findings(report: SweepReport) -> list[str]:
    label = escape(_score_label(report.score))
    maps = " × ".join(f"<code>{escape(axis)}</code>" for axis in report.axes)
    return [
        f"<p class='headline'>{escape(headline(report))}</p>",
        f"<h2>Best parameters per strategy ({label})</h2>",
        _best_table(report),
        f"<h2>{label} over {maps}</h2>",
        "<p class='note'>Mean over replications (and over the other swept fields, where there are more "
        "than the two shown); one colour scale for every strategy.</p>",
        f"<img alt='{label} heatmaps' src='{_heatmaps(report)}'>",
        "<h2>Best strategy per region</h2>",
        "<p class='note'>Each cell shows the strategy with the best mean there. Faded cells: the paired "
        "difference to the runner-up (same replications) has a 95% interval that includes 0, so the "
        "lead may be noise.</p>",
        f"<img alt='best strategy per region' src='{_best_strategy_map(report)}'>",
        "<h2>One field at a time</h2>",
        "<p class='note'>Each strategy around its best point: one field varies, the others stay at the "
        "best point's values; bands are 95% intervals. Where the design has no such slice (a sampled "
        "design), the mean over every point in each bin of the field is shown instead, dashed. A "
        f"strategy's own parameter is drawn for that strategy only; at most {MAX_SENSITIVITY_PANELS} "
        "fields are shown.</p>",
        f"<img alt='sensitivity to each field' src='{_sensitivity(report)}'>",
        f"<h2>Top {TOP_POINTS} points</h2>",
        _top_table(report),
    ]


def _overview(report: SweepReport) -> str:
    scenario, summary = report.scenario, report.summary
    strategies = len(report.strategies)
    days = "days as swept" if "days" in report.parameters else f"{scenario.days} days each"
    replications = int(summary["replications"].max()) if len(summary) else 0
    rows = "".join(
        f"<tr><td><code>{escape(field)}</code></td><td>{escape(_values_text(report, field))}</td></tr>"
        for field in report.parameters
    )
    direction = {"lower": "lower is better", "": "higher shown as best"}.get(
        _better(report.score), "higher is better"
    )
    return (
        f"<p>{report.points} points ({escape(report.note)}) × {strategies} strategies × up to "
        f"{replications} replications, {days}, seed {scenario.seed}. Replication r "
        "meets the same shoppers and shocks at every point and for every strategy (common random "
        "numbers). Score: "
        f"<b>{escape(_score_label(report.score))}</b> of the focal seller ({direction}).</p>"
        f"<table><tr><th>Swept field</th><th>Values</th></tr>{rows}</table>"
        "<p class='note'>All numbers are in <code>results.csv</code> (one row per run) and "
        "<code>summary.csv</code> (one row per point and strategy) beside this file.</p>"
    )


def _values_text(report: SweepReport, parameter: str) -> str:
    values = (
        report.summary[parameter].drop_duplicates() if len(report.summary) else pd.Series([], dtype=object)
    )
    if pd.api.types.is_numeric_dtype(values) and len(values) > MAX_LEVELS:
        return f"{len(values)} values from {_number(values.min())} to {_number(values.max())}"
    shown = sorted(values) if pd.api.types.is_numeric_dtype(values) else list(values)
    return ", ".join(_number(value) for value in shown)


def _failures(failures: tuple[str, ...]) -> str:
    items = "".join(f"<li>{escape(failure)}</li>" for failure in failures[:MAX_FAILURES_SHOWN])
    more = len(failures) - MAX_FAILURES_SHOWN
    extra = f"<li>… and {more} more (the <code>failure</code> column of results.csv)</li>" if more > 0 else ""
    return f"<h2 class='failure'>Failed runs ({len(failures)})</h2><ul class='failure'>{items}{extra}</ul>"


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


def _best_table(report: SweepReport) -> str:
    best = _best_rows(report)
    head = "".join(f"<th><code>{escape(p)}</code></th>" for p in report.parameters)
    rows = []
    for _, row in best.iterrows():
        strategy = str(row["strategy"])
        own = own_fields(report, strategy)
        if not own:  # nothing of its own swept: its "best point" is only the kindest market
            rows.append(
                f"<tr><td>{escape(strategy)}</td><td colspan='{len(report.parameters) + 3}' class='note'>no "
                "parameter of its own swept: see the best strategy per region</td></tr>"
            )
            continue
        values = "".join(
            f"<td>{escape(_number(row[p]))}{' ⚠ edge' if at_edge(report, p, row[p]) else ''}</td>"
            if p in own
            else "<td>·</td>"
            for p in report.parameters
        )
        ties = _tied_points(report, strategy, row["point"])
        rows.append(
            f"<tr><td>{escape(_swept_name(strategy, own))}</td>{values}"
            f"<td>{_interval(row, report.score)}</td>"
            f"<td>{int(row['replications'])}</td><td>{ties}</td></tr>"
        )
    return (
        f"<table><tr><th>Strategy</th>{head}<th>{escape(_score_label(report.score))} (95% CI)</th>"
        f"<th>Replications</th><th>Points as good</th></tr>{''.join(rows)}</table>"
        "<p class='note'>The best point of each strategy over its own parameters (the "
        "<code>optimize()</code> of a backtester); · marks a market condition or another strategy's "
        "parameter, which is no choice of this strategy. ⚠ edge: the best value is the lowest or "
        "highest swept, so the optimum may lie beyond the grid. "
        "“Points as good”: other points whose paired difference to the best (same replications) has a "
        "95% interval that includes 0; many of them mean a flat optimum, or too few replications to "
        "tell the points apart.</p>"
    )


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


def _top_table(report: SweepReport) -> str:
    summary = report.summary
    order = (summary[report.score + "_mean"] * _sign(report.score)).sort_values(
        ascending=False, kind="stable"
    )
    top = summary.loc[order.dropna().index[:TOP_POINTS]]
    head = "".join(f"<th><code>{escape(p)}</code></th>" for p in report.parameters)
    rows = "".join(
        f"<tr><td>{int(row['point'])}</td><td>{escape(str(row['strategy']))}</td>"
        + "".join(f"<td>{escape(_number(row[p]))}</td>" for p in report.parameters)
        + f"<td>{_interval(row, report.score)}</td></tr>"
        for _, row in top.iterrows()
    )
    label = escape(_score_label(report.score))
    return f"<table><tr><th>Point</th><th>Strategy</th>{head}<th>{label} (95% CI)</th></tr>{rows}</table>"


def _interval(row: pd.Series, score: str) -> str:
    mean, low, high = row[f"{score}_mean"], row[f"{score}_ci_low"], row[f"{score}_ci_high"]
    if pd.isna(mean):
        return "–"
    interval = "" if pd.isna(low) else f"<br><span class='ci'>[{_number(low)}, {_number(high)}]</span>"
    return f"{_number(mean)}{interval}"


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
    figure, axes = plt.subplots(
        figsize=(max(5.0, 0.6 * cells.x.count + 3), max(3.0, 0.45 * cells.y.count + 2))
    )
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
    columns = min(3, len(fields))
    rows = math.ceil(len(fields) / columns)
    figure, panels = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
    best = _best_rows(report)
    strategies = report.strategies
    for axes, field in zip(panels.flat, fields, strict=False):
        others = [p for p in report.parameters if p != field]
        # a strategy's own parameter says nothing about the other strategies
        owners = strategies if _owner(field) is None else strategies[_owner(field) : _owner(field) + 1]
        slices = {s: _slice(report.summary, s, best, field, others) for s in owners}
        sliced = all(part[field].nunique() > 1 for part in slices.values())
        level = _Level(report.results[field], min(MAX_BINS, max(MIN_BINS, report.points // 4)))
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
            axes.set_xticks(range(self.count), [textwrap.shorten(label, 18) for label in self.labels])


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

    def decorate(self, axes: plt.Axes, title: str) -> None:
        axes.set_xticks(range(self.x.count), [textwrap.shorten(label, 14) for label in self.x.labels])
        axes.tick_params(axis="x", labelrotation=45 if self.x.count > 6 else 0, labelsize=7)
        axes.set_yticks(range(self.y.count), [textwrap.shorten(label, 14) for label in self.y.labels])
        axes.tick_params(axis="y", labelsize=7)
        axes.set_xlabel(_wrapped(self.fields[0]), fontsize=8)
        if len(self.fields) > 1:
            axes.set_ylabel(_wrapped(self.fields[1]), fontsize=8)
        axes.set_title(title, fontsize=9)


def _map_bins(points: int) -> int:
    """Bins per axis of a map of a sampled design: about two points per cell."""
    return min(MAX_BINS, max(MIN_BINS, math.isqrt(points // 2)))


def _panels(count: int, cells: _Cells) -> tuple[plt.Figure, list[plt.Axes]]:
    columns = min(3, count)
    rows = math.ceil(count / columns)
    width = max(3.6, 0.45 * cells.x.count + 1.8)
    height = max(2.4, 0.35 * cells.y.count + 1.6)
    figure, panels = plt.subplots(rows, columns, figsize=(width * columns + 1, height * rows), squeeze=False)
    figure.subplots_adjust(hspace=0.6, wspace=0.6)  # room for binned tick labels between panels
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
