"""Many replications of a learning market at once: `market.demand: expected`, every seller
`q_learning` or `fixed`, every day the same market (no events, flat weekly traffic), and prices
the guardrails leave alone. Such a day depends on the posted prices alone, so each seller's
profit per shopper for every combination of prices is computed once (by the same
`expected_day` the model calls), and the learning loop runs over a table instead of a market:
compiled with numba when it is installed (`pip install -e '.[fast]'`), else vectorised with
numpy across replications. Both give the prices `MarketModel` gives, day for day: every
replication draws its exploration from its own seller streams, in the same blocks, and
performs the same floating-point operations in the same order, so no result depends on how
replications are batched.

After learning (convergence under `stop_when_stable`, or the last day), each replication plays
`TAIL_DAYS` more days greedily (no exploration, no learning): the limit play the collusion
literature scores. Then the impulse response (Calvano et al. 2020): from that play, the focal
seller deviates for one day to its static best response, and both prices are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from market_sim.expected import ExpectedDay, book, expected_day
from market_sim.ledger import Ledger
from market_sim.population import Population
from market_sim.scenario import Scenario, StrategySpec
from market_sim.streams import Purpose, stream
from strategies import build
from strategies.bandits import UCB, day_logs
from strategies.base import MarketInfo, PublicEvent
from strategies.q_learning import BLOCK, QLearning, epsilon, explored, initial_state, nearest, reward

BATCHABLE = ("fixed", "q_learning", "ucb")
LEARNERS = ("q_learning", "ucb")
TAIL_DAYS = 100  # greedy days after learning: the limit play that is scored
IMPULSE_DAYS = 20  # days recorded after the deviation


def qualifies(scenario: Scenario, strategy: StrategySpec) -> bool:
    """Whether the batched engine runs `strategy` in the focal seat of `scenario` exactly."""
    market = scenario.market
    if market.demand != "expected" or market.events or len(set(market.weekly_traffic)) != 1:
        return False
    specs = _chosen(scenario, strategy)
    if any(spec.kind not in BATCHABLE for spec in specs) or not any(s.kind in LEARNERS for s in specs):
        return False
    rails, focal = scenario.guardrails, scenario.focal_index
    if rails.max_daily_change is not None:
        return False
    floor = max(rails.min_price, scenario.sellers[focal].unit_cost)
    prices = _players(scenario, strategy, np.random.default_rng(0))[focal].prices
    return bool(((prices >= floor) & (prices <= rails.max_price)).all())


@dataclass(frozen=True)
class Outcome:
    """One replication: how long it learned, whether it converged, the limit play, the impulse
    response, and (when asked for) every price it posted while learning."""

    replication: int
    days: int  # days of learning
    converged: bool
    ledger: Ledger  # TAIL_DAYS of greedy play, from day `days`
    impulse: np.ndarray | None  # (IMPULSE_DAYS + 2, sellers): the day before, the deviation, after
    prices: np.ndarray | None = None  # (days, sellers), with record=True


@dataclass
class _Player:
    index: int
    name: str
    unit_cost: float
    prices: np.ndarray  # the prices it can post: a grid, or one fixed price
    learner: QLearning | None
    bandit: UCB | None = None


def _chosen(scenario: Scenario, strategy: StrategySpec) -> list[StrategySpec]:
    return [strategy if seller.focal else seller.strategy for seller in scenario.sellers]


def _info(scenario: Scenario, j: int, rng: np.random.Generator) -> MarketInfo:
    names = [seller.name for seller in scenario.sellers]
    return MarketInfo(
        seller=names[j],
        unit_cost=scenario.sellers[j].unit_cost,
        days=scenario.days,
        start_date=scenario.start_date,
        rivals=tuple(name for name in names if name != names[j]),
        segments=MappingProxyType({}),
        events=tuple(PublicEvent(e.name, e.first_day, e.days) for e in scenario.market.events),
        rng=rng,
        guardrails=scenario.guardrails if scenario.sellers[j].focal else None,
    )


def _players(scenario: Scenario, strategy: StrategySpec, rng: np.random.Generator) -> list[_Player]:
    players = []
    for j, spec in enumerate(_chosen(scenario, strategy)):
        built = build(spec.builds, spec.params)
        seller = scenario.sellers[j]
        if isinstance(built, QLearning):
            built.reset(_info(scenario, j, rng))
            players.append(_Player(j, seller.name, seller.unit_cost, built.prices, built))
        elif isinstance(built, UCB):
            built.reset(_info(scenario, j, rng))
            players.append(_Player(j, seller.name, seller.unit_cost, built.prices, None, built))
        else:
            players.append(_Player(j, seller.name, seller.unit_cost, np.array([built.fixed_price]), None))
    return players


class _Market:
    """Every combination of posted prices, its expected trade and each seller's reward."""

    def __init__(self, scenario: Scenario, players: list[_Player]):
        self.scenario, self.players = scenario, players
        self.sizes = np.array([len(p.prices) for p in players])
        self.strides = np.array([int(np.prod(self.sizes[j + 1 :])) for j in range(len(players))])
        self.combos = int(np.prod(self.sizes))
        self.quality = np.array([s.quality for s in scenario.sellers])
        self.segments = len(scenario.consumers.segments)
        self._tables: dict[bytes, tuple[list[ExpectedDay], np.ndarray]] = {}

    def prices(self, combo: int) -> np.ndarray:
        actions = combo // self.strides % self.sizes
        return np.array([p.prices[a] for p, a in zip(self.players, actions, strict=True)])

    def for_population(self, population: Population) -> tuple[list[ExpectedDay], np.ndarray]:
        """The trade and the (combos, sellers) rewards of every price combination."""
        key = b"".join(
            a.tobytes()
            for a in (population.wtp, population.price_sensitivity, population.visit_rate, population.segment)
        )
        if key not in self._tables:
            scenario, trades = self.scenario, []
            rewards = np.empty((self.combos, len(self.players)))
            for combo in range(self.combos):
                tables = np.repeat(self.prices(combo)[:, None, None], self.segments, axis=1).repeat(2, axis=2)
                trade = expected_day(
                    population,
                    self.quality,
                    tables,
                    scenario.traffic(0),
                    scenario.wtp_multiplier(0),
                    scenario.market.outside_utility,
                )
                units, revenue = trade.units.sum(axis=1), trade.revenue.sum(axis=1)
                for p in self.players:
                    j = p.index
                    rewards[combo, j] = reward(
                        float(revenue[j]), float(units[j]), p.unit_cost, trade.shoppers
                    )
                trades.append(trade)
            self._tables[key] = (trades, rewards)
        return self._tables[key]


