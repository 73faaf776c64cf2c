"""Closed forms of docs/theory.md for a scenario, where they apply: the textbook lines a report
draws next to the simulation, and the Nash and joint-optimum profits behind the profit-gain
index Δ.

`closed_forms(scenario)` recognises three markets and returns None for any other:
- linear demand (§1, §5): one seller, `max_surplus`, outside utility 0, no quality, unlimited
  stock, every segment with wtp uniform on [0, W] and no loyalty. Observable segments add the
  third-degree discrimination prices.
- logit demand (§3): `logit` choice, every segment with the same constant wtp and price
  sensitivity 1/μ and no loyalty, every seller with unlimited stock.
- a limited stock sold over a finite horizon (§4, Gallego & van Ryzin 1994): one seller,
  `max_surplus`, one segment with exponential wtp, constant traffic, a single delivery of n
  units, no holding cost and no salvage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market_sim.distributions import Exponential, Uniform
from market_sim.scenario import Scenario
from market_sim.theory import (
    Curve,
    best_fixed_price,
    best_uniform_price,
    expected_shoppers,
    fixed_price_revenue,
    fixed_price_units,
    gvr_fluid,
    gvr_optimal_price,
    gvr_optimal_revenue,
    linear_optimum,
    linear_units,
    logit_best_response,
    logit_equilibria,
    logit_market,
    logit_shares,
    loyal,
    wtp_multipliers,
)

# theory and simulation agree when the closed form lies in the simulated mean's 95% interval,
# widened by this share of the closed form (the series and integrals behind the closed forms
# are evaluated to far better than this; a zero-width interval must still be able to agree)
AGREEMENT_TOLERANCE = 1e-4


def agrees(expected: float, low: float, high: float) -> bool | None:
    """Whether the closed form `expected` agrees with a simulated interval [low, high], within
    AGREEMENT_TOLERANCE of it; None when there is no interval (one replication)."""
    if np.isnan(low) or np.isnan(high):
        return None
    slack = AGREEMENT_TOLERANCE * max(1.0, abs(expected))
    return bool(low - slack <= expected <= high + slack)


@dataclass(frozen=True)
class Reference:
    """A textbook line: one value per day (a price, or an expected cumulative profit)."""

    label: str
    values: np.ndarray


@dataclass(frozen=True)
class Theory:
    """What theory.md says about one scenario, ready to draw and to print."""

    title: str
    summary: str
    facts: tuple[tuple[str, str], ...]  # (what, value) rows for the report's theory table
    prices: tuple[Reference, ...]  # drawn on the price paths
    profits: tuple[Reference, ...] = ()  # expected cumulative profit of the focal seller
    endpoints: tuple[tuple[str, float], ...] = ()  # expected total profit of policies without a path
    profit_at: Curve | None = None  # expected total focal profit at a fixed price
    units_at: Curve | None = None  # expected total focal units at a fixed price
    price_range: tuple[float, float] = (0.0, 1.0)
    nash_profit: float | None = None  # focal profit per shopper at the Bertrand–Nash prices
    joint_profit: float | None = None  # ... at the joint-optimum prices


def closed_forms(scenario: Scenario) -> Theory | None:
    """The closed form that applies to `scenario`, or None.

    The answer for the last scenario asked about (that very object: a scenario is immutable) is
    kept: `run` works it out while its runs go (`report.prepare`), and its report takes it from
    here after the last run instead of working it out again (seconds for some lessons)."""
    if _last and _last[0][0] is scenario:
        return _last[0][1]
    theory = _recognised(scenario)
    _last[:] = [(scenario, theory)]
    return theory


_last: list[tuple[Scenario, Theory | None]] = []  # the last scenario `closed_forms` was asked about


def _recognised(scenario: Scenario) -> Theory | None:
    for recognise in (_linear, _logit, _scarcity):
        theory = recognise(scenario)
        if theory is not None:
            return theory
    return None


def _one_seller_textbook(scenario: Scenario) -> bool:
    """One seller, shoppers buy whenever wtp ≥ price, nothing shifts the valuation."""
    market = scenario.market
    return (
        len(scenario.sellers) == 1
        and market.choice == "max_surplus"
        and market.outside_utility == 0
        and scenario.sellers[0].quality == 0
        and not any(loyal(s) for s in scenario.consumers.segments)
    )


def _linear(scenario: Scenario) -> Theory | None:
    segments = scenario.consumers.segments
    if not _one_seller_textbook(scenario) or not scenario.sellers[0].inventory.unlimited:
        return None
    if not all(isinstance(s.wtp, Uniform) and s.wtp.low == 0 for s in segments):
        return None
    cost = scenario.sellers[0].unit_cost
    volume = expected_shoppers(scenario)
    ceiling = wtp_multipliers(scenario)[:, None] * np.array([s.wtp.high for s in segments])[None, :]
    uniform = np.array([best_uniform_price(v, w, cost) for v, w in zip(volume, ceiling, strict=True)])
    observable = [g for g, s in enumerate(segments) if s.observable]
    if len(segments) > 1 and observable:
        return _discrimination(scenario, volume, ceiling, uniform, observable)
    return _single_price(scenario, volume, ceiling, uniform)


def _regime(prices: np.ndarray, volume: np.ndarray, ceiling: np.ndarray, cost: float) -> dict[str, float]:
    """Expected totals over the run when segment g pays prices[day, g]."""
    units = volume * np.clip(1 - prices / ceiling, 0.0, None)
    surplus = volume * np.clip(ceiling - prices, 0.0, None) ** 2 / (2 * ceiling)
    profit = (prices - cost) * units
    sold = units > 0
    return {
        "profit": float(profit.sum()),
        "daily_profit": profit.sum(axis=1),
        "units": float(units.sum()),
        "surplus": float(surplus.sum()),
        "gini": _weighted_gini(prices[sold], units[sold]),
        "ratio": float(prices[sold].max() / prices[sold].min()) if sold.any() else 1.0,
    }


def _weighted_gini(values: np.ndarray, weights: np.ndarray) -> float:
    if not len(values):
        return 0.0
    pairs = np.abs(values[:, None] - values[None, :]) * weights[:, None] * weights[None, :]
    return float(pairs.sum() / (2 * weights.sum() ** 2 * np.average(values, weights=weights)))


def _single_price(scenario: Scenario, volume: np.ndarray, ceiling: np.ndarray, uniform: np.ndarray) -> Theory:
    cost, days = scenario.sellers[0].unit_cost, scenario.days
    total_volume = volume.sum(axis=1)
    optimum = _regime(np.repeat(uniform[:, None], volume.shape[1], axis=1), volume, ceiling, cost)

    def units_at(price: float) -> float:
        return float(linear_units(price, volume, ceiling).sum())

    def profit_at(price: float) -> float:
        return (price - cost) * units_at(price)

    facts = []
    if volume.shape[1] == 1 and np.ptp(ceiling) == 0 and np.ptp(total_volume) == 0:
        a, w = float(total_volume[0]), float(ceiling[0, 0])
        b = a / w
        p = linear_optimum(a, b, cost)
        facts += [
            ("Demand per day", f"Q(p) = a − b p = {a:,.6g} − {b:,.6g} p  (a = V shoppers, b = V/W)"),
            ("Optimal price", f"p* = (a + b c)/(2b) = (W + c)/2 = {p:,.6g}"),
            ("Units per day at p*", f"Q* = (a − b c)/2 = {(a - b * cost) / 2:,.6g}"),
            ("Profit per day at p*", f"π* = (a − b c)²/(4b) = {(a - b * cost) ** 2 / (4 * b):,.6g}"),
            ("Regret of a fixed price p", f"b (p − p*)² = {b:,.6g} (p − p*)² per day"),
        ]
        summary = (
            f"Shoppers with wtp uniform on [0, {w:,.6g}] who buy whenever the price is below it give "
            f"linear demand; the textbook optimum is p* = {p:,.6g}."
        )
    else:
        facts.append(("Optimal price per day", "the price maximising Σ (p − c) V (1 − p/W)⁺ that day"))
        facts.append(("Optimal price range", f"{uniform.min():,.6g} … {uniform.max():,.6g}"))
        summary = (
            "Shoppers with uniform wtp who buy whenever the price is below it give linear demand each day; "
            "an event that scales wtp by m moves the optimum to (m W + c)/2, extra traffic alone does not."
        )
    facts += [
        (f"Expected profit over {days} days at the optimum", f"{optimum['profit']:,.6g}"),
        ("Expected consumer surplus at the optimum", f"{optimum['surplus']:,.6g}"),
    ]
    return Theory(
        title="Linear demand (theory.md §1)",
        summary=summary,
        facts=tuple(facts),
        prices=(Reference("optimal price p*", uniform),),
        profits=(Reference("expected profit at p*", np.cumsum(optimum["daily_profit"])),),
        profit_at=profit_at,
        units_at=units_at,
        price_range=(cost, float(ceiling.max())),
    )


def _discrimination(
    scenario: Scenario, volume: np.ndarray, ceiling: np.ndarray, uniform: np.ndarray, observable: list[int]
) -> Theory:
    segments, cost = scenario.consumers.segments, scenario.sellers[0].unit_cost
    hidden = [g for g in range(len(segments)) if g not in observable]
    # hidden segments share the base price: the best single price over them alone
    base = np.array(
        [
            best_uniform_price(v[hidden], w[hidden], cost) if hidden else np.nan
            for v, w in zip(volume, ceiling, strict=True)
        ]
    )
    separate = np.repeat(base[:, None], len(segments), axis=1)
    for g in observable:
        separate[:, g] = np.maximum((ceiling[:, g] + cost) / 2, cost)
    same = np.repeat(uniform[:, None], len(segments), axis=1)
    apart, together = _regime(separate, volume, ceiling, cost), _regime(same, volume, ceiling, cost)
    days = scenario.days

    def prices_text(prices: np.ndarray) -> str:
        return ", ".join(f"{segments[g].name} {_level(prices[:, g])}" for g in range(len(segments)))

    facts = (
        ("Segment prices", f"p_g = (W_g + c)/2: {prices_text(separate)}"),
        ("Best uniform price", f"p_u = {_level(uniform)}"),
        (
            f"Expected profit over {days} days",
            f"segment prices {apart['profit']:,.6g}; uniform {together['profit']:,.6g}",
        ),
        (
            "Expected consumer surplus",
            f"segment prices {apart['surplus']:,.6g}; uniform {together['surplus']:,.6g}",
        ),
        (
            "Expected welfare (profit + surplus)",
            f"segment prices {apart['profit'] + apart['surplus']:,.6g}; "
            f"uniform {together['profit'] + together['surplus']:,.6g}",
        ),
        ("Units", f"segment prices {apart['units']:,.6g}; uniform {together['units']:,.6g}"),
        ("Gini of prices paid (segment prices)", f"{apart['gini']:.6f}"),
        ("Highest / lowest price (segment prices)", f"{apart['ratio']:.6f}"),
    )
    lines = [Reference(f"optimal price for {segments[g].name}", separate[:, g]) for g in observable]
    if hidden:
        lines.append(Reference("optimal base price (hidden segments)", base))
    lines.append(Reference("best uniform price", uniform))
    return Theory(
        title="Third-degree price discrimination (theory.md §5)",
        summary=(
            "Each observable segment has its own linear demand; a seller who may price them apart charges "
            "(W_g + c)/2 to each. Compare profit, consumer surplus and the fairness scores with the best "
            "single price."
        ),
        facts=facts,
        prices=tuple(lines),
        profits=(
            Reference("expected profit, segment prices", np.cumsum(apart["daily_profit"])),
            Reference("expected profit, best uniform price", np.cumsum(together["daily_profit"])),
        ),
        price_range=(cost, float(ceiling.max())),
    )


def _level(values: np.ndarray) -> str:
    """One number when constant over the run, else its range."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return f"{low:,.6g}" if np.isclose(low, high) else f"{low:,.6g} … {high:,.6g}"


