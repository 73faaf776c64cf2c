"""Simulated transaction data for modelling: what runs of a scenario look like to an analyst.

`simulate_history` runs the scenario with one or more strategies in the focal seat, each on its
own replication (independent shoppers and taste shocks, as separate markets would give), and
returns two tables: `sales`, one row per run × day × seller (the posted price, units sold and
the demand shifters the market has), and `choices`, the long-form choice data of every
shopping visit (one row per visit × alternative, the alternatives being every seller and
`none`, buying nothing) with the shoppers' observable features, which `estimate --model logit`
reads as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from market_sim.clearing import NONE
from market_sim.distributions import Constant
from market_sim.estimate import OUTSIDE
from market_sim.model import MarketModel
from market_sim.scenario import Scenario, StrategySpec

SALES_COLUMNS = {
    "strategy": "the focal seller's strategy in this run",
    "replication": "the run's replication (each strategy its own: independent shoppers and shocks)",
    "day": "day of the run, from 0",
    "weekday": "0 = Monday … 6 = Sunday",
    "seller": "the seller",
    "price": "the seller's posted price that day",
    "units": "units it sold that day",
    "visitors": "shoppers who came to the market that day (each saw every seller)",
    "event": "1 on a day with a calendar event (a holiday or sale), else 0",
    "rival_price": "mean posted price of the other sellers that day (absent with one seller)",
    "stockout": "1 if the seller sold out that day, else 0",
}
CHOICE_COLUMNS = {
    "strategy": "the focal seller's strategy in this run",
    "replication": "the run's replication",
    "situation": "one shopping visit: replication, day and shopper",
    "day": "day of the visit",
    "shopper": "the shopper: a pseudonymous number, the same on every visit within a run",
    "alternative": f"a seller, or `{OUTSIDE}` for buying nothing",
    "chosen": "1 on the row of what the shopper did, else 0",
    "price": f"the price this shopper was shown by that seller (0 for `{OUTSIDE}`)",
    "loyal": "1 if the alternative is the seller this shopper last bought from (markets with loyalty)",
}
FEATURE_MEANING = (
    "the shopper's observable feature `{name}` on every seller's row, 0 on the `{outside}` row: a "
    "feature shifts the value of buying, not of buying nothing, so a conditional logit's "
    "coefficient on it is the price sensitivity × the money it adds to willingness to pay"
)


class HistoryError(ValueError):
    """A scenario whose data cannot be laid out (a feature named like a column)."""


@dataclass
class History:
    sales: pd.DataFrame
    choices: pd.DataFrame
    dropped_visits: int  # visits turned away by a stock-out: their choice set was not complete
    truth: dict | None  # the logit coefficients the market implies, when it is a plain logit
    runs: tuple[tuple[str, int], ...] = ()  # (strategy, replication) of each run, in order


class RecordingModel(MarketModel):
    """The market as it is, remembering every visit: who shopped, what they were shown, what
    they did."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.visits: list[tuple] = []

    def clear(self, day, arrivals, tables):
        trading = super().clear(day, arrivals, tables)
        shown = np.broadcast_to(trading.prices, (len(self.sellers), len(trading.shoppers))).copy()
        last = self.population.last_seller[trading.shoppers].copy()
        self.visits.append(
            (
                day,
                trading.shoppers.copy(),
                shown,
                trading.allocation.choice.copy(),
                trading.allocation.lost_sale.copy(),
                last,
            )
        )
        return trading


