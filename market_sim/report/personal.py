"""The report's personal-pricing section (scenarios with shopper features): profit against the
best uniform price, who pays more and who pays less, price gaps between observable and hidden
groups (proxy discrimination), winners and losers by segment, and model quality over time for
`ml_pricing`. Built from the saved tables, like the rest of the report."""

from __future__ import annotations

import re
from html import escape

import numpy as np

from market_sim import metrics
from market_sim.report.data import Results

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


def personal_section(results: Results) -> str:
    """The section, or nothing when the scenario's consumers have no features."""
    if not results.scenario.consumers.features or results.summary.empty:
        return ""
    from market_sim.report.html import number  # the report's number format

    parts = [
        "<h2 id='personal'>Personal prices</h2>",
        "<p class='note'>Against the <b>best uniform price</b>: the single price that maximises expected "
        "profit over the same shopping visits, from the consumers' true willingness to pay (hidden "
        "truth, for the audit only). Hidden groups are hidden features and hidden segments: a gap "
        "there is proxy discrimination, groups the seller never saw paying different prices.</p>",
        _score_table(results, number),
        _segment_table(results, number),
        _model_quality(results, number),
    ]
    return "\n".join(part for part in parts if part)


def _score_table(results: Results, number) -> str:
    head = "".join(f"<th>{escape(metrics.SCORE[s].label)}</th>" for s in SCORES)
    rows = []
    for _, row in results.ranked.iterrows():
        cells = "".join(
            f"<td>{number(row.get(f'{s}_mean', np.nan), metrics.SCORE[s].unit)}</td>" for s in SCORES
        )
        rows.append(f"<tr><td class='text'>{escape(row['strategy'])}</td>{cells}</tr>")
    return (
        "<div class='scroll'><table><tr><th class='text'>Strategy</th>"
        f"{head}</tr>{''.join(rows)}</table></div>"
    )


def _segment_table(results: Results, number) -> str:
    """Winners and losers: each segment's average price paid and surplus per visit, per strategy,
    and the change against the baseline."""
    segments = results.segments
    if segments.empty:
        return ""
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
    head = "".join(f"<th>{escape(n)}{' (hidden)' if n in hidden else ''}</th>" for n in names)
    rows = []
    for strategy in results.strategies:
        cells = []
        for name in names:
            key, ref = (strategy, name), (base, name)
            if key not in table.index:
                cells.append("<td>–</td>")
                continue
            price, gain = table.loc[key, "price"], table.loc[key, "surplus"]
            change = ""
            if strategy != base and ref in table.index:
                dp = price - table.loc[ref, "price"]
                ds = gain - table.loc[ref, "surplus"]
                verdict = "loses" if ds < 0 else "wins"
                change = (
                    f"<br><span class='ci'>Δ price {number(dp)}, Δ surplus {number(ds)}: {verdict}</span>"
                )
            cells.append(f"<td>{number(price, 'price')} · {number(gain, 'money')}{change}</td>")
        rows.append(f"<tr><td class='text'>{escape(strategy)}</td>{''.join(cells)}</tr>")
    return (
        "<h3>Winners and losers by segment</h3><p class='note'>Average price paid to "
        f"{escape(results.focal)} · consumer surplus per shopping visit, per segment; Δ against the "
        f"baseline <b>{escape(base)}</b> (a segment whose surplus falls loses).</p>"
        f"<div class='scroll'><table><tr><th class='text'>Strategy</th>{head}</tr>"
        f"{''.join(rows)}</table></div>"
    )


def _model_quality(results: Results, number) -> str:
    """Held-out log loss and AUC of every strategy that reports them, by day (mean over
    replications)."""
    daily = results.daily
    if daily.empty:
        return ""
    focal = daily[daily["seller"] == results.focal]
    found = focal["reason"].fillna("").str.extract(MODEL_QUALITY).astype(float)
    focal = focal.assign(log_loss=found[0], auc=found[1]).dropna(subset=["auc"])
    if focal.empty:
        return ""
    quality = focal.groupby(["strategy", "day"])[["log_loss", "auc"]].mean().reset_index()
    rows = []
    for strategy, table in quality.groupby("strategy", sort=False):
        changes = table.drop_duplicates(["log_loss", "auc"])  # the days a retrained model took over
        cells = " → ".join(
            f"day {int(r.day)}: {number(r.log_loss)} / {number(r.auc)}" for r in changes.itertuples()
        )
        rows.append(f"<tr><td class='text'>{escape(strategy)}</td><td class='text'>{cells}</td></tr>")
    return (
        "<h3>Model quality over time</h3><p class='note'>Cross-validated held-out log loss / AUC of the "
        "purchase model, as each retraining took over (mean over replications).</p>"
        "<div class='scroll'><table><tr><th class='text'>Strategy</th>"
        "<th class='text'>log loss / AUC</th></tr>"
        f"{''.join(rows)}</table></div>"
    )