def _logit(scenario: Scenario) -> Theory | None:
    market = logit_market(scenario)
    if market is None:
        return None
    quality, cost, outside, mu = market.quality, market.cost, market.outside, market.mu
    focal = scenario.focal_index
    equilibria = logit_equilibria(market, focal)
    nash, joint = equilibria.nash, equilibria.joint
    nash_share, joint_share = equilibria.nash_share, equilibria.joint_share
    nash_profit, joint_profit = equilibria.nash_profit, equilibria.joint_profit
    shoppers = expected_shoppers(scenario).sum(axis=1)
    days = scenario.days
    facts = [
        ("Demand", f"logit, μ = 1/price sensitivity = {mu:.6g}, a_i = wtp + quality, a₀ = {outside:.6g}"),
        ("Bertrand–Nash prices", _per_seller(scenario, nash)),
        ("Focal share and profit per shopper at Nash", f"{nash_share[focal]:.6f}, {nash_profit:.6f}"),
        ("Joint-optimum prices", _per_seller(scenario, joint)),
        (
            "Focal share and profit per shopper at the joint optimum",
            f"{joint_share[focal]:.6f}, {joint_profit:.6f}",
        ),
        ("Profit gain Δ", "(π − π^N)/(π^M − π^N): 0 at Nash, 1 at the joint optimum"),
    ]
    prices = [
        Reference("Bertrand–Nash price", np.full(days, nash[focal])),
        Reference("joint-optimum price", np.full(days, joint[focal])),
    ]
    profits = [
        Reference("expected profit, everyone at Nash", np.cumsum(shoppers * nash_profit)),
        Reference("expected profit, everyone at the joint optimum", np.cumsum(shoppers * joint_profit)),
    ]
    theory = Theory(
        title="Logit demand (theory.md §3, Calvano et al. 2020)",
        summary=(
            "With logit demand each seller's best price solves (p_i − c_i)(1 − s_i) = μ; the Nash prices "
            "solve all of these at once, the joint optimum maximises the sellers' total profit."
        ),
        facts=tuple(facts),
        prices=tuple(prices),
        profits=tuple(profits),
        price_range=(float(cost[focal]), float(max(joint[focal], nash[focal]) + 3 * mu)),
        nash_profit=nash_profit,
        joint_profit=joint_profit,
    )
    rivals = _fixed_rival_prices(scenario)
    return (
        theory
        if rivals is None
        else _against_fixed_rivals(theory, rivals, quality, cost, outside, mu, shoppers)
    )


