"""The output stage (what `run` does after its last run) computes what it always did, bit for
bit, with less work: the statistics take numpy's own steps without a pandas pivot per pair
(metrics), the report reads its rows without a Series each (report/html.py), the figure data
splits its lines with numpy (report/figure_data.py), and the closed forms are worked out while
the runs go (report.prepare).

Each fast path is checked against the code it replaced, kept here as the reference: the
pandas pivot and numpy's 1-D `mean`, `std(ddof=1)` and `clip` for the statistics, a groupby per
part for the figure lines, `iterrows` for the report's rows."""

from __future__ import annotations

import math
import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim import metrics, result_folder
from market_sim.cli import main
from market_sim.commands.arguments import Interrupts
from market_sim.loader import load_scenario
from market_sim.report import figure_data, html, load_results
from market_sim.report import theory as report_theory

ROOT = Path(__file__).resolve().parent.parent


def same_bits(a: float, b: float) -> bool:
    """The same float to the bit (0.0 is not -0.0), any NaN equal to any NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


# --- the statistics: numpy's numbers to the bit ---------------------------------------------


def reference_interval(values, confidence=metrics.CONFIDENCE, bounds=(-np.inf, np.inf)):
    """`metrics.interval` as it was: numpy's mean, std(ddof=1) and clip."""
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    if n < 2:
        return mean, np.nan, np.nan, np.nan
    sd = float(values.std(ddof=1))
    half = metrics._t_quantile(confidence, n - 1) * sd / np.sqrt(n)
    low, high = bounds
    return mean, sd, float(np.clip(mean - half, low, high)), float(np.clip(mean + half, low, high))


# awkward values: huge and tiny magnitudes side by side, signed zeros, repeated values (no inf:
# a sum of them is not a number either way)
magnitudes = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
awkward = (
    magnitudes
    | st.floats(min_value=-1e-300, max_value=1e-300)
    | st.sampled_from([0.0, -0.0, 1.0, 0.1, 1e16, -1e16, 5e-324, 2.0**53, 0.1 + 0.2])
    | st.integers(-(10**6), 10**6).map(lambda k: k / 7)
)
# scores as large as a verdict's text can show (`readable` of an infinite mean fails)
moderate = awkward.filter(lambda v: abs(v) < 1e100)
BOUNDS = sorted({score.bounds for score in metrics.SCORES}) + [(-0.0, 0.0), (0.0, -0.0)]


@settings(max_examples=400, deadline=None)
@given(
    values=st.integers(1, 300).flatmap(lambda n: st.lists(awkward | st.just(np.nan), min_size=n, max_size=n)),
    bounds=st.sampled_from(BOUNDS),
)
def test_mean_sd_and_interval_are_numpys_to_the_bit(values, bounds):
    array = np.array(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow: both say inf, or nan
        if len(array) >= 2:
            mean, sd = metrics._mean_sd(array)
            assert same_bits(mean, float(array.mean()))
            assert same_bits(sd, float(array.std(ddof=1)))
        fast, slow = metrics.interval(array, 0.95, bounds), reference_interval(array, 0.95, bounds)
    assert all(same_bits(a, b) for a, b in zip(fast, slow, strict=True)), (fast, slow)


def test_mean_sd_are_numpys_to_the_bit_on_many_random_samples():
    """Thousands of samples of 2–300 values, of every magnitude from 1e-300 to 1e300, mixed."""
    rng = np.random.default_rng(13)
    for _ in range(3000):
        n = int(rng.integers(2, 301))
        values = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n if rng.random() < 0.3 else 1)
        values[rng.random(n) < 0.05] = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, sd = metrics._mean_sd(values)
            assert same_bits(mean, float(values.mean())) and same_bits(sd, float(values.std(ddof=1)))


