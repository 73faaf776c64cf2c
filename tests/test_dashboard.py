"""The dashboard: its model gives the batch engine's numbers day by day, its knobs are ordinary
scenario changes, and in a real browser it plays, moves, resets and saves, offline."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim.dashboard.model import DashboardModel, adjusted, knobs
from market_sim.loader import load_scenario
from market_sim.runner import Job, run_once
from market_sim.tables import daily_table, segments_table

ROOT = Path(__file__).resolve().parent.parent
PRICE_WAR = ROOT / "scenarios" / "lessons" / "03_price_war.yaml"
HOLIDAY = ROOT / "scenarios" / "holiday_market.yaml"


def _batch(scenario, strategy: int, replication: int):
    run = run_once(Job(scenario, strategy, replication))
    assert run.failure is None
    return daily_table(scenario, [run]), segments_table(scenario, [run])


@pytest.mark.parametrize("path, strategy, replication", [(HOLIDAY, 1, 2), (PRICE_WAR, 2, 0)])
def test_dashboard_model_gives_the_batch_engines_numbers_day_by_day(path, strategy, replication):
    scenario = load_scenario(path)
    model = DashboardModel(
        spec=scenario, strategy=scenario.strategies[strategy].name, replication=replication
    )
    model.run_for(scenario.days)
    shown = model.datacollector.get_model_vars_dataframe()
    daily, segments = _batch(scenario, strategy, replication)
    assert len(shown) == scenario.days
    assert list(shown["day"]) == list(range(scenario.days))
    for seller in scenario.sellers:
        batch = daily[daily["seller"] == seller.name].reset_index(drop=True)
        assert shown[f"price {seller.name}"].tolist() == batch["price"].tolist()
        assert shown[f"units {seller.name}"].tolist() == batch["units"].tolist()
        assert shown[f"profit {seller.name}"].tolist() == batch["profit"].tolist()
        np.testing.assert_array_equal(shown[f"stock {seller.name}"], batch["inventory"])
        assert shown[f"reason {seller.name}"].tolist() == batch["reason"].tolist()
        assert shown[f"cumulative profit {seller.name}"].tolist() == pytest.approx(
            batch["profit"].cumsum().tolist()
        )
    focal = segments[segments["seller"] == scenario.focal.name]
    for name in (s.name for s in scenario.consumers.segments):
        paid = focal[focal["segment"] == name]["avg_price_paid"].to_numpy()
        np.testing.assert_allclose(shown[f"price paid {name}"].to_numpy(), paid, rtol=1e-12)


KNOBBED = """
name: knobs
days: 12
replications: 2
seed: 5
market: {choice: logit}
consumers:
  population: 600
  segments:
    - {name: a, share: 0.25, visit_rate: 0.5, wtp: {dist: normal, mean: 30, sd: 5}, price_sensitivity: 0.25}
    - {name: b, share: 0.75, visit_rate: 0.5, wtp: {dist: uniform, low: 20, high: 40}, price_sensitivity: {dist: uniform, low: 0.125, high: 0.375}}
sellers:
  - {name: us, focal: true, unit_cost: 10, inventory: {initial: 500, reorder_point: 100, order_quantity: 300, lead_time: 2}}
  - {name: bot, unit_cost: 10, strategy: {kind: competitor_response, undercut: 0.05, floor_markup: 0.1}}
strategies:
  - {kind: cost_plus, markup: 1.2}
"""


def test_each_knob_is_the_same_as_changing_the_scenario_file(tmp_path):
    """Moving the knobs equals `--set` on the file: the batch engine on the changed file gives
    the dashboard's numbers."""
    path = tmp_path / "knobs.yaml"
    path.write_text(KNOBBED)
    scenario = load_scenario(path)
    own = {name: knob.value for name, knob in knobs(scenario).items()}
    # the file's own numbers (binary fractions, so that the changes below are exact)
    assert own == {
        "price": 15.0,
        "mean_wtp": 30.0,
        "price_sensitivity": 0.25,
        "undercut": 0.05,
        "stock": 500,
        "visit_rate": 0.5,
    }
    settings = {
        "mean_wtp": 36.0,
        "price_sensitivity": 0.375,
        "undercut": 0.1,
        "stock": 200.0,
        "visit_rate": 0.25,
    }
    model = DashboardModel(spec=scenario, strategy=scenario.strategies[0].name, replication=1, **settings)
    model.run_for(scenario.days)
    shown = model.datacollector.get_model_vars_dataframe()

    by_hand = {  # every field the knobs move, as `--set` would change it: shift 6, factors 1.5 and 0.5
        "consumers.segments[0].wtp": "{dist: normal, mean: 36, sd: 5}",
        "consumers.segments[1].wtp": "{dist: uniform, low: 26, high: 46}",
        "consumers.segments[0].price_sensitivity": "0.375",
        "consumers.segments[1].price_sensitivity": "{dist: uniform, low: 0.1875, high: 0.5625}",
        "consumers.segments[0].visit_rate": "0.25",
        "consumers.segments[1].visit_rate": "0.25",
        "sellers[0].inventory.initial": "200",
        "sellers[1].strategy.undercut": "0.1",
    }
    from market_sim.loader import Override

    changed = load_scenario(path, [Override(field, value, "--set") for field, value in by_hand.items()])
    assert dataclasses.replace(changed, source="") == dataclasses.replace(
        adjusted(scenario, **settings), source=""
    )
    daily, _ = _batch(changed, 0, 1)
    for seller in scenario.sellers:
        batch = daily[daily["seller"] == seller.name]
        assert shown[f"price {seller.name}"].tolist() == batch["price"].tolist()
        assert shown[f"units {seller.name}"].tolist() == batch["units"].tolist()
    assert shown["stock us"].iloc[0] == 200 - shown["units us"].iloc[0]


