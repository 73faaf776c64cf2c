"""Fixed prices in hindsight: the focal seller's total profit on one replication for many fixed
prices, from one recorded replay instead of one replay per price (the hindsight oracle's search).

Exact, not approximate: when the focal seller posts a fixed price, everything else its shoppers
draw (who visits, taste shocks, tie-breakers, arrival order) is common to every price, and so
are its rivals' offers when they cannot react to it. One replay records, day by day, each
shopper's valuation of the focal offer before its price and the best rival offer; any other
price then only moves the focal scores, and the focal seller's sales, shelf and books follow in
the engine's own order of operations, bit for bit (the tests compare with replays).

Where the paths of two prices could part, `FixedPriceProfits` replays the market instead:
- loyalty bonuses (who bought from whom changes tomorrow's offers),
- a rival that is not `market_blind` (it could see the focal price or its own sales), a rival
  with limited stock (its stock-outs depend on the focal price), or a rival whose price differs
  for new and returning customers,
- a price the guardrails would move.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from market_sim.agents import Seller
from market_sim.clearing import NONE, best_offers
from market_sim.scenario import StrategySpec
from market_sim.streams import Purpose

if TYPE_CHECKING:
    from market_sim.model import MarketModel

FIELDS = (
    "consumer",
    "segment",
    "value",
    "beta",
    "shock",
    "rival",
    "rival_score",
    "rival_tiebreak",
    "threshold",
)


class Recording:
    """A replay's shoppers, day by day, as far as a fixed focal price can change what they do."""

    def __init__(self, seat: int, logit: bool):
        self.seat, self.logit = seat, logit
        self.days: list[dict[str, np.ndarray]] = []
        self.exact = True  # False once a rival's offer could depend on the focal price

    def day(
        self,
        model: MarketModel,
        shoppers: np.ndarray,
        segment: np.ndarray,
        tables: np.ndarray,
        scores: np.ndarray,
        threshold: np.ndarray | float,
        tiebreak: np.ndarray | None,
        shocks: np.ndarray,
    ) -> None:
        """Called by `MarketModel.clear` once a day, after scoring and before allocation."""
        me, count = self.seat, len(shoppers)
        rivals = [j for j in range(len(tables)) if j != me]
        if np.any(tables[rivals, :, 0] != tables[rivals, :, 1]):  # returning customers differ
            self.exact = False
        value = model.population.wtp[shoppers]  # the same operations as `MarketModel.utilities`
        value *= model.wtp_multiplier
        value += model.quality[me]
        rival = best_offers(scores, -np.inf, tiebreak, rivals)
        some, columns = rival != NONE, np.arange(count)
        row = np.maximum(rival, 0)
        ties = np.zeros_like(scores) if tiebreak is None else tiebreak
        self.days.append(
            {
                "consumer": shoppers.copy(),
                "segment": np.array(segment),
                "value": value,
                "beta": model.population.price_sensitivity[shoppers],
                "shock": np.array(shocks[me]),
                "rival": rival,
                "rival_score": np.where(some, scores[row, columns], -np.inf),
                "rival_tiebreak": np.where(some, ties[row, columns], -np.inf),
                "threshold": np.broadcast_to(threshold, (count,)).copy(),
            }
        )

    def joined(self) -> dict[str, np.ndarray]:
        """Every day's shoppers end to end, in day order, with `day` and `starts` (offsets)."""
        flat = {name: np.concatenate([d[name] for d in self.days]) for name in FIELDS}
        sizes = [len(d["consumer"]) for d in self.days]
        flat["day"] = np.repeat(np.arange(len(sizes)), sizes)
        flat["starts"] = np.concatenate([[0], np.cumsum(sizes)])
        return flat