def run_batch(
    scenario: Scenario,
    strategy: StrategySpec,
    replications: Sequence[int],
    record: bool = False,
    compiled: bool | None = None,
    between_blocks: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Run `replications` of `scenario` with `strategy` in the focal seat, all at once.

    `compiled`: use the numba loop (default: when numba is installed) or the numpy one.
    `between_blocks`, if given, is called with the first day of every block of `BLOCK` learning
    days before it runs; it may raise to stop the batch (the runner's time limit).
    """
    compiled = numba_available() if compiled is None else compiled
    players = _players(scenario, strategy, np.random.default_rng(0))
    market = _Market(scenario, players)
    batch = len(replications)
    populations = [
        Population.draw(scenario.consumers, len(players), stream(scenario.seed, r, Purpose.POPULATION))
        for r in replications
    ]
    tables = [market.for_population(population) for population in populations]
    distinct = list({id(rewards): rewards for _, rewards in tables}.values())
    reward_tables = np.stack(distinct)
    table_of = np.array([next(k for k, r in enumerate(distinct) if r is rewards) for _, rewards in tables])

    learners = [p for p in players if p.learner is not None]
    state = _Learners(scenario, players, learners, replications)
    bandits = _Bandits(players, batch)
    n = len(players)
    actions = np.zeros((batch, n), dtype=np.int64)
    rewards = np.zeros((batch, n))
    done = np.zeros(batch, dtype=bool)
    days_run = np.zeros(batch, dtype=np.int64)
    stop = scenario.stop_when_stable if scenario.stop_when_stable is not None else -1
    history = [] if record else None
    step = _block_numba if compiled else _block_numpy
    first = 0
    while not done.all():
        if between_blocks is not None:
            between_blocks(first)
        explore = state.exploration(first, ~done)
        taken = np.full((BLOCK, batch, n), -1, dtype=np.int64)
        step(
            first, scenario.days, stop, state.q, state.best, state.top, state.state, state.stable,
            state.alpha, state.discount,
            state.width, state.maps, state.seller_of, explore, bandits.seller_of, bandits.grid,
            bandits.explore, bandits.pulls, bandits.means, bandits.greedy, bandits.stable,
            day_logs(first, BLOCK), actions, rewards, reward_tables, table_of, market.strides, done,
            days_run, taken,
        )  # fmt: skip
        if history is not None:
            history.append(taken)
        first += BLOCK
    converged = np.zeros(batch, dtype=bool)
    if stop > 0:
        converged = np.concatenate([state.stable, bandits.stable]).min(axis=0, initial=stop) >= stop
    outcomes = []
    for b, replication in enumerate(replications):
        trades, table = tables[b]
        ledger, impulse = _limit_play(
            scenario, market, state, bandits, b, int(days_run[b]), actions[b], trades, table
        )
        prices = None
        if history is not None:
            taken_all = np.concatenate([h[:, b] for h in history])[: days_run[b]]
            prices = np.stack([p.prices[taken_all[:, p.index]] for p in players], axis=1)
        outcomes.append(Outcome(replication, int(days_run[b]), bool(converged[b]), ledger, impulse, prices))
    return outcomes


class _Learners:
    """The Q-learners' arrays, padded to the largest grid and state count: (learners, batch, ...)."""

    def __init__(
        self, scenario: Scenario, players: list[_Player], learners: list[_Player], replications: Sequence[int]
    ):
        self.scenario, self.players, self.learners = scenario, players, learners
        self.replications = list(replications)
        batch, count = len(replications), len(learners)
        grids = [p.learner.grid for p in learners]
        states = [len(p.learner.q) for p in learners]
        self.q = np.full((count, batch, max(states, default=1), max(grids, default=1)), -np.inf)
        self.state = np.zeros((count, batch), dtype=np.int64)
        self.stable = np.zeros((count, batch), dtype=np.int64)
        self.alpha = np.array([p.learner.alpha for p in learners])
        self.discount = np.array([p.learner.discount for p in learners])
        self.seller_of = np.array([p.index for p in learners], dtype=np.int64)
        # per learner: (grid size, states) and, per seller in the learner's state order (itself
        # first, then its rivals), the learner's grid index of each of that seller's prices
        self.width = np.array([[g, s] for g, s in zip(grids, states, strict=True)], dtype=np.int64).reshape(
            -1, 2
        )
        widest = max(len(p.prices) for p in players)
        self.maps = np.zeros((count, len(players), widest + 1), dtype=np.int64)
        self.rngs = []
        for i, learner in enumerate(learners):
            q = learner.learner
            self.q[i, :, : len(q.q), : q.grid] = q.q
            order = [learner.index] + [p.index for p in players if p is not learner]
            for position, seller in enumerate(order):
                other = players[seller]
                self.maps[i, position, 0] = seller
                self.maps[i, position, 1 : len(other.prices) + 1] = [
                    nearest(q.prices, price) for price in other.prices
                ]
            rngs = [stream(scenario.seed, r, Purpose.STRATEGY, learner.index) for r in replications]
            for b, rng in enumerate(rngs):
                self.state[i, b] = initial_state(rng, q.grid, len(players), q.memory)
            self.rngs.append(rngs)
        # each row's greedy price (first maximum) and top value, kept up to date by the compiled loop
        self.best, self.top = self.q.argmax(axis=3), self.q.max(axis=3)

    def exploration(self, first: int, live: np.ndarray) -> np.ndarray:
        """(learners, batch, BLOCK) exploring grid indexes (−1: greedy) for days first.. of the
        live replications, drawn from each replication's own stream as `Exploration` draws them."""
        explore = np.full((len(self.learners), len(self.replications), BLOCK), -1, dtype=np.int64)
        for i, learner in enumerate(self.learners):
            q = learner.learner
            eps = epsilon(q.beta, first, BLOCK)
            for b in np.flatnonzero(live):
                explore[i, b] = explored(self.rngs[i][b].random(BLOCK), eps, q.grid)
        return explore


class _Bandits:
    """The UCB sellers' counts and mean rewards per grid price: (bandits, batch, grid)."""

    def __init__(self, players: list[_Player], batch: int):
        bandits = [p for p in players if p.bandit is not None]
        widest = max((len(p.prices) for p in bandits), default=1)
        self.seller_of = np.array([p.index for p in bandits], dtype=np.int64)
        self.grid = np.array([len(p.prices) for p in bandits], dtype=np.int64)
        self.explore = np.array([p.bandit.explore for p in bandits])
        self.pulls = np.zeros((len(bandits), batch, widest))
        self.means = np.zeros((len(bandits), batch, widest))
        self.greedy = np.full((len(bandits), batch), -1, dtype=np.int64)
        self.stable = np.zeros((len(bandits), batch), dtype=np.int64)

    def best_arms(self, b: int) -> list[int]:
        """Each bandit's greedy price index in replication b: the best mean among prices tried."""
        return [
            int(np.argmax(np.where(self.pulls[i, b, :g] > 0, self.means[i, b, :g], -np.inf)))
            for i, g in enumerate(self.grid)
        ]


def _block_numpy(
    first, days, stop, q, best, top, state, stable, alpha, discount, width, maps, seller_of, explore,
    b_seller, b_grid, b_explore, pulls, means, b_greedy, b_stable, logs, actions, rewards, reward_tables,
    table_of, strides, done, days_run, taken,
):  # fmt: skip
    """Up to BLOCK days from day `first` for every replication not done, vectorised across them."""
    learners, sellers = len(seller_of), actions.shape[1]
    for offset in range(BLOCK):
        day = first + offset
        live = np.flatnonzero(~done)
        if not live.size:
            return
        yesterday = actions[live]  # a copy: every learner's state is made of yesterday's prices
        for i in range(learners):
            j = seller_of[i]
            grid, states = width[i]
            current = state[i, live]
            if day > 0:
                code = np.zeros(live.size, dtype=np.int64)
                for position in range(sellers):
                    seller = maps[i, position, 0]
                    code = code * grid + maps[i, position, 1 + yesterday[:, seller]]
                following = (current * grid**sellers + code) % states
                rows = q[i, live, current]
                before = rows.argmax(axis=1)
                played = yesterday[:, j]
                old = rows[np.arange(live.size), played]
                target = rewards[live, j] + discount[i] * q[i, live, following].max(axis=1)
                q[i, live, current, played] = (1 - alpha[i]) * old + alpha[i] * target
                changed = q[i, live, current].argmax(axis=1) != before
                stable[i, live] = np.where(changed, 0, stable[i, live] + 1)
                state[i, live] = following
                current = following
            chosen = explore[i, live, offset]
            greedy = q[i, live, current].argmax(axis=1)
            actions[live, j] = np.where(chosen >= 0, chosen, greedy)
        for i in range(len(b_seller)):  # UCB: every price once, then the highest upper bound
            grid = b_grid[i]
            counts = pulls[i, live, :grid]
            untried = counts == 0
            bound = means[i, live, :grid] + b_explore[i] * np.sqrt(
                2 * logs[offset] / np.where(untried, 1, counts)
            )
            actions[live, b_seller[i]] = np.where(
                untried.any(axis=1), untried.argmax(axis=1), bound.argmax(axis=1)
            )
        taken[offset, live] = actions[live]
        combo = actions[live] @ strides
        rewards[live] = reward_tables[table_of[live], combo]
        for i in range(len(b_seller)):
            grid, arm = b_grid[i], actions[live, b_seller[i]]
            pulls[i, live, arm] += 1
            old = means[i, live, arm]
            means[i, live, arm] = old + (rewards[live, b_seller[i]] - old) / pulls[i, live, arm]
            tried = pulls[i, live, :grid] > 0
            greedy = np.where(tried, means[i, live, :grid], -np.inf).argmax(axis=1)
            b_stable[i, live] = np.where(greedy == b_greedy[i, live], b_stable[i, live] + 1, 0)
            b_greedy[i, live] = greedy
        finished = np.full(live.size, day + 1 >= days)
        if stop > 0:
            finished |= (stable[:, live] >= stop).all(axis=0) & (b_stable[:, live] >= stop).all(axis=0)
        done[live[finished]] = True
        days_run[live[finished]] = day + 1


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _block_numba(*args) -> None:
    from market_sim.batched_numba import block

    block(*args)


def _limit_play(
    scenario: Scenario,
    market: _Market,
    learners: _Learners,
    bandits: _Bandits,
    b: int,
    days: int,
    actions: np.ndarray,
    trades: list[ExpectedDay],
    rewards: np.ndarray,
) -> tuple[Ledger, np.ndarray | None]:
    """TAIL_DAYS of greedy play after learning (booked in a ledger from day `days`), then the
    impulse response: the focal seller's one-day deviation to its static best response."""
    players = market.players
    best_arms = bandits.best_arms(b)
    states = learners.state[:, b].copy()
    actions = actions.copy()
    ledger = Ledger(TAIL_DAYS, len(players), market.segments, fractional=True, first_day=days)

    def greedy_day() -> None:
        yesterday = actions.copy()
        for i, learner in enumerate(learners.learners):
            grid, count = learners.width[i]
            code = 0
            for position in range(len(players)):
                seller = learners.maps[i, position, 0]
                code = code * grid + learners.maps[i, position, 1 + yesterday[seller]]
            states[i] = (states[i] * grid ** len(players) + code) % count
            actions[learner.index] = int(np.argmax(learners.q[i, b, states[i]]))
        for seller, arm in zip(bandits.seller_of, best_arms, strict=True):
            actions[seller] = arm

    for day in range(TAIL_DAYS):
        greedy_day()
        combo = int(actions @ market.strides)
        prices = market.prices(combo)
        reasons = ["limit play (greedy)"] * len(players)
        offered = np.repeat(prices[:, None], market.segments, axis=1)
        book(ledger, day, trades[combo], prices, offered, reasons, [p.unit_cost for p in players])
    focal = scenario.focal_index
    if players[focal].learner is None:
        return ledger, None
    path = [market.prices(int(actions @ market.strides))]
    greedy_day()
    # the deviation: the focal seller's best one-day profit against the rivals' prices of the day
    own = rewards.reshape(*market.sizes, len(players))[..., focal]
    against = tuple(slice(None) if j == focal else int(actions[j]) for j in range(len(players)))
    actions[focal] = int(np.argmax(own[against]))
    path.append(market.prices(int(actions @ market.strides)))
    for _ in range(IMPULSE_DAYS):
        greedy_day()
        path.append(market.prices(int(actions @ market.strides)))
    return ledger, np.array(path)
