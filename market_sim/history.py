"""Simulated transaction data for modelling: what one run of a scenario looks like to an analyst.

`simulate_history` runs one replication of a scenario and returns two tables: `sales`, one row
per day × seller (the posted price, units sold and the demand shifters the market has), and
`choices`, the long-form choice data of every shopping visit (one row per visit × alternative,
the alternatives being every seller and `none`, buying nothing), which `estimate --model logit`
reads as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from market_sim.clearing import NONE
from market_sim.distributions import Constant
from market_sim.estimate import OUTSIDE
from market_sim.model import MarketModel
from market_sim.scenario import Scenario, StrategySpec

SALES_COLUMNS = {
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
    "situation": "one shopping visit: day and shopper",
    "day": "day of the visit",
    "shopper": "the shopper (a pseudonymous number, the same on every visit)",
    "alternative": f"a seller, or `{OUTSIDE}` for buying nothing",
    "chosen": "1 on the row of what the shopper did, else 0",
    "price": f"the price this shopper was shown by that seller (0 for `{OUTSIDE}`)",
    "loyal": "1 if the alternative is the seller this shopper last bought from (markets with loyalty)",
}


@dataclass
class History:
    sales: pd.DataFrame
    choices: pd.DataFrame
    dropped_visits: int  # visits turned away by a stock-out: their choice set was not complete
    truth: dict | None  # the logit coefficients the market implies, when it is a plain logit


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
    scenario: Scenario, strategy: StrategySpec | None = None, replication: int = 0
) -> History:
    """One replication of `scenario` with `strategy` in the focal seat (default its first), as data."""
    model = RecordingModel(scenario, strategy, replication)
    model.run_for(scenario.days)
    return History(
        sales=_sales(scenario, model),
        choices=_choices(scenario, model),
        dropped_visits=sum(int((v[4] != NONE).sum()) for v in model.visits),
        truth=logit_truth(scenario),
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
    for day, shoppers, shown, choice, lost, last in model.visits:
        keep = lost == NONE  # a shopper turned away by a stock-out did not see the full choice set
        shoppers, shown, choice, last = shoppers[keep], shown[:, keep], choice[keep], last[keep]
        n = len(shoppers)
        picked = np.where(choice == NONE, alternatives - 1, choice)
        which = np.tile(np.arange(alternatives), n)
        part = {
            "situation": np.repeat([f"{day}-{s}" for s in shoppers], alternatives),
            "day": day,
            "shopper": np.repeat(shoppers, alternatives),
            "alternative": np.array(names, dtype=object)[which],
            "chosen": (which == np.repeat(picked, alternatives)).astype(int),
            "price": np.vstack([shown, np.zeros((1, n))]).T.ravel(),
        }
        if model.has_loyalty:
            part["loyal"] = (which == np.repeat(last, alternatives)).astype(int)
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def logit_truth(scenario: Scenario) -> dict | None:
    """The conditional-logit coefficients (base: buying nothing) that the market implies when
    it is one: logit choice, one price sensitivity and one wtp for everyone, no events that
    scale wtp, no loyalty. None otherwise."""
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
    if len(betas) != 1 or len(wtps) != 1:
        return None
    beta, wtp = betas.pop(), wtps.pop()
    truth = {"price": -beta}
    for seller in scenario.sellers:
        truth[f"const:{seller.name}"] = beta * (wtp + seller.quality - scenario.market.outside_utility)
    return truth


def dictionary_text(scenario: Scenario, history: History, strategy: str, replication: int) -> str:
    """The data dictionary: what each file and column holds, and how to estimate from them."""
    lines = [
        f"# Simulated data: {scenario.name}",
        "",
        f"One run of `{scenario.source}`, replication {replication}, {scenario.days} days, the focal "
        f"seller {scenario.focal.name} pricing with `{strategy}`. The shoppers' tastes are hidden; "
        "these are the data an analyst would have.",
        "",
        "## sales.csv: one row per day × seller",
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
        "",
        f"{history.dropped_visits} visits of shoppers turned away by a stock-out are left out: they did "
        "not choose among every alternative.",
        "",
        "## Try",
        "",
        "```bash",
        f"run_sim.py estimate sales.csv --model linear --seller {scenario.focal.name} "
        "--features '' --out fit-sales",
        f"run_sim.py estimate choices.csv --model logit --base {OUTSIDE} --features '' --out fit-choices",
        "```",
    ]
    if history.truth is not None:
        lines += [
            "",
            "`truth.json` holds the coefficients the simulated market implies (base: buying nothing), "
            "to check an estimate against.",
        ]
    return "\n".join(lines) + "\n"
