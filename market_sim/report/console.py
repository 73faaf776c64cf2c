"""The ranking as plain text, for the terminal."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from market_sim import metrics


def ranking_text(
    scores: pd.DataFrame, baseline: str | None, focal: str, benchmark: Collection[str] = ()
) -> str:
    """Strategies by mean profit with 95% intervals, the paired difference against the baseline,
    and the verdict; the `benchmark` strategies (which use hidden truth) are listed apart, unranked."""
    summary = metrics.summarise(scores, baseline, benchmark=benchmark)
    if summary.empty:
        return "no strategy finished"
    baseline = str(summary["baseline"].iloc[0])
    ranked = summary.sort_values(["benchmark", "profit_mean"], ascending=[True, False], kind="stable")
    rows = [("#", "strategy", "profit [95% CI]", "vs baseline [95% CI]", "better in", "verdict")]
    rank = 0
    for _, row in ranked.iterrows():
        strategy = str(row["strategy"])
        comparison = metrics.paired(scores, strategy, baseline, "profit")
        better = f"{round(comparison.better_share * comparison.replications)}/{comparison.replications}"
        own = strategy == baseline
        if row["benchmark"]:
            label = "benchmark"
        else:
            rank += 1
            label = str(rank)
        rows.append(
            (
                label,
                strategy,
                _with_interval(row["profit_mean"], row["profit_ci_low"], row["profit_ci_high"]),
                "baseline"
                if own
                else _with_interval(comparison.mean, comparison.ci_low, comparison.ci_high, True),
                "" if own else better,
                "" if own else comparison.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"Ranking by profit of {focal} (mean over replications, 95% interval); baseline: {baseline}"]
    for row in rows:
        cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2])]
        cells += [row[3].rjust(widths[3]), row[4].rjust(widths[4]), row[5]]
        lines.append("  ".join(cells).rstrip())
    if summary["benchmark"].any():
        lines.append("benchmark: uses hidden truth (no seller could run it); ranked apart, never the winner")
    lines.append(metrics.verdict(scores, benchmark=benchmark).text)
    return "\n".join(lines)


def _with_interval(mean: float, low: float, high: float, sign: bool = False) -> str:
    if pd.isna(mean):
        return "–"
    text = f"{mean:+,.2f}" if sign else f"{mean:,.2f}"
    return text if pd.isna(low) else f"{text} [{low:,.2f}, {high:,.2f}]"
