"""The ledger: everything a run records, day by day, in preallocated arrays.

Per seller and day: prices, sales and costs. Per seller, segment and customer status (new = 0,
returning = 1) and day: shoppers who saw the offer, units, revenue and consumer surplus.
Tables for output are made from it once, at the end (`market_sim.tables`).
"""

from __future__ import annotations

import numpy as np


class Ledger:
    def __init__(self, days: int, sellers: int, segments: int):
        by_seller, detail = (days, sellers), (days, sellers, segments, 2)
        self.days_recorded = 0
        self.shoppers = np.zeros(days, dtype=np.int64)
        self.price = np.zeros(by_seller)  # posted price: the base price, or the lowest offered (see agents)
        self.offered = np.zeros(
            (days, sellers, segments)
        )  # the price each segment was offered, before coupons
        self.units = np.zeros(by_seller, dtype=np.int64)
        self.revenue = np.zeros(by_seller)
        self.lost_sales = np.zeros(by_seller, dtype=np.int64)
        self.cost_of_goods = np.zeros(by_seller)
        self.holding_cost = np.zeros(by_seller)
        self.order_cost = np.zeros(by_seller)
        self.salvage = np.zeros(by_seller)
        self.inventory = np.zeros(by_seller)  # on hand at the end of the day (inf: unlimited)
        self.received = np.zeros(by_seller, dtype=np.int64)
        self.ordered = np.zeros(by_seller, dtype=np.int64)
        self.stockout = np.zeros(by_seller, dtype=bool)  # sold out: none left after sales
        self.guardrail_hits = np.zeros(by_seller, dtype=np.int64)
        self.reason = np.full(by_seller, "", dtype=object)
        self.personal = np.zeros(by_seller, dtype=bool)  # priced shoppers one by one that day
        self.paid_square = np.zeros(by_seller)  # Σ price paid² over the day's purchases
        self.views = np.zeros(detail, dtype=np.int64)
        self.segment_units = np.zeros(detail, dtype=np.int64)
        self.segment_revenue = np.zeros(detail)
        self.segment_surplus = np.zeros(detail)  # realised money surplus of purchases
        # the market's consumer surplus per day and segment: realised (max_surplus) or the logit
        # log-sum (expected maximum utility in money), see MarketModel.consumer_surplus
        self.consumer_surplus = np.zeros((days, segments))

    def keep_audit(self, audit: dict) -> None:
        """With shopper features: the focal seller's dealings with every consumer and who they
        truly are (`MarketModel.audit`), for the personal-pricing scores; kept as `audit_*`
        arrays so that a saved run reads back without pickles."""
        for key, value in audit.items():
            setattr(self, f"audit_{key}", value)

    def keep_offers(self, days: list[dict[str, np.ndarray]]) -> None:
        """The offer log (`MarketModel.log_offers`), days joined, as `offers_*` arrays: one row per
        shopper and day; `offers_price` has a column per seller, `offers_choice` the seller bought
        from (−1: none), `offers_segment` the visible segment (−1: hidden)."""
        for key in ("day", "shopper", "segment", "features", "price", "choice"):
            setattr(self, f"offers_{key}", np.concatenate([d[key] for d in days]) if days else np.zeros(0))

    @property
    def audit(self) -> dict | None:
        kept = vars(self).items()
        return {key.removeprefix("audit_"): value for key, value in kept if key.startswith("audit_")} or None

    @property
    def profit(self) -> np.ndarray:
        """Revenue − cost of goods − holding − order costs + salvage, per day and seller."""
        return self.revenue - self.cost_of_goods - self.holding_cost - self.order_cost + self.salvage
