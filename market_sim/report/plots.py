"""Report figures, each returned as an embeddable PNG data URI."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def _data_uri(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def cumulative_profit(daily: pd.DataFrame, focal: str) -> str:
    """Mean cumulative profit of the focal seller per strategy, with a 5–95% band."""
    figure, axes = plt.subplots(figsize=(8, 4))
    own = daily[daily["seller"] == focal].copy()
    own["cumulative"] = own.groupby(["strategy", "replication"], sort=False)["profit"].cumsum()
    for strategy, group in own.groupby("strategy", sort=False):
        by_day = group.groupby("day")["cumulative"]
        mean = by_day.mean()
        (line,) = axes.plot(mean.index, mean.to_numpy(), label=strategy)
        axes.fill_between(
            mean.index, by_day.quantile(0.05), by_day.quantile(0.95), color=line.get_color(), alpha=0.15
        )
    axes.set(
        xlabel="day", ylabel="cumulative profit", title=f"Cumulative profit of {focal} (mean, 5–95% band)"
    )
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return _data_uri(figure)


def price_paths(daily: pd.DataFrame, focal: str) -> str:
    """Mean posted price per day: the focal seller under each strategy, and every rival."""
    figure, axes = plt.subplots(figsize=(8, 4))
    for strategy, group in daily[daily["seller"] == focal].groupby("strategy", sort=False):
        mean = group.groupby("day")["price"].mean()
        axes.plot(mean.index, mean.to_numpy(), label=f"{focal}: {strategy}")
    for seller, group in daily[daily["seller"] != focal].groupby("seller", sort=False):
        mean = group.groupby("day")["price"].mean()
        axes.plot(
            mean.index, mean.to_numpy(), linestyle="--", color="grey", label=f"{seller} (rival, all runs)"
        )
    axes.set(xlabel="day", ylabel="posted price", title="Prices (mean over replications)")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return _data_uri(figure)
