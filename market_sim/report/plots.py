"""Report figures, each returned as an embeddable PNG data URI (or None when it does not apply).

Every strategy keeps one colour in every figure; rivals are dark, dashed and told apart by
colour and dash; textbook lines are black and dotted; event days are shaded on every time chart.
Legends are set large enough to read on a projector.

The run report's figures (`DRAWN`) are laid out once, in inches measured from the texts they
hold (`_fixed_layout`): matplotlib draws each figure once, instead of three times for a tight
layout and a tight bounding box, and PNGs are compressed at zlib's fastest level. A figure's
pixels may change with matplotlib; its numbers come from the tables (figure_data.py).

A painter process (painters.py) makes the blank figures ahead, while the runs go on (`prepare`):
each figure's axes, with their first ticks, made by the very `plt.subplots` call the figure
will make (`_subplots` hands it over), so that after the runs only the data is drawn.
"""

from __future__ import annotations

import base64
import io
import math
import sys
from collections.abc import Iterable

import matplotlib

from market_sim.report import agg  # matplotlib's Agg, text drawn a string at a time

if "ipykernel" not in sys.modules:  # in Jupyter the notebook keeps its backend for its own plots
    matplotlib.use(agg.BACKEND)
    matplotlib.rcParams["text.parse_math"] = False  # names are text: `$20 off` is no formula
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from market_sim.metrics import SCORE  # noqa: E402
from market_sim.report.data import Results  # noqa: E402
from market_sim.report.figure_data import Line  # noqa: E402

THEORY_STYLES = (":", "-.", (0, (8, 3)), (0, (1, 4)))
PAID_MARKERS = ("o", "s", "^", "D", "v", "P")
RIVAL_STYLES = ("--", (0, (6, 2)), (0, (3, 1, 1, 1)), (0, (8, 3, 2, 3)))
FAIRNESS = ("price_gap", "demand_gap", "surplus_gap", "no_purchase_gap", "price_gini", "share_above_usual")
RIVAL_COLOURS = ("#4d4d4d", "#8c510a", "#01665e", "#762a83")  # dark, apart from the strategies' tab10
PANEL_WIDTH, PANEL_HEIGHT = 5.0, 2.7
NEUTRAL = "#333"  # legend entries that stand for "the panel's strategy colour"
EVENT_SHADE = {"color": "#f2c14e", "alpha": 0.22, "linewidth": 0}
SOLD_OUT = "sold out (share of replications, up to the full height)"
LEGEND_SIZE = 10.5  # points: readable on a projector at the report's width
DPI = 100
TICKS_AHEAD = 8  # major ticks made ahead on each axis of a prepared figure (more are made if needed)
PNG = {"compress_level": 1}  # zlib's fastest: files about 10% larger, encoded several times faster
# fixed margins (inches) around axes: tick labels and an axis label; a title above
TICKS_LEFT, TICKS_BELOW, TITLE_ABOVE, EDGE = 0.85, 0.55, 0.35, 0.15
ROOM = 0.1  # inches kept free beside measured tick and axis labels
plt.rcParams.update({"legend.fontsize": LEGEND_SIZE, "axes.titlesize": 11.5, "axes.labelsize": 10.5})

Call = tuple[tuple, dict]  # the arguments of one `plt.subplots` call
WIDE = ((), {"figsize": (9.5, 4.2)})  # cumulative profit, and against the baseline
HISTOGRAM = ((), {"figsize": (9.5, 3.6)})
SIDE_BY_SIDE = ((1, 2), {"figsize": (9.5, 3.6)})  # segments
RESPONSE = ((1, 2), {"figsize": (9.5, 3.8)})
_prepared: dict[str, list[tuple[plt.Figure, object]]] = {}  # blank figures made ahead, by call


def _subplots(call: Call) -> tuple[plt.Figure, object]:
    """`plt.subplots(*args, **kwargs)`: the blank figure `prepare` made with these very
    arguments if there is one, else a new one."""
    args, kwargs = call
    made = _prepared.get(repr(call))
    return made.pop() if made else plt.subplots(*args, **kwargs)