@settings(max_examples=300, deadline=None)
@given(
    x=awkward | st.just(np.nan) | st.sampled_from([-0.0, 0.0]),
    bounds=st.sampled_from(BOUNDS + [(1.0, 1.0), (-np.inf, -0.0)]),
)
def test_min_and_max_cut_as_np_clip_does(x, bounds):
    """The cut of `interval`: Python's min and max, as np.clip on a float (NaN stays NaN, a
    signed zero at the bound is kept)."""
    low, high = bounds
    assert same_bits(float(min(max(x, low), high)), float(np.clip(x, low, high)))


@settings(max_examples=200, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(2, 300)),
    data=st.data(),
)
def test_the_rows_mean_and_sd_at_once_are_numpys_of_each_row_alone(shape, data):
    """What the comparisons take for every pair of a score at once (`_rows_mean_sd`) is, row by
    row, numpy's 1-D mean and std(ddof=1) of that row, over awkward values and 2–300 replications."""
    pairs, replications = shape
    values = data.draw(
        st.lists(awkward | st.just(np.nan), min_size=pairs * replications, max_size=pairs * replications)
    )
    rows = np.array(values, dtype=float).reshape(pairs, replications)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means, sds = metrics._rows_mean_sd(rows)
        for p in range(pairs):
            alone = rows[p].copy()
            assert same_bits(means[p], float(alone.mean())) and same_bits(sds[p], float(alone.std(ddof=1)))


def test_numpy_sums_rows_as_it_sums_each_row_alone():
    """(Why the comparisons may difference every pair of a score in one 2-D array: each row is
    then taken alone, but a C-ordered row is summed as the same row alone is, pairwise.)"""
    rng = np.random.default_rng(5)
    for replications in (1, 2, 7, 8, 9, 17, 128, 300):
        rows = rng.standard_normal((12, replications)) * 10.0 ** rng.integers(-8, 12, (12, replications))
        sums = np.add.reduce(rows, axis=1)
        assert all(same_bits(sums[p], np.add.reduce(rows[p].copy())) for p in range(12))


def reference_compare(strategy, versus, score, a, b, confidence=metrics.CONFIDENCE):
    """`metrics._compare` as it was: one pair, its replications where both have a value."""
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    difference = a - b
    difference[
        np.abs(difference) <= metrics.TOLERANCE * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    ] = 0.0
    mean, sd, low, high = reference_interval(difference, confidence)
    better = metrics.SCORE[score].better if score in metrics.SCORE else "higher"
    sign = -1.0 if better == "lower" else 1.0
    n = len(difference)
    return metrics.Comparison(
        strategy,
        versus or "",
        score,
        n,
        mean,
        sd,
        low,
        high,
        float((sign * difference > 0).mean()) if n else np.nan,
        float((sign * difference < 0).mean()) if n else np.nan,
        metrics._verdict(low, high, n, better),
    )


def reference_comparisons(scores, versus=None):
    """`metrics.comparisons` as it was: a pivot, then every pair alone."""
    names = list(dict.fromkeys(scores["strategy"])) if len(scores) else []
    present = [score.name for score in metrics.SCORES if score.name in scores]
    wide = (
        scores.pivot(index="replication", columns="strategy", values=present) if names and present else None
    )
    rows = []
    for score in metrics.SCORES:
        table = wide[score.name] if wide is not None and score.name in present else pd.DataFrame()
        columns = {name: table[name].to_numpy() for name in table.columns}
        for a in names:
            for b in names if versus is None else [versus]:
                if a != b and a in columns and b in columns:
                    rows.append(vars(reference_compare(a, b, score.name, columns[a], columns[b])))
    return pd.DataFrame(rows, columns=list(metrics.Comparison.__dataclass_fields__))


def reference_paired(scores, strategy, versus, score):
    present = score in scores and not scores.empty
    table = scores.pivot(index="replication", columns="strategy", values=score) if present else pd.DataFrame()
    if strategy not in table or versus not in table:
        return reference_compare(strategy, versus, score, np.array([]), np.array([]))
    return reference_compare(strategy, versus, score, table[strategy].to_numpy(), table[versus].to_numpy())


