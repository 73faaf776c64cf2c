"""The report's A/B-test section: each replication's estimate against the truth, coverage,
bias and the cost of peeking, from a run folder's experiment files."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

from market_sim.report import agg  # matplotlib's Agg, text drawn a string at a time

matplotlib.use(agg.BACKEND)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from market_sim.experiment import preview_text  # noqa: E402
from market_sim.report.plots import _data_uri  # noqa: E402
from market_sim.report.template import render  # noqa: E402

FILES = ("experiment.csv", "experiment_summary.csv", "experiment_preview.json")


def experiment_section(folder: Path) -> str:
    """The section as HTML, or "" when the run had no experiment."""
    if not all((folder / name).exists() for name in FILES):
        return ""
    table = pd.read_csv(folder / "experiment.csv", dtype={"arm": str, "strategy": str})
    summary = pd.read_csv(folder / "experiment_summary.csv", dtype={"arm": str, "strategy": str})
    power = json.loads((folder / "experiment_preview.json").read_text(encoding="utf-8"))
    arms = summary[summary["coverage"].notna()]
    aa = summary[summary["coverage"].isna()].iloc[0]
    return render(
        "experiment.html",
        unit=power["unit"],
        preview=preview_text(power),
        arms=[_verdict(row) for row in arms.to_dict("records")],
        aa=aa.to_dict(),
        figure=_estimates_figure(table),
        control=table["arm"].iloc[0],
    )


def _verdict(row: dict) -> dict:
    if row["coverage_ok"]:
        text = (
            f"The 95% intervals held the true effect in {row['coverage']:.0%} of replications, within "
            f"Monte-Carlo error (±{2 * row['coverage_mc_error']:.0%}) of 95%: "
            "this experiment tells the truth."
        )
    else:
        text = (
            f"The 95% intervals held the true effect in only {row['coverage']:.0%} of replications "
            f"(95% ± {2 * row['coverage_mc_error']:.0%} expected), and the estimate is off by "
            f"{row['bias']:+.4g} ± {row['bias_std_error']:.2g} on average: the experiment does not measure "
            "what switching the whole market would do (arms that share a stock, or rivals that react to the "
            "prices the experiment posts, make the arms interfere)."
        )
    return {**row, "verdict": text}


def _estimates_figure(table: pd.DataFrame) -> str:
    treated = table[table["p_value"].notna()]
    figure, axis = plt.subplots(figsize=(6.0, 3.2))
    for k, (arm, group) in enumerate(treated.groupby("arm", sort=False)):
        x = group["replication"] + 0.15 * k
        colour = plt.get_cmap("tab10")(k)
        axis.errorbar(
            x, group["effect"], yerr=[group["effect"] - group["ci_low"], group["ci_high"] - group["effect"]],
            fmt="o", markersize=3, color=colour, alpha=0.7, label=f"{arm}: estimate, 95% interval",
        )  # fmt: skip
        axis.plot(
            x,
            group["true_effect"],
            "_",
            markersize=10,
            color="black",
            label="true effect" if k == 0 else None,
        )
    axis.axhline(0, color="#999", linewidth=0.8)
    axis.set(xlabel="replication", ylabel="effect on profit per shopper")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize=7)
    return _data_uri(figure)