def _per_seller(scenario: Scenario, prices: np.ndarray) -> str:
    return ", ".join(f"{s.name} {p:.6f}" for s, p in zip(scenario.sellers, prices, strict=True))


def _fixed_rival_prices(scenario: Scenario) -> np.ndarray | None:
    """Every seller's price when all rivals post a `fixed` price (the focal entry is a placeholder)."""
    prices = []
    for seller in scenario.sellers:
        if seller.focal:
            prices.append(np.nan)
        elif seller.strategy is not None and seller.strategy.kind == "fixed":
            prices.append(float(seller.strategy.params.get("price", _default_fixed_price())))
        else:
            return None
    return np.array(prices)


def _default_fixed_price() -> float:
    from strategies.simple import Fixed

    return Fixed.fixed_price


def _against_fixed_rivals(
    theory: Theory,
    rivals: np.ndarray,
    quality: np.ndarray,
    cost: np.ndarray,
    outside: float,
    mu: float,
    shoppers: np.ndarray,
) -> Theory:
    """Add the best response to the rivals' fixed prices, and the focal profit curve."""
    focal = int(np.flatnonzero(np.isnan(rivals))[0])

    def share(price: float) -> float:
        trial = rivals.copy()
        trial[focal] = price
        return float(logit_shares(trial, quality, outside, mu)[focal])

    reply = logit_best_response(focal, np.nan_to_num(rivals), quality, cost, outside, mu)
    per_shopper = (reply - cost[focal]) * share(reply)
    days = len(shoppers)
    facts = (
        *theory.facts,
        ("Best response to the rivals' fixed prices", f"{reply:.6f}, profit per shopper {per_shopper:.6f}"),
    )
    return Theory(
        **{
            **vars(theory),
            "facts": facts,
            "prices": (*theory.prices, Reference("best response to the rivals", np.full(days, reply))),
            "profits": (
                *theory.profits,
                Reference("expected profit at the best response", np.cumsum(shoppers * per_shopper)),
            ),
            "profit_at": lambda price: float((price - cost[focal]) * share(price) * shoppers.sum()),
            "units_at": lambda price: float(share(price) * shoppers.sum()),
        }
    )


