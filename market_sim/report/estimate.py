"""The report of an `estimate` run: the fit, how well it fits, the price curve, the warnings."""

from __future__ import annotations

import math

import matplotlib

from market_sim.report import agg  # matplotlib's Agg, text drawn a string at a time

matplotlib.use(agg.BACKEND)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from market_sim.estimate import Fit, alternative_levels, choice_data, mean_prices  # noqa: E402
from market_sim.report.plots import _data_uri  # noqa: E402
from market_sim.report.template import render  # noqa: E402

WIDTH, HEIGHT = 5.0, 3.0


def render_estimate(fit: Fit) -> str:
    """report.html of an `estimate` run as one self-contained page."""
    figures = _logit_figures(fit) if fit.model == "logit" else _sales_figures(fit)
    stats = fit.stats
    summary = [
        (label, stats[key])
        for key, label in (
            ("observations", "rows used"),
            ("situations", "choice situations"),
            ("log_likelihood", "log-likelihood"),
            ("null_log_likelihood", "log-likelihood, all alternatives equally likely"),
            ("pseudo_r_squared", "McFadden pseudo R²"),
            ("r_squared", "R²"),
            ("mse", "mean squared error (in sample, units)"),
            ("cv_mse", f"cross-validated mean squared error ({stats.get('cv_folds')} folds, units)"),
            ("mean_price", "mean price"),
            ("elasticity_at_mean_price", "price elasticity at the mean price"),
            ("best_price", f"profit-maximising price at unit cost {stats.get('unit_cost', 0):g}"),
        )
        if key in stats
    ]
    if "best_price" in stats:
        summary.append(
            (
                "95% interval of that price",
                f"{stats['best_price_ci_low']:.4g} to {stats['best_price_ci_high']:.4g}",
            )
        )
    alternatives = stats.get("alternatives", [])
    return render(
        "estimate.html",
        fit=fit,
        title=f"Demand estimate ({fit.model}) from {fit.source}",
        parameters=fit.parameters.to_dict("records"),
        summary=summary,
        warnings=fit.warnings,
        figures=figures,
        alternatives=alternatives,
        elasticities=stats.get("elasticities", {}),
        number=_number,
    )


def _number(value) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def _sales_figures(fit: Fit) -> list[dict]:
    data, stats = fit.data, fit.stats
    table = fit.parameters.set_index("parameter")["estimate"]
    means = {f: float(data[f].mean()) for f in fit.features}
    level = float(table["intercept"] + sum(table[f] * m for f, m in means.items()))
    slope = float(table["price"])
    price = data["price"].to_numpy()
    grid = np.linspace(price.min(), price.max(), 200)
    if fit.model == "loglinear":
        curve = stats["smearing_factor"] * np.exp(level + slope * grid)
        X = np.column_stack([np.ones(len(data)), price, *(data[f].to_numpy() for f in fit.features)])
        fitted = stats["smearing_factor"] * np.exp(X @ fit.parameters["estimate"].to_numpy())
    else:
        curve = level + slope * grid
        X = np.column_stack([np.ones(len(data)), price, *(data[f].to_numpy() for f in fit.features)])
        fitted = X @ fit.parameters["estimate"].to_numpy()
    units = data["units"].to_numpy()

    figure, axis = plt.subplots(figsize=(WIDTH, HEIGHT))
    axis.scatter(price, units, s=8, alpha=0.5, color="#1f77b4", label="data")
    axis.plot(grid, curve, color="#d62728", label="fitted demand (features at their means)")
    axis.set(xlabel="price", ylabel="units")
    axis.legend(fontsize=8)
    demand = _data_uri(figure)

    figure, axis = plt.subplots(figsize=(WIDTH, HEIGHT))
    axis.scatter(fitted, units - fitted, s=8, alpha=0.5, color="#1f77b4")
    axis.axhline(0, color="#333", linewidth=0.8)
    axis.set(xlabel="fitted units", ylabel="residual (units)")
    residuals = _data_uri(figure)

    cost = stats["unit_cost"]
    profit_grid = np.linspace(
        max(cost, 0.5 * grid.min()), max(grid.max(), stats["best_price_ci_high"]) * 1.1, 200
    )
    if fit.model == "loglinear":
        profit = (profit_grid - cost) * stats["smearing_factor"] * np.exp(level + slope * profit_grid)
    else:
        profit = (profit_grid - cost) * np.maximum(level + slope * profit_grid, 0)
    figure, axis = plt.subplots(figsize=(WIDTH, HEIGHT))
    axis.plot(profit_grid, profit, color="#2ca02c")
    axis.axvline(stats["best_price"], color="#d62728", label=f"best price {stats['best_price']:.4g}")
    axis.axvspan(
        stats["best_price_ci_low"],
        stats["best_price_ci_high"],
        color="#d62728",
        alpha=0.15,
        label="95% interval",
    )
    axis.set(xlabel="price", ylabel=f"profit per period (unit cost {cost:g})")
    axis.legend(fontsize=8)
    profit_uri = _data_uri(figure)
    return [
        {"title": "Demand: data and fit", "uri": demand, "alt": "units against price with the fitted curve"},
        {"title": "Residuals", "uri": residuals, "alt": "residuals against fitted units"},
        {"title": "Profit against price", "uri": profit_uri, "alt": "fitted profit curve and its best price"},
    ]


def _logit_figures(fit: Fit) -> list[dict]:
    stats = fit.stats
    alternatives = stats["alternatives"]
    observed = [stats["observed_shares"][a] for a in alternatives]
    predicted = [stats["predicted_shares"][a] for a in alternatives]
    figure, axis = plt.subplots(figsize=(WIDTH, HEIGHT))
    x = np.arange(len(alternatives))
    axis.bar(x - 0.2, observed, 0.4, label="observed", color="#1f77b4")
    axis.bar(x + 0.2, predicted, 0.4, label="predicted", color="#ff7f0e")
    axis.set_xticks(x, alternatives, rotation=30, ha="right")
    axis.set(ylabel="share of choices")
    axis.legend(fontsize=8)
    shares = _data_uri(figure)

    choices = choice_data(fit.data, fit.features, stats["base"], fit.source)
    theta = fit.parameters["estimate"].to_numpy()
    levels = alternative_levels(theta, choices, fit.data, fit.features)
    prices = mean_prices(fit.data, choices)
    figure, axis = plt.subplots(figsize=(WIDTH, HEIGHT))
    for a, name in enumerate(alternatives):
        if np.ptp(fit.data.loc[fit.data["alternative"].str.strip() == name, "price"]) == 0:
            continue
        grid = np.linspace(0.5 * prices[a], 1.5 * prices[a], 100)
        utility = levels + theta[0] * prices
        curve = [
            np.exp(levels[a] + theta[0] * p)
            / (np.exp(utility).sum() - np.exp(utility[a]) + np.exp(levels[a] + theta[0] * p))
            for p in grid
        ]
        axis.plot(grid, curve, label=name)
        axis.plot(
            [prices[a]], [np.exp(utility[a]) / np.exp(utility).sum()], "o", color=axis.lines[-1].get_color()
        )
    axis.set(xlabel="own price (others at their means)", ylabel="predicted share")
    axis.legend(fontsize=8)
    curves = _data_uri(figure)
    return [
        {
            "title": "Observed and predicted shares",
            "uri": shares,
            "alt": "bars of observed and predicted shares",
        },
        {
            "title": "Share against own price",
            "uri": curves,
            "alt": "each alternative's share as its price moves",
        },
    ]
