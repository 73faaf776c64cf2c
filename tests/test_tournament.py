"""Tournaments: hostile entrants are disqualified with their reasons, the others ranked on the
same matches, each entrant in its own process seeing only its observations; same folder and
seed, same leaderboard."""

from __future__ import annotations

import importlib.util
import os
import textwrap
from collections import Counter
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim.cli import main
from market_sim.model import MarketModel
from market_sim.tournament import Limits, run_tournament
from market_sim.tournament.schedule import HOUSE, round_robin
from tests.conftest import scenario_from

MARKET = """
name: tournament test
days: 6
replications: 2
seed: 11
market: {choice: logit}
consumers:
  population: 300
  segments:
    - {name: students, observable: true, share: 0.5, visit_rate: 0.6, wtp: {dist: normal, mean: 20, sd: 3}, price_sensitivity: 0.35}
    - {name: staff, share: 0.5, visit_rate: 0.4, wtp: {dist: normal, mean: 28, sd: 3}, price_sensitivity: 0.25}
sellers:
  - {name: north, focal: true, unit_cost: 8, inventory: {initial: 400, reorder_point: 100, order_quantity: 200, lead_time: 2}}
  - {name: south, unit_cost: 9, quality: 1, strategy: {kind: fixed, price: 14}}
strategies:
  - {kind: cost_plus, markup: 0.5, name: house}
"""

# reads everything an observation holds, so any difference between what an entrant sees in
# its own process and what it would see in the simulator's shows in its prices
OBSERVER = """
import math
from strategies import PricingStrategy, Prices


class Observer(PricingStrategy):
    def reset(self, info):
        self.info = info
        self.seen = [info.unit_cost, info.days, len(info.rivals), sum(info.segments.values()),
                     float(info.rng.random())]
        self.evenings = []

    def price(self, obs):
        h = obs.history
        parts = [obs.day, obs.weekday, obs.days_left, min(obs.stock, 1e6), sum(u for _, u in obs.on_order)]
        parts += [float(a.sum()) for a in (h.prices, h.views, h.units, h.revenue, h.lost_sales,
                  h.new_views, h.returning_views, h.new_units, h.returning_units)]
        for table in (h.segment_views, h.segment_units, h.segment_revenue):
            parts += [float(v.sum()) for v in table.values()]
        parts += [float(p.sum()) for p in obs.rival_prices.values()] + self.seen + self.evenings
        fingerprint = math.fsum(x * (i + 1) for i, x in enumerate(parts))
        markup = 0.4 + (fingerprint % 97) / 97
        return Prices(obs.unit_cost * (1 + markup), segments={"students": obs.unit_cost * (1 + markup / 2)},
                      reason=f"fingerprint {fingerprint:.3f}")

    def posted(self, prices):
        self.evenings.append(prices.base)

    def observe(self, result):
        self.evenings.append(result.units + result.revenue + result.views + result.lost_sales)
"""

UNDERCUT = """
from strategies import PricingStrategy


class Undercut(PricingStrategy):
    def price(self, obs):
        if obs.day == 0:
            return 15.0
        return max(obs.unit_cost * 1.1, min(p[-1] for p in obs.rival_prices.values()) - 0.5)
"""

# what a snooping entrant looks for in its own process: any trace of the simulator
SNOOP = '''
import gc
import sys

MARKET_TYPES = {"MarketModel", "Population", "Ledger", "Scenario", "Seller", "Consumer", "Entrant", "Results"}


def snoop():
    """Names of simulator objects and modules within reach of this process."""
    found = {type(o).__name__ for o in gc.get_objects() if type(o).__name__ in MARKET_TYPES}
    found |= {name for name in list(sys.modules) if name.startswith("market_sim")}
    for frame in list(sys._current_frames().values()):
        while frame is not None:
            found |= {type(v).__name__ for v in frame.f_locals.values() if type(v).__name__ in MARKET_TYPES}
            frame = frame.f_back
    return sorted(found)
'''

SNOOPER = (
    SNOOP
    + '''

from strategies import PricingStrategy


class Snooper(PricingStrategy):
    """Searches its process every morning; answers with what it found if anything."""

    def price(self, obs):
        found = snoop()
        return f"found {found}" if found else 12.0
'''
)