def reference_summarise(scores, baseline=None, benchmark=()):
    """`metrics.summarise` as it was: a groupby, pandas' dropna and a pivot per strategy."""
    names = list(dict.fromkeys(scores["strategy"]))
    baseline = baseline if baseline in names else metrics.default_baseline(names, benchmark)
    rows = []
    for strategy, group in scores.groupby("strategy", sort=False):
        row = {"strategy": strategy, "benchmark": strategy in benchmark, "replications": len(group)}
        for score in metrics.SCORES:
            column = group[score.name] if score.name in group else pd.Series(dtype=float)
            mean, sd, low, high = reference_interval(column.dropna().to_numpy(), 0.95, score.bounds)
            name = score.name
            row |= {f"{name}_mean": mean, f"{name}_sd": sd, f"{name}_ci_low": low, f"{name}_ci_high": high}
        comparison = reference_paired(scores, strategy, baseline, "profit")
        row |= {
            "baseline": baseline,
            "profit_diff_mean": comparison.mean,
            "profit_diff_ci_low": comparison.ci_low,
            "profit_diff_ci_high": comparison.ci_high,
            "profit_better_share": comparison.better_share,
            "profit_verdict": comparison.verdict if strategy != baseline else "baseline",
        }
        rows.append(row)
    return pd.DataFrame(rows)


SCORE_NAMES = ["profit", "units", "stockout_days", "margin", "price_gap", "regret", "fill_rate"]


