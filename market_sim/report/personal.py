"""The report's personal-pricing section (scenarios with shopper features): profit against the
best uniform price, who pays more and who pays less, price gaps between observable and hidden
groups (proxy discrimination), winners and losers by segment, and model quality over time for
`ml_pricing`, and the price each customer paid against their features (shoppers.csv). Built from
the saved tables, like the rest of the report, and laid out by templates/run_personal.html."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from market_sim import metrics
from market_sim.report.data import Results
from market_sim.report.template import render

if TYPE_CHECKING:
    from markupsafe import Markup

SCORES = (
    "gain_over_uniform",
    "consumer_surplus",
    "share_paying_more",
    "share_paying_less",
    "price_dispersion",
    "feature_price_gap",
    "hidden_price_gap",
)
MODEL_QUALITY = re.compile(r"held-out log loss ([0-9.]+), AUC ([0-9.]+)")


def personal_section(results: Results) -> Markup | str:
    """The section (templates/run_personal.html), or "" when the scenario's consumers have no
    features."""
    if not results.scenario.consumers.features or results.summary.empty:
        return ""
    from market_sim.report.html import number  # the report's number format

    return render(
        "run_personal.html",
        focal=results.focal,
        scores=_score_table(results, number),
        figure=_shopper_figure(results),
        groups=_group_shares(results, number),
        segments=_segment_table(results, number),
        quality=_model_quality(results, number),
    )


def _score_table(results: Results, number) -> dict:
    rows = [
        (
            str(row["strategy"]),
            [number(row.get(f"{s}_mean", np.nan), metrics.SCORE[s].unit) for s in SCORES],
        )
        for _, row in results.ranked.iterrows()
    ]
    return {"labels": [metrics.SCORE[s].label for s in SCORES], "rows": rows}


def _shopper_figure(results: Results) -> str | None:
    """Price paid against shopper features, for the strategies that set personal prices."""
    from market_sim.report import plots

    return plots.personal_prices(results)


def _group_shares(results: Results, number) -> dict | None:
    """Winners and losers by group: the share of each group's customers paying more / less than
    the best uniform price, per strategy that set personal prices (pooled over replications)."""
    table = results.shoppers
    if table.empty:
        return None
    one_feature = table[table["feature"] == table["feature"].iloc[0]]  # every feature counts everyone
    counts = one_feature.groupby(["strategy", "group"], sort=False)[
        ["buyers", "paying_more", "paying_less"]
    ].sum()
    groups = list(dict.fromkeys(one_feature["group"]))
    hidden = dict(zip(one_feature["group"], one_feature["hidden"], strict=False))
    rows = []
    for strategy in (s for s in results.strategies if s in counts.index.get_level_values(0)):
        cells = []
        for group in groups:
            if (strategy, group) not in counts.index:
                cells.append(None)
                continue
            cell = counts.loc[(strategy, group)]
            more, less = cell["paying_more"] / cell["buyers"], cell["paying_less"] / cell["buyers"]
            cells.append((number(more, "share"), number(less, "share")))
        rows.append((strategy, cells))
    return {
        "group_by": str(one_feature["group_by"].iloc[0]),
        "groups": [(group, bool(hidden[group])) for group in groups],
        "rows": rows,
    }


def _segment_table(results: Results, number) -> dict | None:
    """Winners and losers: each segment's average price paid and surplus per visit, per strategy,
    and the change against the baseline."""
    segments = results.segments
    if segments.empty:
        return None
    focal = segments[segments["seller"] == results.focal]
    by = focal.groupby(["strategy", "segment"])[["revenue", "units", "visitors"]].sum()
    surplus = segments.groupby(["strategy", "segment"])["consumer_surplus"].sum()
    table = by.assign(
        price=by["revenue"] / by["units"].replace(0, np.nan),
        surplus=surplus.reindex(by.index) / by["visitors"].replace(0, np.nan),
    )
    hidden = {s.name for s in results.scenario.consumers.segments if not s.observable}
    names = [s.name for s in results.scenario.consumers.segments]
    base = results.baseline
    rows = []
    for strategy in results.strategies:
        cells = []
        for name in names:
            key, ref = (strategy, name), (base, name)
            if key not in table.index:
                cells.append(None)
                continue
            price, gain = table.loc[key, "price"], table.loc[key, "surplus"]
            change = None
            if strategy != base and ref in table.index:
                dp = price - table.loc[ref, "price"]
                ds = gain - table.loc[ref, "surplus"]
                change = {
                    "price": number(dp),
                    "surplus": number(ds),
                    "verdict": "loses" if ds < 0 else "wins",
                }
            cells.append(
                {"price": number(price, "price"), "surplus": number(gain, "money"), "change": change}
            )
        rows.append((strategy, cells))
    return {"baseline": base, "names": [(name, name in hidden) for name in names], "rows": rows}


def _model_quality(results: Results, number) -> list | None:
    """Held-out log loss and AUC of every strategy that reports them, by day (mean over
    replications): per strategy, the days a retrained model took over."""
    daily = results.daily
    if daily.empty:
        return None
    focal = daily[daily["seller"] == results.focal]
    found = focal["reason"].fillna("").str.extract(MODEL_QUALITY).astype(float)
    focal = focal.assign(log_loss=found[0], auc=found[1]).dropna(subset=["auc"])
    if focal.empty:
        return None
    quality = focal.groupby(["strategy", "day"])[["log_loss", "auc"]].mean().reset_index()
    return [
        (
            strategy,
            [
                (int(r.day), number(r.log_loss), number(r.auc))
                for r in table.drop_duplicates(["log_loss", "auc"]).itertuples()
            ],
        )
        for strategy, table in quality.groupby("strategy", sort=False)
    ]