HOSTILE = {
    "crasher": """
from strategies import PricingStrategy

class Crasher(PricingStrategy):
    def price(self, obs):
        if obs.day == 2:
            return {}["missing"]
        return 12.0
""",
    "hanger": """
from strategies import PricingStrategy

class Hanger(PricingStrategy):
    def price(self, obs):
        while obs.day == 1:
            pass
        return 12.0
""",
    "hog": """
from strategies import PricingStrategy

class Hog(PricingStrategy):
    def price(self, obs):
        self.hoard = bytearray(4 << 30)  # 4 GiB: fine on this machine, not within the limit
        return 12.0
""",
    "chatterbox": """
from strategies import PricingStrategy

class Chatterbox(PricingStrategy):
    def price(self, obs):
        print("x" * 400_000)
        return 12.0
""",
    "nonsense": """
from strategies import PricingStrategy

class Nonsense(PricingStrategy):
    def price(self, obs):
        return "cheap"
""",
    "not_a_number": """
from strategies import PricingStrategy

class NotANumber(PricingStrategy):
    def price(self, obs):
        return float("nan") if obs.day == 1 else 12.0
""",
    "no_strategy": """
def price(obs):
    return 12.0
""",
    "typo": """
from strategies import PricingStrategy

class Typo(PricingStrategy)
    def price(self, obs):
        return 12.0
""",
    "quitter": """
import os
from strategies import PricingStrategy

class Quitter(PricingStrategy):
    def price(self, obs):
        os._exit(3)
""",
    "caller": """
import socket
from strategies import PricingStrategy

class Caller(PricingStrategy):
    def price(self, obs):
        socket.create_connection(("127.0.0.1", 9))
        return 12.0
""",
    "parent_reader": """
import os
from strategies import PricingStrategy

class ParentReader(PricingStrategy):
    def price(self, obs):
        return len(open(f"/proc/{os.getppid()}/environ", "rb").read())
""",
    "spawner": """
import subprocess
from strategies import PricingStrategy

class Spawner(PricingStrategy):
    def price(self, obs):
        try:
            subprocess.run(["ls", "/"], capture_output=True)
        except Exception:
            pass  # caught: still disqualified
        return 12.0
""",
}