def test_knobs_at_the_scenarios_own_values_change_nothing():
    scenario = load_scenario(HOLIDAY)
    own = {name: knob.value for name, knob in knobs(scenario).items() if name != "price"}
    assert adjusted(scenario, **own) == scenario
    assert set(knobs(scenario)) == {
        "price",
        "mean_wtp",
        "price_sensitivity",
        "undercut",
        "stock",
        "visit_rate",
    }
    # a logit duopoly without stock or undercutting rival has no stock or undercut knob
    assert set(knobs(load_scenario(ROOT / "scenarios" / "logit_duopoly.yaml"))) == {
        "price",
        "mean_wtp",
        "price_sensitivity",
        "visit_rate",
    }


# --- in a browser -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dashboard_url():
    """The dashboard of lesson 3 served on 127.0.0.1 by the command line, stopped afterwards."""
    pytest.importorskip(
        "solara", reason="the dashboard extra is not installed: pip install -e '.[dashboard]'"
    )
    from market_sim.dashboard import missing_parts

    if missing_parts():
        pytest.skip(f"the dashboard is not installed: {', '.join(missing_parts())}")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "run_sim.py"), "dashboard", str(PRICE_WAR), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
            assert server.poll() is None, server.stdout.read().decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the dashboard did not start within 60 s"
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server.stdout.close()


def test_dashboard_plays_moves_a_slider_resets_and_saves_in_a_browser_offline(dashboard_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dashboard extra")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        errors, outside = [], []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def local_only(route):  # the page must need nothing from the network
            if route.request.url.startswith("http://127.0.0.1"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", local_only)
        page.goto(dashboard_url)
        counter = page.locator(".day-counter")
        counter.wait_for(timeout=45_000)
        assert counter.inner_text() == "Day 0 of 40"
        price_chart = page.locator("img").first
        before = price_chart.get_attribute("src")

        page.get_by_role("button", name="▶").click()  # play
        page.wait_for_function(
            "() => /Day ([3-9]|[1-9][0-9]) of 40/.test(document.querySelector('.day-counter').innerText)",
            timeout=45_000,
        )
        page.get_by_role("button", name="❚❚").click()  # pause
        assert price_chart.get_attribute("src") != before  # the charts were redrawn
        assert page.locator("img").count() == 4

        undercut = page.locator(".v-input").filter(has_text="Rival's undercut").locator("[role=slider]")
        assert undercut.get_attribute("aria-valuenow") == "0.05"
        undercut.focus()
        undercut.press("ArrowRight")  # one step: 0.05 -> 0.06
        page.wait_for_function(
            "() => document.querySelector('.v-input [role=slider][aria-valuenow=\"0.06\"]') !== null"
        )
        page.get_by_role("button", name="Reset").click()
        page.wait_for_function("() => document.querySelector('.day-counter').innerText === 'Day 0 of 40'")
        for day in (1, 2):
            page.get_by_role("button", name="Step").click()
            page.wait_for_function(
                f"() => document.querySelector('.day-counter').innerText === 'Day {day} of 40'"
            )
        # the reset model has the new undercut: the bot now undercuts by 6% (the text may be
        # redrawn a moment after the day counter, so wait for it rather than read it once)
        bot = page.get_by_text(re.compile(r"^repricing_bot at "))
        sync_api.expect(bot).to_have_text(
            re.compile(r"^repricing_bot at 1\.38: undercut us 1\.47 by 6%$"), timeout=30_000
        )

        with page.expect_download() as download:
            page.get_by_text("Save what is shown as CSV").click()
        saved = pd.read_csv(io.StringIO(Path(download.value.path()).read_text()))
        browser.close()
    assert list(saved["day"]) == [0, 1]
    assert saved["reason repricing_bot"].iloc[1] == "undercut us 1.47 by 6%"
    assert saved["price repricing_bot"].iloc[1] == pytest.approx(1.472927 * 0.94)
    assert errors == []
    assert outside == []
