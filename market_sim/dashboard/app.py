"""The dashboard's page, on Mesa's SolaraViz: sliders, a strategy picker, step / play / reset,
live charts, "explain today" and a CSV of what is shown.

Served by `market-sim dashboard SCENARIO` (which runs `solara run market_sim.dashboard.app`
with the scenario's path in MARKET_SIM_DASHBOARD_SCENARIO). Each browser session gets its own
model; moved sliders and the strategy picker take effect on Reset.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz

from market_sim.dashboard.model import DashboardModel, knobs, strategy_choices
from market_sim.loader import load_scenario
from market_sim.scenario import Scenario

SCENARIO_VARIABLE = "MARKET_SIM_DASHBOARD_SCENARIO"
FIGURE_SIZE = (5.6, 3.9)


def model_params(scenario: Scenario) -> dict:
    """SolaraViz's inputs: the scenario (fixed), the strategy picker, the replication, the knobs."""
    params: dict = {
        "spec": scenario,
        "strategy": {
            "type": "Select",
            "label": "Focal strategy",
            "value": scenario.strategies[0].name,
            "values": strategy_choices(scenario),
        },
        "replication": {
            "type": "SliderInt",
            "label": "Replication",
            "value": 0,
            "min": 0,
            "max": max(scenario.replications - 1, 1),
            "step": 1,
        },
    }
    for name, knob in knobs(scenario).items():
        params[name] = {
            "type": "SliderFloat",
            "label": knob.label,
            "value": knob.value,
            "min": knob.low,
            "max": knob.high,
            "step": knob.step,
        }
    return params


def _figure(model: DashboardModel, title: str) -> tuple[Figure, object]:
    figure = Figure(figsize=FIGURE_SIZE, layout="constrained")
    axes = figure.subplots()
    axes.set_title(title, fontsize=10)
    axes.set_xlim(-0.5, model.days - 0.5)
    axes.set_xlabel("day")
    axes.grid(alpha=0.3)
    return figure, axes


def _shown(figure: Figure, model: DashboardModel) -> solara.Element:
    return solara.FigureMatplotlib(figure, format="png", dependencies=[id(model), len(model.rows)])


def _record(model: DashboardModel) -> pd.DataFrame:
    return pd.DataFrame(model.rows, columns=model.columns())


def PriceChart(model: DashboardModel) -> solara.Element:
    """Posted prices of every seller, with the textbook lines where a closed form exists."""
    figure, axes = _figure(model, "Prices (dashed: theory)")
    record = _record(model)
    for seller in model.sellers:
        axes.plot(record["day"], record[f"price {seller.name}"], marker=".", label=seller.name)
    days = np.arange(model.days)
    for label, values in model.theory_prices():
        axes.plot(days, values[: model.days], linestyle="--", linewidth=1, label=label)
    axes.legend(fontsize=7, loc="best")
    return _shown(figure, model)


def UnitsChart(model: DashboardModel) -> solara.Element:
    """Units sold per seller, and stock on hand where it is limited."""
    figure, axes = _figure(model, "Units sold (bars) and stock (lines)")
    record = _record(model)
    width = 0.8 / len(model.sellers)
    stock_axes = None
    for j, seller in enumerate(model.sellers):
        axes.bar(
            record["day"] + (j - (len(model.sellers) - 1) / 2) * width,
            record[f"units {seller.name}"],
            width=width,
            label=f"units {seller.name}",
        )
        stock = record[f"stock {seller.name}"]
        if stock.notna().any():
            stock_axes = stock_axes or axes.twinx()
            stock_axes.plot(record["day"], stock, label=f"stock {seller.name}")
    axes.legend(fontsize=7, loc="upper left")
    if stock_axes is not None:
        stock_axes.legend(fontsize=7, loc="upper right")
    return _shown(figure, model)


def ProfitChart(model: DashboardModel) -> solara.Element:
    """Cumulative profit per seller."""
    figure, axes = _figure(model, "Cumulative profit")
    record = _record(model)
    for seller in model.sellers:
        axes.plot(record["day"], record[f"cumulative profit {seller.name}"], label=seller.name)
    axes.legend(fontsize=7, loc="upper left")
    return _shown(figure, model)


def SegmentChart(model: DashboardModel) -> solara.Element:
    """The average price each segment paid the focal seller."""
    focal = model.spec.focal.name
    figure, axes = _figure(model, f"Price paid to {focal}, per segment")
    record = _record(model)
    for name in model.population.segment_names:
        axes.plot(record["day"], record[f"price paid {name}"], marker=".", label=name)
    axes.legend(fontsize=7, loc="best")
    return _shown(figure, model)


def ExplainToday(model: DashboardModel) -> solara.Element:
    """Today's prices and each strategy's reason, the day counter, and the CSV button."""
    with solara.Column() as panel:
        if model.rows:
            today = model.rows[-1]
            solara.Text(f"Day {today['day'] + 1} of {model.days}", classes=["day-counter"])
            for seller in model.sellers:
                reason = today[f"reason {seller.name}"] or "(no reason given)"
                solara.Text(f"{seller.name} at {today[f'price {seller.name}']:.2f}: {reason}")
        else:
            solara.Text(f"Day 0 of {model.days}", classes=["day-counter"])
            solara.Text("Press ▶ (play) or Step to open the market.")
        solara.Text(f"Focal strategy: {model.strategy_name}; replication {model.replication}")
        settings = ", ".join(f"{label.lower()} {value:.4g}" for label, value in model.settings.items())
        solara.Text(f"This market (moved sliders apply on Reset): {settings}")
        solara.FileDownload(
            lambda: csv_of(model),
            filename=f"dashboard-{model.spec.name[:40]}.csv".replace(" ", "_"),
            label="Save what is shown as CSV",
        )
    return panel


def csv_of(model: DashboardModel) -> str:
    """The record shown so far, one row per day, with the settings that made it."""
    record = _record(model)
    record.insert(0, "strategy", model.strategy_name)
    record.insert(1, "replication", model.replication)
    return record.to_csv(index=False, lineterminator="\n")


COMPONENTS = [ExplainToday, PriceChart, UnitsChart, ProfitChart, SegmentChart]


@solara.component
def Page() -> None:
    scenario = solara.use_memo(lambda: load_scenario(os.environ[SCENARIO_VARIABLE]), [])
    params = solara.use_memo(lambda: model_params(scenario), [])
    model = solara.use_memo(
        lambda: DashboardModel(
            **{name: p["value"] if isinstance(p, dict) else p for name, p in params.items()}
        ),
        [],
    )
    SolaraViz(model, components=COMPONENTS, model_params=params, name=f"market-sim: {scenario.name}")