def simulate_history(
    scenario: Scenario,
    strategies: StrategySpec | Sequence[StrategySpec] | None = None,
    replication: int = 0,
) -> History:
    """Runs of `scenario` as data: strategy k of `strategies` (default: the scenario's first) in
    the focal seat on replication `replication + k`, so that every run is an independent market
    (on one replication the runs would share every shopper's tastes)."""
    if strategies is None:
        strategies = [scenario.strategies[0]]
    elif isinstance(strategies, StrategySpec):
        strategies = [strategies]
    _check_feature_names(scenario)
    sales, choices, dropped, runs = [], [], 0, []
    for k, spec in enumerate(strategies):
        model = RecordingModel(scenario, spec, replication + k)
        model.run_for(scenario.days)
        run = {"strategy": spec.name, "replication": replication + k}
        sales.append(_sales(scenario, model).assign(**run))
        choices.append(_choices(scenario, model).assign(**run))
        dropped += sum(int((v[4] != NONE).sum()) for v in model.visits)
        runs.append((spec.name, replication + k))
    return History(
        sales=_first(pd.concat(sales, ignore_index=True), SALES_COLUMNS),
        choices=_first(pd.concat(choices, ignore_index=True), CHOICE_COLUMNS),
        dropped_visits=dropped,
        truth=logit_truth(scenario),
        runs=tuple(runs),
    )


