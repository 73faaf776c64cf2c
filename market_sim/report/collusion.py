"""The report's section on learning and collusion (Calvano et al. 2020; theory.md §10): where
learners ran to convergence, the profit-gain index Δ per replication, the prices learning
settled into, and the impulse response to a one-day deviation; laid out by
templates/run_collusion.html."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from market_sim.metrics import END_DAYS, interval
from market_sim.report.data import Results
from market_sim.report.template import render

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    from markupsafe import Markup

SHOWN_DAYS = 30  # days of limit play drawn per replication
SHOWN_REPLICATIONS = 3


def section(results: Results) -> Markup | str:
    """The collusion section (templates/run_collusion.html), or "" when no strategy ran a
    learning experiment."""
    scores = results.scores
    if scores.empty or "converged" not in scores or scores["converged"].isna().all():
        return ""
    learning = [
        s for s in results.strategies if scores.loc[scores["strategy"] == s, "converged"].notna().any()
    ]
    figures = [
        _figure("Δ per replication", _delta_plot(results, learning), "distribution of the profit-gain index"),
        _figure(
            f"Prices at the end (first {SHOWN_REPLICATIONS} replications, last {SHOWN_DAYS} days)",
            _end_plot(results, learning),
            "prices of every seller in the last days of greedy play",
        ),
    ]
    if results.impulse is not None and len(results.impulse):
        figures.append(
            _figure(
                "Impulse response",
                _impulse_plot(results),
                "prices after a one-day deviation of the focal seller",
                "Day 0: the focal seller deviates to its static best response for one day, then plays "
                "its learned policy again; mean over replications. A cut by the rival the day after is "
                "the punishment Calvano et al. found; the return to the old prices, its end.",
            )
        )
    return render("run_collusion.html", end_days=END_DAYS, rows=_table(results, learning), figures=figures)


def _table(results: Results, learning: list[str]) -> list[dict]:
    rows = []
    for strategy in learning:
        group = results.scores[results.scores["strategy"] == strategy]
        mean, _, low, high = interval(group["delta"].dropna().to_numpy())
        delta = {"mean": f"{mean:.3f}", "low": f"{low:.3f}", "high": f"{high:.3f}"}
        rows.append(
            {
                "strategy": strategy,
                "delta": delta if np.isfinite(mean) else None,
                "converged": f"{group['converged'].mean():.0%}",
                "days": f"{group['learning_days'].mean():,.0f}",
                "limit_price": f"{group['limit_price'].mean():.4f}",
                "rival_limit_price": f"{group['rival_limit_price'].mean():.4f}",
            }
        )
    return rows


def _figure(title: str, uri: str | None, alt: str, caption: str = "") -> dict:
    return {"title": title, "uri": uri, "alt": alt, "caption": caption}


def _delta_plot(results: Results, learning: list[str]) -> str | None:
    from market_sim.report.plots import _data_uri, colours, plt  # matplotlib: only when drawn

    scores = results.scores
    if scores["delta"].isna().all():
        return None
    figure, axes = plt.subplots(figsize=(7, 3))
    colour = colours(results)
    values = [scores.loc[scores["strategy"] == s, "delta"].dropna().to_numpy() for s in learning]
    bins = np.linspace(
        min(-0.2, *(v.min() for v in values if v.size)), max(1.1, *(v.max() for v in values if v.size)), 40
    )
    for strategy, value in zip(learning, values, strict=True):
        axes.hist(value, bins=bins, alpha=0.5, color=colour[strategy], label=strategy)
    for x, label in ((0, "Nash"), (1, "joint optimum")):
        axes.axvline(x, color="black", linestyle=":")
        axes.annotate(label, (x, 1), xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=8)
    axes.set_xlabel("Δ at the end")
    axes.set_ylabel("replications")
    axes.legend(fontsize=8)
    return _data_uri(figure)


def _end_plot(results: Results, learning: list[str]) -> str | None:
    from market_sim.report.plots import _data_uri, plt  # matplotlib: only when drawn

    daily = results.daily
    if daily.empty:
        return None
    figure, panels = plt.subplots(1, len(learning), figsize=(4.5 * len(learning), 2.8), squeeze=False)
    for axes, strategy in zip(panels[0], learning, strict=True):
        runs = daily[daily["strategy"] == strategy]
        for k, replication in enumerate(sorted(runs["replication"].unique())[:SHOWN_REPLICATIONS]):
            run = runs[runs["replication"] == replication]
            days = run["day"] - run["day"].min()
            for seller, style in zip(run["seller"].unique(), ("-", "--", ":", "-."), strict=False):
                mine = (run["seller"] == seller) & (days < SHOWN_DAYS)
                axes.plot(
                    days[mine],
                    run.loc[mine, "price"],
                    style,
                    color=f"C{k}",
                    label=f"rep {replication}: {seller}",
                )
        _theory_lines(results, axes)
        axes.set_title(strategy, fontsize=9)
        axes.set_xlabel("day of the limit play")
    panels[0][0].set_ylabel("price")
    panels[0][0].legend(fontsize=6)
    return _data_uri(figure)


def _impulse_plot(results: Results) -> str:
    from market_sim.report.plots import _data_uri, plt  # matplotlib: only when drawn

    impulse = results.impulse
    strategies = [s for s in results.strategies if s in set(impulse["strategy"])]
    figure, panels = plt.subplots(1, len(strategies), figsize=(4.5 * len(strategies), 2.8), squeeze=False)
    for axes, strategy in zip(panels[0], strategies, strict=True):
        mean = impulse[impulse["strategy"] == strategy].groupby(["seller", "day"], sort=False)["price"].mean()
        for seller, style in zip(mean.index.get_level_values(0).unique(), ("-o", "--s", ":^"), strict=False):
            path = mean.loc[seller]
            axes.plot(path.index, path.to_numpy(), style, markersize=3, label=seller)
        _theory_lines(results, axes)
        axes.axvline(0, color="grey", linewidth=0.5)
        axes.set_title(strategy, fontsize=9)
        axes.set_xlabel("days after the deviation")
    panels[0][0].set_ylabel("price")
    panels[0][0].legend(fontsize=7)
    return _data_uri(figure)


def _theory_lines(results: Results, axes: plt.Axes) -> None:
    """The Nash and joint-optimum prices, where the scenario has them."""
    theory = results.theory
    if theory is None:
        return
    for reference in theory.prices:
        values = np.asarray(reference.values)
        if values.size and np.allclose(values, values.flat[0]):
            axes.axhline(float(values.flat[0]), color="black", linestyle=":", linewidth=0.8)