def _file_reader(target: Path) -> str:
    return f"""
from strategies import PricingStrategy

class Peeker(PricingStrategy):
    def price(self, obs):
        try:
            return len(open({str(target)!r}).read()) + 10.0
        except OSError:
            return 12.0  # caught: still disqualified
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One tournament with three well-behaved entrants (one a snooper) and every kind of
    misbehaviour."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "entrants"
    secret = root / "answers.txt"
    secret.write_text("the rival's code")
    _write(
        folder,
        {
            "observer": OBSERVER,
            "undercut": UNDERCUT,
            "snooper": SNOOPER,
            "peeker": _file_reader(secret),
            "sibling_reader": _file_reader(folder / "observer.py"),
            **HOSTILE,
        },
    )
    limits = Limits(seconds=1.0, memory=768 << 20, output=1 << 20)
    board = run_tournament(folder, scenario_from(MARKET), root / "out", limits=limits)
    return board.set_index("entrant"), root / "out"


def test_misbehaving_entrants_are_disqualified_with_their_reasons(hostile):
    board, _ = hostile
    reasons = board.loc[board["status"] == "disqualified", "reason"].to_dict()
    expected = {
        "crasher": "crashed in price() on day 2: KeyError: 'missing' (line 7)",
        "hanger": "took longer than 1 s in price() on day 1",
        "hog": "ran out of memory (768 MiB) in price() on day 0",
        "chatterbox": "printed more than 1 MiB in price() on day 2",
        "nonsense": "answered nonsense in price() on day 0: price() returned 'cheap', not a number or Prices",
        "not_a_number": "answered nonsense on day 1: price must be finite and not negative, got nan",
        "no_strategy": "not a strategy: the file defines no subclass of PricingStrategy",
        "quitter": "its process exited with status 3 in price() on day 0",
        "typo": "not a strategy: the file is not valid Python: expected ':' (line 4)",
        "spawner": "tried to start a program (subprocess.Popen) in price() on day 0",
        "caller": "tried to open a network socket (socket.__new__) in price() on day 0",
        "parent_reader": f"tried to read /proc/{os.getpid()}/environ in price() on day 0",
        "peeker": f"tried to read {hostile[1].parent / 'answers.txt'} in price() on day 0",
        "sibling_reader": f"tried to read {hostile[1].parent / 'entrants' / 'observer.py'} in price() on day 0",
    }
    assert reasons == expected


def test_the_others_are_ranked_on_the_matches_without_the_disqualified(hostile):
    board, out = hostile
    ranked = board[board["status"] == "ranked"].sort_values("rank")
    assert set(ranked.index) == {"observer", "undercut", "snooper"}
    assert list(ranked["rank"]) == [1, 2, 3]
    assert ranked["profit_mean"].is_monotonic_decreasing
    # three entrants, two seats: 3 pairs × 2 seatings × 2 replications, each entrant in 8
    matches = pd.read_csv(out / "matches.csv")
    assert matches["match"].nunique() == 12
    assert set(matches["entrant"]) == set(ranked.index)
    assert (ranked["matches"] == 8).all()
    for name, row in ranked.iterrows():
        own = matches[matches["entrant"] == name]
        per_rep = own.groupby("replication")["profit"].mean()
        assert row["profit_mean"] == pytest.approx(per_rep.mean())
        diff = (own["profit"] - own["house_profit"]).groupby(own["replication"]).mean()
        assert row["vs_house_mean"] == pytest.approx(diff.mean())
        half = 12.706204736174707 * diff.std(ddof=1) / np.sqrt(2)  # t(0.975, 1 dof)
        assert row["vs_house_ci_high"] == pytest.approx(diff.mean() + half)
    report = (out / "report.html").read_text()
    assert "sibling_reader" in report and "took longer than 1 s" in report


def test_a_snooper_finds_no_trace_of_the_market_in_its_process(hostile):
    board, _ = hostile
    assert board.loc["snooper", "status"] == "ranked"  # it would have answered "found ..." otherwise
    # the same search in the simulator's own process does find the market
    namespace: dict = {}
    exec(SNOOP, namespace)
    model = MarketModel(scenario_from(MARKET))
    assert {"MarketModel", "Population", "Ledger", "Scenario", "Seller"} <= set(namespace["snoop"]())
    assert "market_sim.model" in namespace["snoop"]()
    del model


def test_an_entrant_sees_in_its_process_exactly_what_it_would_see_in_the_simulator(hostile):
    """Observer's prices depend on every number it is shown: the same profits both ways."""
    _, out = hostile
    scenario = scenario_from(MARKET)
    matches = pd.read_csv(out / "matches.csv")
    classes = {name: _load(out.parent / "entrants" / f"{name}.py") for name in ("observer", "undercut")}
    pairs = matches[matches["entrant"].isin(classes) & matches["rivals"].isin(classes)]
    assert len(pairs) == 8  # 2 seatings × 2 replications × 2 seats
    for _, row in pairs.iterrows():
        seats = [row["entrant"], row["rivals"]] if row["seat"] == "north" else [row["rivals"], row["entrant"]]
        model = MarketModel(scenario, replication=row["replication"], seats=[classes[n]() for n in seats])
        model.run_for(scenario.days)
        seat = 0 if row["seat"] == "north" else 1
        assert model.ledger.profit.sum(axis=0)[seat] == row["profit"]