def _first(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The table's columns in the dictionary's order, any others (features) after them."""
    known = [c for c in columns if c in table.columns]
    return table[known + [c for c in table.columns if c not in known]]


def observable_features(scenario: Scenario) -> list[str]:
    """The names of the shoppers' features sellers may see (the ones the data hold)."""
    return [name for name, feature in scenario.consumers.features.items() if feature.observable]


def _check_feature_names(scenario: Scenario) -> None:
    taken = set(CHOICE_COLUMNS)
    for name in observable_features(scenario):
        if name in taken:
            raise HistoryError(
                f"consumers.features.{name}: the choice data already have a column {name!r}; "
                "rename the feature to write its data"
            )


def _sales(scenario: Scenario, model: MarketModel) -> pd.DataFrame:
    ledger, days = model.ledger, scenario.days
    names = [s.name for s in scenario.sellers]
    rows = {
        "day": np.repeat(np.arange(days), len(names)),
        "weekday": np.repeat([scenario.weekday(d) for d in range(days)], len(names)),
        "seller": np.tile(names, days),
        "price": ledger.price.ravel(),
        "units": ledger.units.ravel(),
        "visitors": np.repeat(ledger.shoppers, len(names)),
        "event": np.repeat([int(bool(scenario.events_on(d))) for d in range(days)], len(names)),
    }
    if len(names) > 1:
        others = (ledger.price.sum(axis=1, keepdims=True) - ledger.price) / (len(names) - 1)
        rows["rival_price"] = others.ravel()
    rows["stockout"] = ledger.stockout.ravel().astype(int)
    return pd.DataFrame(rows)


def _choices(scenario: Scenario, model: RecordingModel) -> pd.DataFrame:
    names = [*(s.name for s in scenario.sellers), OUTSIDE]
    alternatives = len(names)
    parts = []
    population, pseudonyms = model.population, model.pseudonyms()
    features = [population.feature_names.index(name) for name in observable_features(scenario)]
    for day, shoppers, shown, choice, lost, last in model.visits:
        keep = lost == NONE  # a shopper turned away by a stock-out did not see the full choice set
        shoppers, shown, choice, last = shoppers[keep], shown[:, keep], choice[keep], last[keep]
        n = len(shoppers)
        picked = np.where(choice == NONE, alternatives - 1, choice)
        which = np.tile(np.arange(alternatives), n)
        ids = pseudonyms[shoppers]
        part = {
            "situation": np.repeat([f"{model.replication}-{day}-{s}" for s in ids], alternatives),
            "day": day,
            "shopper": np.repeat(ids, alternatives),
            "alternative": np.array(names, dtype=object)[which],
            "chosen": (which == np.repeat(picked, alternatives)).astype(int),
            "price": np.vstack([shown, np.zeros((1, n))]).T.ravel(),
        }
        if model.has_loyalty:
            part["loyal"] = (which == np.repeat(last, alternatives)).astype(int)
        buying = which != alternatives - 1  # a seller's row, not `none`
        for f in features:
            part[population.feature_names[f]] = (
                np.repeat(population.features[shoppers, f], alternatives) * buying
            )
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def logit_truth(scenario: Scenario) -> dict | None:
    """The conditional-logit coefficients (base: buying nothing) that the market implies when
    it is one: logit choice, one price sensitivity and one wtp for everyone, no events that
    scale wtp, no loyalty, and every segment's wtp moved alike by the features (none by a hidden
    one). None otherwise. A feature's coefficient is the price sensitivity × its wtp_per_feature."""
    segments = scenario.consumers.segments
    if scenario.market.choice != "logit" or any(
        scenario.wtp_multiplier(d) != 1 for d in range(scenario.days)
    ):
        return None
    constant = [s.price_sensitivity for s in segments] + [s.wtp for s in segments]
    if not all(isinstance(d, Constant) for d in constant) or any(s.loyalty is not None for s in segments):
        return None
    betas = {s.price_sensitivity.value for s in segments}
    wtps = {s.wtp.value for s in segments}
    names = list(scenario.consumers.features)
    weights = {tuple(s.wtp_per_feature.get(name, 0.0) for name in names) for s in segments}
    if len(betas) != 1 or len(wtps) != 1 or len(weights) != 1:
        return None
    beta, wtp, weight = betas.pop(), wtps.pop(), dict(zip(names, weights.pop(), strict=True))
    if any(weight[name] for name in names if name not in observable_features(scenario)):
        return None  # a hidden feature moves tastes: not one logit for everyone
    truth = {"price": -beta}
    for name in observable_features(scenario):
        truth[name] = beta * weight[name]
    for seller in scenario.sellers:
        truth[f"const:{seller.name}"] = beta * (wtp + seller.quality - scenario.market.outside_utility)
    return truth


def dictionary_text(scenario: Scenario, history: History) -> str:
    """The data dictionary: what each file and column holds, and how to estimate from them."""
    runs = ", ".join(f"`{strategy}` (replication {replication})" for strategy, replication in history.runs)
    features = observable_features(scenario)
    feature_rows = [
        f"| `{name}` | {FEATURE_MEANING.format(name=name, outside=OUTSIDE)} |" for name in features
    ]
    listed = ",".join(features)
    lines = [
        f"# Simulated data: {scenario.name}",
        "",
        f"Runs of `{scenario.source}`, {scenario.days} days each, the focal seller {scenario.focal.name} "
        f"pricing with: {runs}. Each strategy runs on its own replication, so the runs are independent "
        "markets (the same replication would give every run the same shoppers and taste shocks). The "
        "shoppers' tastes are hidden; these are the data an analyst would have.",
        "",
        "## sales.csv: one row per run × day × seller",
        "",
        "| column | meaning |",
        "| --- | --- |",
        *(f"| `{c}` | {m} |" for c, m in SALES_COLUMNS.items() if c in history.sales.columns),
        "",
        "## choices.csv: one row per shopping visit × alternative (long form)",
        "",
        "| column | meaning |",
        "| --- | --- |",
        *(f"| `{c}` | {m} |" for c, m in CHOICE_COLUMNS.items() if c in history.choices.columns),
        *feature_rows,
        "",
        f"{history.dropped_visits} visits of shoppers turned away by a stock-out are left out: they did "
        "not choose among every alternative.",
        "",
        "## Try",
        "",
        "```bash",
        f"run_sim.py estimate sales.csv --model linear --seller {scenario.focal.name} "
        "--features '' --out fit-sales",
        f"run_sim.py estimate choices.csv --model logit --base {OUTSIDE} --features '{listed}' "
        "--out fit-choices",
        "```",
    ]
    if history.truth is not None:
        lines += [
            "",
            "`truth.json` holds the coefficients the simulated market implies (base: buying nothing), "
            "to check an estimate against.",
        ]
    return "\n".join(lines) + "\n"