@st.composite
def score_tables(draw):
    """Scores of 1–4 strategies (names that look like numbers or hold commas too) on 1–30
    replications, some runs missing, some scores missing (NaN), whole numbers stored as int64."""
    names = draw(
        st.lists(
            st.sampled_from(["a", "b,c", "10", "NA", "cost_plus(markup=1)"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    replications = draw(st.integers(1, 30))
    rows = []
    for name in names:
        for r in range(replications):
            if r > 0 and draw(st.integers(0, 9)) == 0:
                continue  # a failed run: no row
            rows.append({"strategy": name, "replication": r})
    scores = pd.DataFrame(rows, columns=["strategy", "replication"])
    chosen = draw(st.lists(st.sampled_from(SCORE_NAMES), min_size=1, max_size=len(SCORE_NAMES), unique=True))
    for score in chosen:
        values = draw(st.lists(moderate | st.just(np.nan), min_size=len(scores), max_size=len(scores)))
        if draw(st.booleans()):  # often paired values close to each other (rounding, not strategy)
            base = draw(moderate)
            values = [base * (1 + v * 1e-12) if not math.isnan(v) and abs(v) < 1e6 else v for v in values]
        scores[score] = np.array(values, dtype=float)
    if "units" in scores and len(scores) and not scores["units"].isna().any() and draw(st.booleans()):
        scores["units"] = np.arange(len(scores), dtype=np.int64) % 3  # an int64 column
    return scores


def same_text(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return result_folder.csv_text(a) == result_folder.csv_text(b)


@settings(max_examples=150, deadline=None)
@given(scores=score_tables(), data=st.data())
def test_comparisons_summary_and_verdict_are_what_the_pivots_gave(scores, data):
    names = list(dict.fromkeys(scores["strategy"]))
    baseline = data.draw(st.sampled_from([None, *names]))
    benchmark = frozenset(data.draw(st.lists(st.sampled_from(names), max_size=1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert same_text(metrics.comparisons(scores), reference_comparisons(scores))
        assert same_text(
            metrics.comparisons(scores, versus=names[0]), reference_comparisons(scores, names[0])
        )
        fast, slow = (
            metrics.summarise(scores, baseline, benchmark=benchmark),
            reference_summarise(scores, baseline, benchmark),
        )
        assert same_text(fast, slow)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
        for score in ("profit", "units"):
            if score in scores:
                for versus in names:
                    assert same_comparison(
                        metrics.paired(scores, names[-1], versus, score),
                        reference_paired(scores, names[-1], versus, score),
                    )
        verdict = metrics.verdict(scores, benchmark=benchmark) if "profit" in scores else None
    if verdict is not None and verdict.leader is not None:
        for comparison in verdict.behind:
            assert same_comparison(
                comparison, reference_paired(scores, verdict.leader, comparison.versus, "profit")
            )
        for comparison in verdict.benchmarks:
            assert same_comparison(
                comparison, reference_paired(scores, comparison.strategy, verdict.leader, "profit")
            )


def same_comparison(a: metrics.Comparison, b: metrics.Comparison) -> bool:
    return all(
        same_bits(x, y) if isinstance(x, float) else x == y and type(x) is type(y)
        for x, y in zip(vars(a).values(), vars(b).values(), strict=True)
    )


def reference_segment_scores(segments: pd.DataFrame, focal: str) -> pd.DataFrame:
    """`metrics.segment_scores` as it was: the ratios as pandas series."""
    keys = ["strategy", "replication", "segment"]
    everyone = segments.groupby(keys, sort=False)["consumer_surplus"].sum()
    own = (
        segments[segments["seller"] == focal]
        .groupby(keys, sort=False)[["visitors", "units", "revenue", "consumer_surplus"]]
        .sum()
    )
    visits, units = own["visitors"], own["units"]
    table = pd.DataFrame(
        {
            "visitors": visits,
            "units": units,
            "purchase_rate": (units / visits).where(visits > 0),
            "avg_price_paid": (own["revenue"] / units).where(units > 0),
            "consumer_surplus": everyone.reindex(own.index),
            "surplus_per_visit": (own["consumer_surplus"] / visits).where(visits > 0),
        }
    )
    return table.reset_index()


def reference_summarise_segments(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (strategy, segment), group in table.groupby(["strategy", "segment"], sort=False):
        row = {"strategy": strategy, "segment": segment, "replications": len(group)}
        for score in metrics.SEGMENT_SCORES:
            mean, sd, low, high = reference_interval(
                group[score.name].dropna().to_numpy(), 0.95, score.bounds
            )
            name = score.name
            row |= {f"{name}_mean": mean, f"{name}_sd": sd, f"{name}_ci_low": low, f"{name}_ci_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


@st.composite
def segment_tables(draw):
    """segments.csv of 1–3 strategies, 1–6 replications, two sellers and 1–3 segments over a few
    days, some cells with no visitor or no sale."""
    strategies = draw(st.lists(st.sampled_from(["a", "b,c", "7"]), min_size=1, max_size=3, unique=True))
    segments = draw(st.lists(st.sampled_from(["members", "NA", "x y"]), min_size=1, max_size=3, unique=True))
    replications, days = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    rows = [
        (strategy, r, day, seller, segment)
        for strategy in strategies
        for r in range(replications)
        for day in range(days)
        for seller in ("ours", "theirs")
        for segment in segments
    ]
    count = len(rows)
    table = pd.DataFrame(rows, columns=["strategy", "replication", "day", "seller", "segment"])
    table["visitors"] = np.array(
        draw(st.lists(st.integers(0, 3), min_size=count, max_size=count)), dtype=np.int64
    )
    table["units"] = np.array(
        draw(st.lists(st.integers(0, 2), min_size=count, max_size=count)), dtype=np.int64
    )
    prices = np.abs(  # prices are never negative
        draw(st.lists(awkward.filter(lambda v: abs(v) < 1e150), min_size=count, max_size=count))
    )
    table["revenue"] = prices * table["units"].to_numpy()
    table["avg_price_paid"] = np.where(table["units"] > 0, prices, np.nan)
    table["consumer_surplus"] = np.array(
        draw(st.lists(awkward.filter(lambda v: abs(v) < 1e150), min_size=count, max_size=count))
    )
    return table


@settings(max_examples=80, deadline=None)
@given(segments=segment_tables())
def test_segment_scores_and_their_summary_are_what_pandas_gave(segments):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fast, slow = metrics.segment_scores(segments, "ours"), reference_segment_scores(segments, "ours")
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
        summary = metrics.summarise_segments(fast)
        pd.testing.assert_frame_equal(summary, reference_summarise_segments(slow), check_exact=True)
        assert same_text(summary, reference_summarise_segments(slow))


# --- the figure data ------------------------------------------------------------------------


def reference_rival_prices(daily: pd.DataFrame, focal: str) -> dict:
    rivals = daily[daily["seller"] != focal]
    if rivals.empty:
        return {}
    means = rivals.groupby(["strategy", "seller", "day"], sort=False)["price"].mean()
    found: dict = {}
    for (strategy, seller), line in means.groupby(level=["strategy", "seller"], sort=False):
        found.setdefault(strategy, {})[seller] = line.droplevel(["strategy", "seller"]).sort_index()
    return found


def reference_prices_paid(segments: pd.DataFrame, focal: str) -> dict:
    own = segments[segments["seller"] == focal]
    sums = own.groupby(["strategy", "segment", "day"], sort=False)[["revenue", "units"]].sum()
    found: dict = {}
    for strategy, cells in sums.groupby(level="strategy", sort=False):
        cells = cells.droplevel("strategy")
        names = list(dict.fromkeys(cells.index.get_level_values("segment")))
        paid = figure_data._paid
        if len(names) == 1:
            found[strategy] = {"average price paid": paid(cells.droplevel("segment").sort_index())}
        else:
            found[strategy] = {
                f"price paid by {n}": paid(cells.xs(n, level="segment").sort_index()) for n in names
            }
    return found


def reference_paid_histograms(segments: pd.DataFrame, focal: str):
    cells = segments[(segments["seller"] == focal) & (segments["units"] > 0)]
    if cells.empty:
        return None, {}
    low, high = cells["avg_price_paid"].min(), cells["avg_price_paid"].max()
    if high - low < 1e-9 * max(1.0, abs(high)):
        low, high = low * 0.95 - 0.5, high * 1.05 + 0.5
    bins = np.linspace(low, high, figure_data.HISTOGRAM_BINS + 1)
    shares = {}
    for strategy, group in cells.groupby("strategy", sort=False):
        weights = group["units"] / group["units"].sum()
        shares[strategy] = np.histogram(group["avg_price_paid"], bins=bins, weights=weights)[0]
    return bins, shares


def assert_same_lines(fast: dict, slow: dict) -> None:
    assert list(fast) == list(slow)
    for key in slow:
        assert list(fast[key]) == list(slow[key])
        for name, line in slow[key].items():
            pd.testing.assert_series_equal(fast[key][name], line, check_exact=True)
            assert fast[key][name].index.name == line.index.name == "day"


@settings(max_examples=60, deadline=None)
@given(segments=segment_tables(), order=st.randoms(use_true_random=False))
def test_the_figures_lines_and_histograms_are_what_the_groupbys_gave(segments, order):
    rows = list(range(len(segments)))
    order.shuffle(rows)  # rows in any order: each line still goes by day
    segments = segments.iloc[rows].reset_index(drop=True)
    daily = segments.rename(columns={"avg_price_paid": "price"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_same_lines(figure_data._rival_prices(daily, "ours"), reference_rival_prices(daily, "ours"))
        bought = segments[segments["seller"] == "ours"]
        assert_same_lines(figure_data._prices_paid(bought), reference_prices_paid(segments, "ours"))
        (bins, shares), (low_high, expected) = (
            figure_data._paid_histograms(bought),
            reference_paid_histograms(segments, "ours"),
        )
    if low_high is None:
        assert bins is None and shares == {}
        return
    assert np.array_equal(bins, low_high, equal_nan=True)
    assert list(shares) == list(expected)
    assert all(np.array_equal(shares[name], expected[name]) for name in expected)


# --- the report's rows ------------------------------------------------------------------------


def test_the_reports_rows_are_the_values_iterrows_gave():
    scores = pd.DataFrame(
        {"strategy": ["a", "b", "a", "b"], "replication": [0, 0, 1, 1], "profit": [1.5, 2.0, np.nan, 3.25]}
    )
    summary = metrics.summarise(scores)
    records = html._records(summary)
    assert len(records) == len(summary) == 2
    for record, (_, row) in zip(records, summary.iterrows(), strict=True):
        assert list(record) == list(row.index)
        for name, value in row.items():
            assert type(record[name]) is type(value)
            assert record[name] == value or (value != value and record[name] != record[name])
    assert records[0]["profit_mean"] == 1.5 and records[1]["profit_mean"] == 2.625


def test_scores_read_back_from_their_columns_are_the_parsed_file():
    scores = pd.DataFrame(
        {
            "strategy": ["NA", "b,c"],
            "replication": [0, 1],
            "profit": [0.1 + 0.2, -0.0],
            "units": [np.nan, 1e16],
        }
    )
    text = result_folder.csv_text(scores)
    back = result_folder.read_back(scores, text)
    pd.testing.assert_frame_equal(back, result_folder.parsed(text), check_exact=True)
    assert back["strategy"].tolist() == ["NA", "b,c"] and back["profit"][0] == 0.30000000000000004


csv_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 9.999999999999999e-05, 0.1 + 0.2, 45.599999999999994]
)
csv_texts = st.text(alphabet=st.sampled_from(list('ab ,"\n\r;NAé0.')), max_size=6)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), rows=st.integers(0, 60))
def test_a_long_dataframe_is_written_as_pandas_writes_it(data, rows):
    """comparisons.csv's kind of table (text, whole numbers, floats, many rows a column) goes
    the columns' way when it is long, and is the bytes `to_csv` writes, missing text included."""

    def column(strategy):
        return data.draw(st.lists(strategy, min_size=rows, max_size=rows))

    frame = pd.DataFrame(
        {
            "strategy": column(csv_texts),
            "versus": column(csv_texts | st.none()),
            "replications": np.array(column(st.integers(-(2**62), 2**62)), dtype=np.int64),
            "mean": np.array(column(csv_floats), dtype=float),
            "clear": np.array(column(st.booleans()), dtype=bool),
        }
    )
    assert result_folder.csv_text(frame) == frame.to_csv(index=False, lineterminator="\n")


# --- the closed forms: worked out while the runs go --------------------------------------------


def test_run_works_out_the_closed_forms_while_its_runs_go(tmp_path, monkeypatch):
    """Lesson 3 (a logit price war: closed forms) run small: its closed forms are worked out
    once, before the runs are over, and the report shows them."""
    events = []
    recognised = report_theory._recognised
    monkeypatch.setattr(
        report_theory, "_recognised", lambda scenario: events.append("closed forms") or recognised(scenario)
    )
    hold = Interrupts.hold
    monkeypatch.setattr(Interrupts, "hold", lambda self: events.append("runs over") or hold(self))
    lesson = ROOT / "scenarios" / "lessons" / "03_price_war.yaml"
    out = tmp_path / "war"
    options = ["--days", "8", "--replications", "2", "--workers", "1", "--quiet", "--out", str(out)]
    assert main(["run", str(lesson), *options]) == 0
    assert events == ["closed forms", "runs over"]
    shown = load_results(out).theory
    expected = recognised(load_scenario(out / "scenario.yaml"))
    assert shown is not None and shown.facts == expected.facts and shown.nash_profit == expected.nash_profit
    assert "Bertrand" in (out / "report.html").read_text(encoding="utf-8")


def test_closed_forms_are_kept_for_the_last_scenario_only():
    lesson = load_scenario(ROOT / "scenarios" / "lessons" / "03_price_war.yaml")
    first = report_theory.closed_forms(lesson)
    assert report_theory.closed_forms(lesson) is first  # that very scenario: kept
    again = load_scenario(ROOT / "scenarios" / "lessons" / "03_price_war.yaml")
    worked_out = report_theory.closed_forms(again)  # another object, equal: worked out again
    assert worked_out is not first and worked_out.facts == first.facts
    assert report_theory.closed_forms(load_scenario(ROOT / "scenarios" / "holiday_market.yaml")) is None
