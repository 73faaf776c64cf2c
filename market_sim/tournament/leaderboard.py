"""The tournament's results: the leaderboard, the match table and the report page.

An entrant's profit is averaged over its matches replication by replication, and the interval
comes from the spread of those replication means (replications are independent; matches on
one replication share its shoppers). The paired difference against the house is the entrant's
profit minus the house strategy's in the same seat, against the same rivals, on the same
replication, averaged the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from market_sim import metrics
from market_sim.result_folder import write_csv
from market_sim.tournament.play import Results
from market_sim.tournament.schedule import HOUSE

TONES = {"better than the house": "better", "worse than the house": "worse"}
COLUMNS = (
    "rank",
    "entrant",
    "strategy",
    "status",
    "matches",
    "profit_mean",
    "profit_ci_low",
    "profit_ci_high",
    "vs_house_mean",
    "vs_house_ci_low",
    "vs_house_ci_high",
    "beat_house_share",
    "verdict",
    "reason",
)


def match_table(results: Results) -> pd.DataFrame:
    """One row per counted match × entrant's seat: its profit and the house's in its place."""
    sellers = results.scenario.sellers
    rows = []
    for number, match in enumerate(results.matches):
        if not results.counted(match):
            continue
        profits = results.profits[match]
        for seat, i in enumerate(match.seating):
            if i == HOUSE:
                continue
            rivals = [_name(results, k) for s, k in enumerate(match.seating) if s != seat]
            rows.append(
                {
                    "match": number,
                    "replication": match.replication,
                    "seat": sellers[seat].name,
                    "entrant": results.entrants[i].name,
                    "rivals": " ".join(rivals),
                    "profit": float(profits[seat]),
                    "house_profit": float(results.profits[match.twin(seat)][seat]),
                }
            )
    columns = ["match", "replication", "seat", "entrant", "rivals", "profit", "house_profit"]
    return pd.DataFrame(rows, columns=columns)


def _name(results: Results, player: int) -> str:
    return "house" if player == HOUSE else results.entrants[player].name


def leaderboard(results: Results, matches: pd.DataFrame) -> pd.DataFrame:
    """One row per entrant: ranked ones by mean profit (best first), then the disqualified."""
    ranked, out = [], []
    for entrant in results.entrants:
        if entrant.failure is not None:
            out.append(_row(entrant, status="disqualified", reason=entrant.failure))
            continue
        own = matches[matches["entrant"] == entrant.name]
        by_replication = own.assign(difference=own["profit"] - own["house_profit"]).groupby("replication")
        profit = metrics.interval(by_replication["profit"].mean().to_numpy())
        difference = metrics.interval(by_replication["difference"].mean().to_numpy())
        ranked.append(
            _row(
                entrant,
                status="ranked",
                matches=len(own),
                profit_mean=profit[0],
                profit_ci_low=profit[2],
                profit_ci_high=profit[3],
                vs_house_mean=difference[0],
                vs_house_ci_low=difference[2],
                vs_house_ci_high=difference[3],
                beat_house_share=float((own["profit"] > own["house_profit"]).mean()) if len(own) else np.nan,
                verdict=_verdict(difference[2], difference[3]),
            )
        )
    ranked.sort(key=lambda row: (-_sortable(row["profit_mean"]), row["entrant"]))
    for place, row in enumerate(ranked, start=1):
        row["rank"] = place
    return pd.DataFrame(ranked + out, columns=list(COLUMNS))


def _row(entrant: Any, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(rank=pd.NA, entrant=entrant.name, strategy=entrant.strategy, reason="", verdict="", matches=0)
    row.update(values)
    return row


def _sortable(value: float) -> float:
    return -np.inf if np.isnan(value) else value


def _verdict(low: float, high: float) -> str:
    if np.isnan(low):
        return "too few replications to tell"
    if low > 0:
        return "better than the house"
    if high < 0:
        return "worse than the house"
    return "no clear difference"


def house_profit(results: Results, matches: pd.DataFrame) -> float:
    """The house strategy's mean profit in the entrants' places (its twin matches)."""
    return float(matches["house_profit"].mean()) if len(matches) else np.nan


def write_results(results: Results, folder: Path) -> pd.DataFrame:
    """Write leaderboard.csv, matches.csv and report.html into `folder`; return the leaderboard."""
    matches = match_table(results)
    board = leaderboard(results, matches)
    write_csv(board, folder / "leaderboard.csv")
    write_csv(matches, folder / "matches.csv")
    (folder / "report.html").write_text(report_html(results, board, matches), encoding="utf-8")
    return board


def report_html(results: Results, board: pd.DataFrame, matches: pd.DataFrame) -> str:
    """The report page, from templates/tournament.html in the reports' one environment (every
    value escaped)."""
    from market_sim.report.template import render  # only when a report is written

    scenario = results.scenario
    ranked = board[board["status"] == "ranked"]
    return render(
        "tournament.html",
        scenario=scenario,
        house=results.house.name,
        house_profit=_money(house_profit(results, matches)),
        limits=results.limits,
        memory_mib=results.limits.memory >> 20,
        output_kib=results.limits.output >> 10,
        seats=[{"name": s.name, "unit_cost": _money(s.unit_cost)} for s in scenario.sellers],
        matches=int(matches["match"].nunique()) if len(matches) else 0,
        ranked=[_shown(row) for row in ranked.to_dict("records")],
        disqualified=board[board["status"] == "disqualified"].to_dict("records"),
        scale=_scale(ranked),
    )


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A leaderboard row as the page shows it."""
    return {
        **row,
        "profit": _money(row["profit_mean"]),
        "profit_ci": _interval(row["profit_ci_low"], row["profit_ci_high"]),
        "vs_house": _money(row["vs_house_mean"], signed=True),
        "vs_house_ci": _interval(row["vs_house_ci_low"], row["vs_house_ci_high"], signed=True),
        "beat_house": f"{row['beat_house_share']:.0%}" if not np.isnan(row["beat_house_share"]) else "–",
        "tone": TONES.get(row["verdict"], "same"),
    }


def _scale(ranked: pd.DataFrame) -> dict[int, float]:
    """Bar widths (percent) for the profit column, the best entrant's bar full."""
    top = ranked["profit_mean"].abs().max() if len(ranked) else 0
    if not top or np.isnan(top):
        return {}
    return {int(row.rank): max(0.0, 100 * row.profit_mean / top) for row in ranked.itertuples()}


def _money(value: float, signed: bool = False) -> str:
    if value is None or np.isnan(value):
        return "–"
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def _interval(low: float, high: float, signed: bool = False) -> str:
    if np.isnan(low):
        return ""
    return f"[{_money(low, signed)}, {_money(high, signed)}]"