def _load(path: Path) -> type:
    spec = importlib.util.spec_from_file_location(f"entrant_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return next(v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__)


LIBRARY_USER = """
import warnings

import numpy as np
import pandas as pd
from scipy import optimize

from strategies import BUILT_IN
from strategies.simple import CostPlus


class LibraryUser(CostPlus):  # pandas, scipy, the strategy library and warnings: all allowed

    def price(self, obs):
        frame = pd.DataFrame({"price": obs.history.prices})
        best = optimize.minimize_scalar(lambda p: (p - 13) ** 2, bounds=(0, 30), method="bounded").x
        warnings.warn("a warning is fine")
        np.log(np.zeros(1))  # and so is numpy's
        return float(best) + 0 * len(frame) + 0 * len(BUILT_IN)
"""

SHOUTER = """
from strategies import PricingStrategy

class Shouter(PricingStrategy):
    def price(self, obs):
        if obs.day == 1:
            raise ValueError("<script>alert('the answers')</script>")
        return 12.0
"""


def test_same_folder_and_seed_give_the_same_leaderboard_byte_for_byte(tmp_path):
    entrants = {"observer": OBSERVER, "undercut": UNDERCUT, "shouter": SHOUTER, "library_user": LIBRARY_USER}
    folder = _write(tmp_path / "entrants", entrants)
    scenario = scenario_from(MARKET)
    run_tournament(folder, scenario, tmp_path / "first")
    run_tournament(folder, scenario, tmp_path / "second")
    for name in ("leaderboard.csv", "matches.csv", "report.html"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
    board = pd.read_csv(tmp_path / "first" / "leaderboard.csv")
    assert list(board["status"]) == ["ranked", "ranked", "ranked", "disqualified"]
    assert "library_user" in set(board.loc[board["status"] == "ranked", "entrant"])
    # an entrant's words reach the page as text, never as markup
    report = (tmp_path / "first" / "report.html").read_text()
    assert "&lt;script&gt;alert(&#x27;the answers&#x27;)&lt;/script&gt;" in report  # html.escape's quotes
    assert "<script>" not in report


SEGFAULT = """
import faulthandler
from strategies import PricingStrategy

class Segfault(PricingStrategy):
    def price(self, obs):
        faulthandler._sigsegv()
"""


def test_the_last_entrant_standing_plays_the_house(tmp_path):
    """Everyone else out: the survivor is ranked on matches against the house, as if it had
    entered alone."""
    folder = _write(
        tmp_path / "entrants", {"crasher": HOSTILE["crasher"], "segfault": SEGFAULT, "undercut": UNDERCUT}
    )
    board = run_tournament(folder, scenario_from(MARKET), tmp_path / "out").set_index("entrant")
    assert board.loc["segfault", "reason"] == "its process killed by signal SIGSEGV in price() on day 0"
    assert board.loc["undercut", "status"] == "ranked"
    matches = pd.read_csv(tmp_path / "out" / "matches.csv")
    assert len(matches) == board.loc["undercut", "matches"] == 4  # 2 seats × 2 replications
    assert set(matches["rivals"]) == {"house"}
    assert np.isfinite(board.loc["undercut", ["profit_mean", "vs_house_mean"]].astype(float)).all()


def test_tournament_command_ranks_writes_and_refuses_bad_input(tmp_path, capsys):
    folder = _write(tmp_path / "entrants", {"undercut": UNDERCUT, "crasher": HOSTILE["crasher"]})
    scenario = tmp_path / "market.yaml"
    scenario.write_text(MARKET)
    out = tmp_path / "out"
    assert (
        main(
            ["tournament", str(folder), "--scenario", str(scenario), "--out", str(out), "--replications", "3"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "  1. undercut" in printed
    assert "crasher                  disqualified: crashed in price() on day 2" in printed
    assert pd.read_csv(out / "leaderboard.csv")["matches"].tolist() == [6, 0]  # 2 seats × 3 replications
    assert main(["tournament", str(folder), "--scenario", str(scenario), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["tournament", str(tmp_path / "none"), "--scenario", str(scenario)]) == 2
    assert main(["tournament", str(folder), "--scenario", str(scenario), "--house", "nobody"]) == 2
    assert "--house: no strategy named 'nobody'; the scenario has: house" in capsys.readouterr().err


@pytest.mark.parametrize("entrants, seats", [(4, 2), (5, 3), (2, 3), (3, 3)])
def test_round_robin_puts_everyone_in_every_seat_against_every_rival_equally(entrants, seats):
    matches = round_robin(list(range(entrants)), seats, replications=2)
    for replication in range(2):
        seatings = [m.seating for m in matches if m.replication == replication]
        assert len(set(seatings)) == len(seatings)
        places = Counter((who, seat) for seating in seatings for seat, who in enumerate(seating))
        assert len(set(places.values())) == 1  # every entrant (and house filler) as often in every seat
        meetings = Counter(
            pair for seating in seatings for pair in permutations(seating, 2) if HOUSE not in pair
        )
        assert len(set(meetings.values())) <= 1  # every pair of entrants meets equally often
