"""The run's big tables written without pandas (`result_folder.csv_text` of columns) are the bytes
pandas' `to_csv` writes, and read back without parsing (`result_folder.read_back`) they are the
frame `read_csv` reads from those bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim import api, tables
from market_sim.result_folder import csv_text, parsed, read_back
from market_sim.runner import Run, comparison_jobs, empty_ledger, run_once

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def pandas_text(columns: dict) -> str:
    return pd.DataFrame(columns).to_csv(index=False, lineterminator="\n")


@pytest.mark.parametrize(
    "name",
    [
        "benchmarks/standard.yaml",
        "holiday_market.yaml",
        "lessons/07_personalised_pricing.yaml",
        "strategies/season_stock.yaml",
        "lessons/06_scarcity.yaml",
    ],
)
def test_a_runs_tables_are_the_bytes_and_frames_pandas_makes(name):
    scenario = api.load(SCENARIOS / name, days=40, replications=1)
    for job in comparison_jobs(scenario)[:3]:
        run = run_once(job)
        made = tables.tabulate(scenario, run)
        for columns, text, frame in (
            (tables.daily_columns(scenario, run), made.daily_csv, made.daily),
            (tables.segments_columns(scenario, run), made.segments_csv, made.segments),
        ):
            assert text == pandas_text(columns)
            pd.testing.assert_frame_equal(frame, parsed(text), check_exact=True)
        assert made.daily_csv == csv_text(tables.daily_table(scenario, [run]))


def test_a_run_that_recorded_no_day_writes_the_header_alone():
    scenario = api.load(SCENARIOS / "holiday_market.yaml", days=5, replications=1)
    run = Run("cost_plus", 0, empty_ledger(scenario), 0.0, "failed")
    made = tables.tabulate(scenario, run)
    assert made.daily_csv == pandas_text(tables.daily_columns(scenario, run))
    assert made.daily_csv.count("\n") == 1
    pd.testing.assert_frame_equal(made.daily, parsed(made.daily_csv))


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 9.999999999999999e-05, 0.1 + 0.2, 45.599999999999994]
)
texts = st.text(alphabet=st.sampled_from(list('ab ,"\n\r;NAé0.')), max_size=6)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), rows=st.integers(0, 12))
def test_any_such_columns_are_written_and_read_back_as_pandas_does(data, rows):
    columns = {
        "strategy": np.array(data.draw(st.lists(texts, min_size=rows, max_size=rows)), dtype=object),
        "day": np.array(data.draw(st.lists(st.integers(-(2**62), 2**62), min_size=rows, max_size=rows))),
        "price": np.array(data.draw(st.lists(floats, min_size=rows, max_size=rows)), dtype=float),
        "stockout": np.array(data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool),
        "reason": np.array(data.draw(st.lists(texts, min_size=rows, max_size=rows)), dtype=object),
    }
    text = csv_text(columns)
    assert text == pandas_text(columns)
    pd.testing.assert_frame_equal(read_back(columns, text), parsed(text), check_exact=True)


def test_columns_of_other_kinds_are_left_to_pandas():
    columns = {
        "strategy": np.array(["a", None], dtype=object),
        "price": np.array([1.5, 2.5], dtype=np.float32),
    }
    text = csv_text(columns)
    assert text == "strategy,price\na,1.5\n,2.5\n" == pandas_text(columns)
    assert csv_text({"reason": np.array(["", "x"], dtype=object)}) == 'reason\n""\nx\n'
    pd.testing.assert_frame_equal(read_back(columns, text), parsed(text))