def prepare(strategies: int, segments: int, stock: bool, figures: Iterable[str]) -> None:
    """Make ahead the blank figures that `figures` (names of the run report's figures) ask for
    when `strategies` strategies finish, in a market of `segments` consumer segments, whose
    focal seller has limited `stock`: their axes and first ticks, about a quarter of a figure's
    time. A figure asked for with other arguments (a strategy failed) is made when it is asked for."""
    for figure, _ in (made for kept in _prepared.values() for made in kept):
        plt.close(figure)
    _prepared.clear()
    calls = {
        "stock": _panel_call(strategies) if stock else None,
        "price_paths": _panel_call(strategies),
        "fairness": _fairness_call(strategies, segments),
        "cumulative_profit": WIDE,
        "profit_difference": WIDE if strategies > 1 else None,
        "price_distribution": HISTOGRAM,
        "segments": SIDE_BY_SIDE if segments > 1 else None,
    }
    for call in (calls.get(name) for name in figures):
        if call is None:
            continue
        args, kwargs = call
        figure, axes = plt.subplots(*args, **kwargs)
        for ax in np.ravel(axes):
            ax.xaxis.get_major_ticks(TICKS_AHEAD)
            ax.yaxis.get_major_ticks(TICKS_AHEAD)
        _prepared.setdefault(repr(call), []).append((figure, axes))


def _shade_events(ax: plt.Axes, results: Results) -> Patch | None:
    """Shade the event days of the scenario; the patch for the legend, if any."""
    shade = None
    for event in results.scenario.market.events:
        shade = ax.axvspan(event.first_day - 0.5, event.first_day + event.days - 0.5, **EVENT_SHADE)
    return shade


def rival_label(name: str) -> str:
    """`rival big_rival`, but never `rival rival`."""
    return name if name.lower().startswith("rival") else f"rival {name}"


def colours(results: Results) -> dict[str, str]:
    """One colour per strategy, in the scenario's order."""
    palette = plt.get_cmap("tab10" if len(results.strategies) <= 10 else "tab20").colors
    return {
        name: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, name in enumerate(results.strategies)
    }


def _data_uri(figure: plt.Figure, tight: bool = True) -> str:
    """The figure as a PNG data URI; `tight=False` for a figure laid out by `_fixed_layout`
    (a tight bounding box costs another drawing of the whole figure)."""
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=DPI,
        bbox_inches="tight" if tight else None,
        metadata={"Software": None},
        pil_kwargs=dict(PNG),
    )
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _text_width(figure: plt.Figure, texts, size: float | str = LEGEND_SIZE) -> float:
    """The widest of `texts` in inches, at font `size` (measured by the renderer, not drawn)."""
    renderer = figure.canvas.get_renderer()
    font = FontProperties(size=size)
    widths = [renderer.get_text_width_height_descent(str(t), font, ismath=False)[0] for t in texts]
    return max(widths, default=0.0) / figure.dpi


def _legend_width(figure: plt.Figure, labels) -> float:
    """Inches a one-column legend of `labels` takes: the text, its handle and the paddings."""
    return _text_width(figure, labels) + 4.3 * LEGEND_SIZE / 72