def _scarcity(scenario: Scenario) -> Theory | None:
    segments, seller = scenario.consumers.segments, scenario.sellers[0]
    stock = seller.inventory
    if (
        not _one_seller_textbook(scenario)
        or len(segments) != 1
        or not isinstance(segments[0].wtp, Exponential)
    ):
        return None
    if stock.unlimited or stock.reorder_point is not None or stock.holding_cost or stock.salvage_value:
        return None
    shoppers = expected_shoppers(scenario)[:, 0]
    if np.ptp(shoppers) > 0 or np.ptp(wtp_multipliers(scenario)) > 0 or wtp_multipliers(scenario)[0] != 1:
        return None
    a, alpha, n, t = float(shoppers[0]), 1 / segments[0].wtp.mean, int(stock.initial), scenario.days
    cost = seller.unit_cost
    sunk = cost * n  # every unit's cost is charged, sold or left over
    optimum = gvr_optimal_revenue(a, alpha, n, t)
    fluid_price, fluid = gvr_fluid(a, alpha, n, t)
    fluid_rate = a * np.exp(-alpha * fluid_price)

    def revenue(price: float) -> float:
        return fixed_price_revenue(price, a, alpha, n, t)

    best = best_fixed_price(revenue, (np.log(a * t) + 5) / alpha)
    facts = (
        (
            "Demand",
            f"Poisson, rate λ(p) = a e^(−α p) = {a:.6g} e^(−{alpha:.6g} p) per day; "
            f"n = {n} units, t = {t} days",
        ),
        (
            "Optimal expected revenue (prices change continuously)",
            f"J*(n, t) = (1/α) ln Σ (λ* t)^i / i! = {optimum:,.6f}",
        ),
        (
            "Optimal opening price",
            f"p*(n, t) = J*(n, t) − J*(n − 1, t) + 1/α = {gvr_optimal_price(a, alpha, n, t):.6f}",
        ),
        ("Fluid price and revenue bound", f"p^D = {fluid_price:.6f}, J^D = {fluid:,.6f}"),
        ("Fixed price p^D for the whole run", f"expected revenue {revenue(fluid_price):,.6f}"),
        ("Best fixed price", f"{best:.6f}, expected revenue {revenue(best):,.6f}"),
        ("Profit", f"revenue − c n = revenue − {sunk:,.6g} (every unit's cost is charged, sold or not)"),
    )
    return Theory(
        title="Pricing a limited stock (theory.md §4, Gallego & van Ryzin 1994)",
        summary=(
            "With a fixed stock and a deadline, the optimal price rises as stock falls and falls as time "
            "runs out; no policy beats the fluid bound J^D, and the best single price loses only a little."
        ),
        facts=facts,
        prices=(
            Reference("fluid price p^D", np.full(t, fluid_price)),
            Reference("best fixed price", np.full(t, best)),
        ),
        profits=(
            Reference(
                "fluid bound",
                np.cumsum(np.full(t, fluid_rate * (fluid_price - cost)))
                - _unsold_cost(fluid_rate, n, t, cost),
            ),
        ),
        endpoints=(
            ("optimal dynamic pricing J* − c n", optimum - sunk),
            ("best fixed price", revenue(best) - sunk),
        ),
        profit_at=lambda price: revenue(price) - sunk,
        units_at=lambda price: fixed_price_units(price, a, alpha, n, t),
        price_range=(0.0, float(max(best, fluid_price) * 2.5)),
    )


def _unsold_cost(rate: float, n: int, t: int, cost: float) -> np.ndarray:
    """The cost of units the fluid plan leaves unsold, charged on the last day as the ledger does."""
    charge = np.zeros(t)
    charge[-1] = cost * max(0.0, n - rate * t)
    return charge