class FixedPriceProfits:
    """`profits(prices)`: the focal seat's total profit with each fixed price, exactly what
    `model.replay("fixed", {"price": p})` leaves in its ledger, from one recorded replay when
    the market allows it (see the module's docstring), by a replay per price otherwise."""

    def __init__(self, model: MarketModel, seat: int):
        self.model, self.seat = model, seat
        self.flat: dict[str, np.ndarray] | None = None
        self.recorded: tuple[float, float] | None = None  # the recorded replay's price and profit
        self.orders: dict[int, np.ndarray] = {}  # arrival orders of the days they mattered on
        self.exact = (
            not model.has_loyalty
            and all(s.inventory.unlimited for s in model.sellers if s.index != seat)
            and all(s.strategy.market_blind for s in model.sellers if s.index != seat)
        )

    def __call__(self, prices: Sequence[float]) -> list[float]:
        return [self.profit(float(price)) for price in prices]

    def profit(self, price: float) -> float:
        if not (self.exact and self._unguarded(price)):
            return self._replay(price, record=False)
        if self.flat is None:
            profit = self._replay(price, record=True)
            self.recorded = (price, profit)
            return profit
        if self.recorded[0] == price:
            return self.recorded[1]
        return self._profit(price)

    def _unguarded(self, price: float) -> bool:
        """Whether the guardrails leave a fixed `price` as it is (a constant price never meets
        the daily-change limit)."""
        seller = self.model.sellers[self.seat]
        rails = seller.guardrails
        return rails is None or max(rails.min_price, seller.unit_cost) <= price <= rails.max_price

    def _replay(self, price: float, record: bool) -> float:
        model = self.model
        replay = type(model)(model.spec, StrategySpec("fixed", {"price": price}), model.replication)
        if record:
            replay.recording = Recording(self.seat, model.spec.market.choice == "logit")
        replay.run_for(model.days)
        profit = float(replay.ledger.profit[:, self.seat].sum())
        if record:
            self.exact = replay.recording.exact
            self.flat = replay.recording.joined() if self.exact else None
            self.arrivals = replay  # its streams give each day's arrival order
        return profit

    def _profit(self, price: float) -> float:
        """The replay's bookkeeping for the focal seat alone, under `price`."""
        flat, me, model = self.flat, self.seat, self.model
        utility = flat["value"] - price
        if model.spec.market.choice == "logit":
            score = flat["beta"] * utility
            score += flat["shock"]
            level = score == flat["rival_score"]
            wins = (score > flat["rival_score"]) | (level & (me < flat["rival"]))
        else:
            score, shock = utility, flat["shock"]
            level = score == flat["rival_score"]
            tie = level & (shock == flat["rival_tiebreak"])
            wins = (
                (score > flat["rival_score"])
                | (level & (shock > flat["rival_tiebreak"]))
                | (tie & (me < flat["rival"]))
            )
        wanted = wins & (score >= flat["threshold"])
        seller = model.sellers[me]
        days, starts = model.days, flat["starts"]
        if seller.inventory.unlimited:
            served = np.flatnonzero(wanted)
            books = None
        else:
            served, books = self._shelf(wanted, starts, seller)
        consumer = flat["consumer"][served]
        status = np.ones(len(served), dtype=np.int64)  # returning, unless a first purchase
        status[np.unique(consumer, return_index=True)[1]] = 0
        segments = len(model.population.segment_names)
        cell = (flat["day"][served] * segments + flat["segment"][served]) * 2 + status
        cell_units = np.bincount(cell, minlength=days * segments * 2).reshape(days, segments, 2)
        revenue = (cell_units * price).sum(axis=(1, 2))
        units = cell_units.sum(axis=(1, 2))
        if books is None:
            cost_of_goods, holding, order, salvage = seller.unit_cost * units, 0.0, 0.0, 0.0
        else:
            cost_of_goods, holding, order, salvage = (np.array(b, dtype=float) for b in books)
        return float((revenue - cost_of_goods - holding - order + salvage).sum())

    def _shelf(self, wanted: np.ndarray, starts: np.ndarray, seller: Seller):
        """First come, first served against the focal seat's own stock, day by day, with its
        replenishment and costs (`Seller.receive` and `Seller.settle` on a shelf of its own)."""
        inventory, days = seller.inventory, self.model.days
        shelf = SimpleNamespace(
            inventory=inventory, on_hand=inventory.initial, in_transit=[], unit_cost=seller.unit_cost
        )
        served = wanted.copy()
        takers = np.bincount(self.flat["day"][wanted], minlength=days).tolist()
        books = ([], [], [], [])
        names = ("cost_of_goods", "holding_cost", "order_cost", "salvage")
        for day, count in enumerate(takers):
            Seller.receive(shelf, day)
            if count > shelf.on_hand:  # the first to arrive are served
                start, stop = starts[day], starts[day + 1]
                order = self._arrival_order(day, stop - start)
                first = order[wanted[start:stop][order]][: int(shelf.on_hand)]
                served[start:stop] = False
                served[start + first] = True
                count = len(first)
            kept = Seller.settle(shelf, day, count, day == days - 1)
            for column, name in zip(books, names, strict=True):
                column.append(kept[name])
        return np.flatnonzero(served), books

    def _arrival_order(self, day: int, shoppers: int) -> np.ndarray:
        """Day `day`'s arrival order (the same for every price), drawn once."""
        if day not in self.orders:
            self.orders[day] = self.arrivals.stream(Purpose.ARRIVALS, day).permutation(shoppers)
        return self.orders[day]