def _legend_rows(figure: plt.Figure, labels, columns: int) -> tuple[int, int]:
    """(columns, rows) of a legend across the figure's width: fewer columns when labels are long."""
    width = _legend_width(figure, labels)
    columns = max(1, min(columns, int(figure.get_figwidth() // max(width, 1e-9)), len(labels) or 1))
    return columns, math.ceil(len(labels) / columns)


def _fixed_layout(
    figure: plt.Figure,
    rows: int = 1,
    columns: int = 1,
    left: float = TICKS_LEFT,
    right: float = EDGE,
    top: float = TITLE_ABOVE,
    bottom: float = TICKS_BELOW,
    row_gap: float = TITLE_ABOVE + TICKS_BELOW,
    column_gap: float = TICKS_LEFT,
    widen: float = 0.0,
) -> None:
    """Place the axes grid with margins and gaps in inches; `widen` adds inches on the right
    (for a legend beside the axes) keeping the axes their size. The left margin and the gaps
    between columns grow to hold the y tick labels and axis labels they must."""
    first, others = _y_labels_room(figure)
    left, column_gap = max(left, first + ROOM), max(column_gap, others + ROOM)
    width, height = figure.get_size_inches()
    if widen:
        width += widen
        figure.set_size_inches(width, height)
        right += widen
    axes_width = max(0.5, (width - left - right - (columns - 1) * column_gap) / columns)
    axes_height = max(0.5, (height - top - bottom - (rows - 1) * row_gap) / rows)
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=column_gap / axes_width,
        hspace=row_gap / axes_height,
    )


def _y_labels_room(figure: plt.Figure) -> tuple[float, float]:
    """Inches the y tick labels and axis label of the axes take to their left: the most in the
    first column, and in the others (0 where none is shown). Measured, so that long tick
    labels (−100000) push the axes right rather than the axis label off the figure."""
    renderer = figure.canvas.get_renderer()
    room = [0.0, 0.0]
    for ax in figure.axes:
        place, drawn = ax.get_subplotspec(), ax.yaxis.get_tightbbox(renderer)
        if ax.get_visible() and place is not None and drawn is not None and drawn.width:
            column = 0 if place.colspan.start == 0 else 1
            room[column] = max(room[column], (ax.bbox.x0 - drawn.x0) / figure.dpi)
    return room[0], room[1]


def _legend_beside(
    figure: plt.Figure, axes: plt.Axes, labels, rows: int = 1, columns: int = 1, **layout
) -> None:
    """A legend to the right of `axes` (labels as given to it) and the fixed layout that makes room."""
    widen = _legend_width(figure, labels) + 0.1
    _fixed_layout(figure, rows, columns, widen=widen, **layout)
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _spread(ax: plt.Axes, line: Line, colour: str) -> None:
    """A daily mean over replications, in a band from their 10th to 90th percentile."""
    ax.fill_between(line.days, line.low, line.high, color=colour, alpha=0.2, linewidth=0)
    ax.plot(line.days, line.mean, color=colour, linewidth=1.8)


def _band(ax: plt.Axes, line: Line, colour: str, label: str) -> None:
    """A daily mean with the 95% interval of that mean."""
    ax.plot(line.days, line.mean, color=colour, label=label, linewidth=1.8)
    ax.fill_between(line.days, line.low, line.high, color=colour, alpha=0.18, linewidth=0)


def cumulative_profit(results: Results) -> str | None:
    """Mean cumulative profit of the focal seller per strategy with its 95% band, and theory."""
    data = results.figures
    if not data.strategies:
        return None
    figure, axes = _subplots(WIDE)
    for strategy, colour in colours(results).items():
        if strategy in data.strategies:
            _band(axes, data.strategies[strategy].cumulative, colour, strategy)
    _theory_profits(axes, results)
    if _shade_events(axes, results) is not None:
        axes.plot(
            [], [], marker="s", linestyle="none", markersize=9, color=EVENT_SHADE["color"], label="event days"
        )
    _annotate_leftovers(axes, results)
    axes.set(xlabel="day", ylabel="cumulative profit", title=f"Cumulative profit of {results.focal}")
    axes.axhline(0, color="#999", linewidth=0.6)
    axes.legend(loc="upper left", frameon=False)
    axes.grid(alpha=0.3)
    _fixed_layout(figure)
    return _data_uri(figure, tight=False)


def _annotate_leftovers(axes: plt.Axes, results: Results) -> None:
    """Point at the last day's drop: the cost of the units left is charged then (less salvage)."""
    data = results.figures
    if not data.leftover > 0:
        return
    day, top = data.last_day, data.top_cumulative
    axes.annotate(
        f"day {day}: cost of the units left\ncharged (mean {data.leftover:,.0f} units)",
        xy=(day, top * 0.5),
        xytext=(-12, 0),
        textcoords="offset points",
        ha="right",
        va="center",
        fontsize=LEGEND_SIZE,
        arrowprops={"arrowstyle": "->", "color": "#555"},
    )


def profit_difference(results: Results) -> str | None:
    """Cumulative profit difference of each strategy to the baseline, paired replication by
    replication, with the 95% band of its mean: small differences that vanish on the
    cumulative-profit axis show here."""
    data = results.figures.strategies
    if results.baseline not in data or len(results.strategies) < 2:
        return None
    figure, axes = _subplots(WIDE)
    for strategy, colour in colours(results).items():
        line = data[strategy].difference if strategy in data else None
        if line is not None:
            _band(axes, line, colour, strategy)
    if _shade_events(axes, results) is not None:
        axes.plot(
            [], [], marker="s", linestyle="none", markersize=9, color=EVENT_SHADE["color"], label="event days"
        )
    axes.axhline(0, color="black", linewidth=0.9)
    axes.set(
        xlabel="day",
        ylabel="cumulative profit − baseline",
        title=f"Cumulative profit against the baseline, {results.baseline}",
    )
    _legend_beside(figure, axes, axes.get_legend_handles_labels()[1])
    axes.grid(alpha=0.3)
    return _data_uri(figure, tight=False)


def _theory_profits(axes: plt.Axes, results: Results) -> None:
    theory = results.theory
    if theory is None:
        return
    for style, line in zip(THEORY_STYLES, theory.profits, strict=False):
        axes.plot(
            np.arange(len(line.values)),
            line.values,
            color="black",
            linestyle=style,
            label=f"theory: {line.label}",
        )
    last = results.scenario.days - 1
    for marker, (label, value) in zip("D*^v", theory.endpoints, strict=False):
        axes.plot(
            [last],
            [value],
            marker=marker,
            color="black",
            linestyle="none",
            markersize=7,
            label=f"theory: {label}",
        )


def _panel_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of a grid of `count` panels."""
    columns = 1 if count == 1 else 2
    return math.ceil(count / columns), columns


def _panel_call(count: int) -> Call:
    rows, columns = _panel_shape(count)
    size = (PANEL_WIDTH * columns, PANEL_HEIGHT * rows + 0.6)
    return (rows, columns), {"figsize": size, "sharex": True, "sharey": True, "squeeze": False}


def _panel_grid(count: int) -> tuple[plt.Figure, list[plt.Axes]]:
    figure, grid = _subplots(_panel_call(count))
    axes = list(grid.ravel())
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def _finish_panels(figure: plt.Figure, axes: list[plt.Axes], handles: dict, ylabel: str) -> None:
    """Axis labels on the outer panels only (the axes are shared: fewer texts to lay out and
    draw), one legend above them all, a fixed layout."""
    grid_rows, grid_columns = _panel_shape(len(axes))
    for i, ax in enumerate(axes):
        lowest = i + grid_columns >= len(axes)  # no panel below it
        ax.tick_params(labelbottom=lowest)
        if lowest:
            ax.set_xlabel("day", fontsize="small")
        if i % grid_columns == 0:
            ax.set_ylabel(ylabel, fontsize="small")
    columns, rows = _legend_rows(figure, list(handles), 2 if len(axes) > 1 else 1)
    figure.legend(handles.values(), handles.keys(), loc="upper center", ncol=columns, frameon=False)
    top = TITLE_ABOVE + 0.25 * rows + 0.15
    _fixed_layout(figure, grid_rows, grid_columns, top=top, row_gap=TITLE_ABOVE + 0.15, column_gap=0.3)


def price_paths(results: Results) -> str | None:
    """One panel per strategy: the focal seller's posted price (mean and 10–90% band across
    replications), the average price its buyers paid, every rival's price, and theory lines."""
    data = results.figures.strategies
    if not data:
        return None
    rivals = [s.name for s in results.scenario.sellers if not s.focal]
    figure, axes = _panel_grid(len(results.strategies))
    handles: dict[str, Line2D] = {
        "posted base price (mean, 10–90% band)": Line2D([], [], color=NEUTRAL, linewidth=1.8)
    }
    for ax, (strategy, colour) in zip(axes, colours(results).items(), strict=True):
        days = data[strategy]
        _spread(ax, days.price, colour)
        every = max(1, results.scenario.days // 12)
        for (label, paid), marker in zip(days.paid.items(), PAID_MARKERS, strict=False):
            if days.paid_differs:  # buyers paid something other than the posted price on some day
                style = {
                    "color": colour,
                    "linestyle": "--",
                    "linewidth": 1.2,
                    "marker": marker,
                    "markersize": 4,
                }
                ax.plot(paid, markevery=every, **style)
                handles[label] = Line2D([], [], **{**style, "color": NEUTRAL})
        for i, rival in enumerate(rivals):
            mean = days.rivals.get(rival, pd.Series(dtype=float))
            style = {
                "color": RIVAL_COLOURS[i % len(RIVAL_COLOURS)],
                "linestyle": RIVAL_STYLES[i % len(RIVAL_STYLES)],
            }
            handles[rival_label(rival)] = ax.plot(mean, linewidth=1.3, **style)[0]
        shade = _shade_events(ax, results)
        if shade is not None:
            handles["event days"] = shade
        for style, line in zip(THEORY_STYLES, results.theory.prices if results.theory else (), strict=False):
            handles[f"theory: {line.label}"] = ax.plot(
                line.values, color="black", linestyle=style, linewidth=1.1
            )[0]
        ax.set_title(strategy, fontsize="medium", color=colour)
        ax.grid(alpha=0.3)
    _finish_panels(figure, axes, handles, "price")
    return _data_uri(figure, tight=False)


def price_response(results: Results) -> str | None:
    """Units and profit against price: the textbook curves at a fixed price, and where each
    strategy landed (its average price paid; mean and 95% interval)."""
    theory = results.theory
    if theory is None or theory.profit_at is None or theory.units_at is None:
        return None
    summary = results.summary.set_index("strategy")
    prices = summary["avg_price_paid_mean"].dropna()
    low, high = theory.price_range
    if len(prices):
        low, high = min(low, prices.min() * 0.9), max(high, prices.max() * 1.1)
    grid = np.linspace(low, high, 300)
    figure, (left, right) = _subplots(RESPONSE)
    left.plot(
        grid,
        [theory.units_at(p) for p in grid],
        color="black",
        linestyle=":",
        label="theory at a fixed price",
    )
    right.plot(
        grid,
        [theory.profit_at(p) for p in grid],
        color="black",
        linestyle=":",
        label="theory at a fixed price",
    )
    for strategy, colour in colours(results).items():
        if strategy not in prices.index:
            continue
        row = summary.loc[strategy]
        for ax, score in ((left, "units"), (right, "profit")):
            mean = row[f"{score}_mean"]
            error = np.array([[mean - row[f"{score}_ci_low"]], [row[f"{score}_ci_high"] - mean]])
            ax.errorbar(
                row["avg_price_paid_mean"],
                mean,
                yerr=np.nan_to_num(error),
                fmt="o",
                color=colour,
                capsize=3,
                label=strategy,
            )
    for line, style in zip(theory.prices, THEORY_STYLES, strict=False):
        if np.ptp(line.values) == 0:
            right.axvline(line.values[0], color="#444", linestyle=style, linewidth=0.9)
    left.set(xlabel="average price paid", ylabel=f"units over {results.scenario.days} days", title="Demand")
    right.set(xlabel="average price paid", ylabel=f"profit over {results.scenario.days} days", title="Profit")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    _legend_beside(figure, right, right.get_legend_handles_labels()[1], columns=2)
    return _data_uri(figure, tight=False)


def stock(results: Results) -> str | None:
    """One panel per strategy: units on hand each evening, the share of replications sold out
    that day (red bars rising from the bottom: the panel's full height is every replication),
    and the days deliveries arrived."""
    data = results.figures
    if not data.has_inventory:
        return None
    figure, axes = _panel_grid(len(results.strategies))
    reorder = results.scenario.focal.inventory.reorder_point
    handles: dict[str, object] = {}
    for ax, (strategy, colour) in zip(axes, colours(results).items(), strict=True):
        days = data.strategies[strategy]
        _spread(ax, days.inventory, colour)
        handles["stock on hand (mean, 10–90% band)"] = Line2D([], [], color=NEUTRAL, linewidth=1.8)
        if reorder is not None:
            handles["reorder point"] = ax.axhline(reorder, color="#888", linestyle="--", linewidth=0.9)
        out, delivered = days.sold_out, days.delivered
        edges = np.append(out.index.to_numpy() - 0.5, out.index[-1] + 0.5)  # one patch, not one a day
        handles[SOLD_OUT] = ax.stairs(  # heights in fractions of the panel: no second axis to draw
            out.to_numpy(), edges, fill=True, color="#d33", alpha=0.45, transform=ax.get_xaxis_transform()
        )
        came = delivered[delivered > 0]
        if len(came):
            handles["delivery arrived"] = ax.scatter(
                came.index,
                np.full(len(came), days.inventory_max * 1.04),
                marker="v",
                color="#2a2",
                alpha=np.clip(came.to_numpy(), 0.3, 1),
            )
        shade = _shade_events(ax, results)
        if shade is not None:
            handles["event days"] = shade
        ax.set_title(strategy, fontsize="medium", color=colour)
        ax.grid(alpha=0.3)
    _finish_panels(figure, axes, handles, "units on hand")
    return _data_uri(figure, tight=False)


def segments(results: Results) -> str | None:
    """Units bought from the focal seller and the average price paid, per segment and strategy."""
    table = results.segment_summary
    if table.empty or table["segment"].nunique() < 2:
        return None
    names = list(dict.fromkeys(table["segment"]))
    figure, (left, right) = _subplots(SIDE_BY_SIDE)
    width = 0.8 / max(1, len(results.strategies))
    for i, (strategy, colour) in enumerate(colours(results).items()):
        rows = table[table["strategy"] == strategy].set_index("segment").reindex(names)
        x = np.arange(len(names)) + (i - (len(results.strategies) - 1) / 2) * width
        for ax, score in ((left, "units"), (right, "avg_price_paid")):
            mean = rows[f"{score}_mean"].to_numpy(dtype=float)
            error = np.nan_to_num(
                [
                    mean - rows[f"{score}_ci_low"].to_numpy(float),
                    rows[f"{score}_ci_high"].to_numpy(float) - mean,
                ]
            )
            ax.bar(x, np.nan_to_num(mean), width, yerr=error, color=colour, label=strategy, capsize=2)
    for ax, title in ((left, "Units bought per replication"), (right, "Average price paid")):
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_title(title, fontsize="medium")
        ax.grid(alpha=0.3, axis="y")
    _legend_beside(figure, right, right.get_legend_handles_labels()[1], columns=2, bottom=0.4)
    return _data_uri(figure, tight=False)


def fairness(results: Results) -> str | None:
    """Fairness scores per strategy (mean and 95% interval): the four gaps between segments of
    theory.md §6, the Gini of prices paid and the share of purchases above the usual price."""
    summary = results.summary.set_index("strategy")
    if summary.empty:
        return None
    shown = _fairness_shown(len(results.scenario.consumers.segments))
    values = summary[[f"{score}_mean" for score in shown]].to_numpy(dtype=float)
    if np.nan_to_num(np.abs(values)).max() < 1e-12:
        return None
    call = _fairness_call(len(results.strategies), len(results.scenario.consumers.segments))
    (rows, columns), _ = call
    figure, grid = _subplots(call)
    order = [s for s in results.strategies if s in summary.index]
    rows_in_order = summary.loc[order]  # (one selection: a selection per score and column costs)
    palette = colours(results)
    y = np.arange(len(order))[::-1]
    for ax, score in zip(grid.ravel(), shown, strict=False):
        mean = rows_in_order[f"{score}_mean"].to_numpy(dtype=float)
        low = rows_in_order[f"{score}_ci_low"].to_numpy(dtype=float)
        high = rows_in_order[f"{score}_ci_high"].to_numpy(dtype=float)
        ax.barh(
            y,
            np.nan_to_num(mean),
            xerr=np.nan_to_num([mean - low, high - mean]),
            color=[palette[s] for s in order],
            capsize=2,
        )
        ax.set_title(SCORE[score].label, fontsize="medium")
        ax.grid(alpha=0.3, axis="x")
    grid[0, 0].set_yticks(y, order)
    for ax in grid[:, 0]:
        ax.tick_params(axis="y", labelsize="small")
    for ax in grid.ravel()[len(shown) :]:
        ax.set_visible(False)
    _fixed_layout(figure, rows, columns, bottom=0.35, row_gap=TITLE_ABOVE + 0.35, column_gap=0.3)
    _fit_titles(figure)
    return _data_uri(figure, tight=False)


def _fit_titles(figure: plt.Figure) -> None:
    """Set the title of each axes wider than its axes in a smaller font that fits (a long score
    name over a narrow panel would run into the next panel or off the figure)."""
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        title = ax.title
        width = title.get_window_extent(renderer).width if ax.get_visible() and title.get_text() else 0.0
        if width > ax.bbox.width:
            title.set_fontsize(title.get_fontsize() * ax.bbox.width / width * 0.98)


def _fairness_shown(segments: int) -> tuple[str, ...]:
    """The fairness scores drawn: the gaps between segments only when there are several."""
    return FAIRNESS if segments > 1 else FAIRNESS[4:]


def _fairness_call(strategies: int, segments: int) -> Call:
    shown = _fairness_shown(segments)
    columns = 3 if len(shown) > 2 else 2
    rows = math.ceil(len(shown) / columns)
    height = 0.35 * strategies + 1.2
    return (rows, columns), {"figsize": (10, height * rows), "sharey": True, "squeeze": False}


def price_distribution(results: Results) -> str | None:
    """Histogram of the prices buyers paid the focal seller, weighted by units, per strategy."""
    data = results.figures
    bins = data.price_bins
    if bins is None:
        return None
    figure, axes = _subplots(HISTOGRAM)
    for strategy, colour in colours(results).items():
        days = data.strategies.get(strategy)
        if days is None or days.paid_share is None:
            continue
        axes.hist(  # the shares, one per bin, drawn as matplotlib bins them
            bins[:-1],
            bins=bins,
            weights=days.paid_share,
            histtype="step",
            linewidth=1.8,
            color=colour,
            label=strategy,
        )
    axes.set(xlabel="price paid", ylabel="share of units", title=f"Prices paid to {results.focal}")
    _legend_beside(figure, axes, axes.get_legend_handles_labels()[1])
    axes.grid(alpha=0.3)
    return _data_uri(figure, tight=False)


def warm_up() -> None:
    """Load the fonts, the text layout and the PNG encoder once, before a figure is wanted."""
    figure, axes = plt.subplots(figsize=(1, 1))
    axes.set_title("0")
    _data_uri(figure, tight=False)


GROUP_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")  # Dark2
MAX_FEATURE_PANELS = 3


def personal_prices(results: Results) -> str | None:
    """Small multiples of the average price each strategy that set personal prices charged its
    customers against their observable features (a row per strategy, a column per feature), one
    line per group of consumers (the hidden segments, coloured) and the best uniform price dashed;
    from shoppers.csv, pooled over replications. None when no strategy set personal prices."""
    table = results.shoppers
    if table.empty:
        return None
    strategies = [s for s in results.strategies if s in set(table["strategy"])]
    features = list(dict.fromkeys(table["feature"]))[:MAX_FEATURE_PANELS]
    groups = list(dict.fromkeys(table["group"]))
    hidden = dict(zip(table["group"], table["hidden"], strict=False))
    colour = {g: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, g in enumerate(groups)}
    strategy_colour = colours(results)
    cells = (
        table.assign(weighted=table["value"] * table["buyers"])
        .groupby(["strategy", "feature", "bin", "group"], sort=False)[
            ["buyers", "units", "revenue", "weighted"]
        ]
        .sum()
        .reset_index()
    )
    cells = cells.assign(value=cells["weighted"] / cells["buyers"], price=cells["revenue"] / cells["units"])
    uniform = table.groupby(["strategy", "replication"])["uniform_price"].first().groupby("strategy").mean()
    figure, grid = plt.subplots(
        len(strategies),
        len(features),
        figsize=(PANEL_WIDTH * len(features), PANEL_HEIGHT * len(strategies) + 0.6),
        sharey=True,
        squeeze=False,
    )
    for row, strategy in enumerate(strategies):
        for column, feature in enumerate(features):
            ax = grid[row][column]
            panel = cells[(cells["strategy"] == strategy) & (cells["feature"] == feature)]
            for group in groups:
                line = panel[panel["group"] == group].sort_values("bin")
                ax.plot(line["value"], line["price"], marker="o", color=colour[group], linewidth=1.6)
            ax.axhline(uniform[strategy], color="black", linestyle="--", linewidth=1.2)
            ax.set_title(strategy, color=strategy_colour.get(strategy, NEUTRAL), fontsize="medium")
            ax.set_xlabel(feature, fontsize="small")
            ax.set_ylabel("average price paid", fontsize="small")
            ax.grid(alpha=0.3)
    handles = {
        f"{group} (hidden)" if hidden[group] else group: Line2D([], [], color=colour[group], marker="o")
        for group in groups
    }
    handles["best uniform price"] = Line2D([], [], color="black", linestyle="--")
    _finish_legend(figure, handles)
    return _data_uri(figure)


def _finish_legend(figure: plt.Figure, handles: dict) -> None:
    """One legend above every panel."""
    columns = min(len(handles), 4)
    rows = math.ceil(len(handles) / columns)
    figure.legend(handles.values(), handles.keys(), loc="upper center", ncol=columns, frameon=False)
    height = figure.get_figheight()
    figure.tight_layout(rect=(0, 0, 1, 1 - (0.25 * rows + 0.1) / height))
