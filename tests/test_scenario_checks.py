"""Scenario checks: a strategy that prices a segment the seller cannot tell apart is a scenario
error (exit 2, the field named, before any run: issue 10, item 11); visit chances past 1 warn."""

from __future__ import annotations

from market_sim.cli import main

HIDDEN = """
name: hidden students
days: 5
market: {choice: max_surplus}
consumers:
  population: 200
  segments:
    - {name: regulars, share: 0.5, observable: true, wtp: {dist: uniform, low: 0, high: 110}}
    - {name: students, share: 0.5, wtp: {dist: uniform, low: 0, high: 50}}
sellers:
  - {name: shop, focal: true, unit_cost: 10}
  - {name: rival, unit_cost: 10, strategy: %s}
strategies:
  - {kind: fixed, price: 40}
  - {kind: segment_pricing, prices: {regulars: 60,
       students: 30}}
"""


def test_a_price_for_a_hidden_segment_is_a_scenario_error(tmp_path, capsys):
    path = tmp_path / "hidden.yaml"
    path.write_text(HIDDEN % "{kind: fixed, price: 30}")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "hidden.yaml:16: strategies[1].prices.students" in err  # the line of `students: 30`
    assert "'students' is not an observable segment" in err and "observable: regulars" in err
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_rival_pricing_a_hidden_segment_is_named_too(tmp_path, capsys):
    path = tmp_path / "hidden.yaml"
    rival = "{kind: segment_pricing, prices: {students: 25}}"
    path.write_text(HIDDEN.replace("students: 30", "regulars: 50").replace("regulars: 60,", "") % rival)
    assert main(["validate", str(path)]) == 2
    assert "sellers[1].strategy.prices.students" in capsys.readouterr().err


def test_validate_warns_when_traffic_pushes_a_visit_chance_past_one(tmp_path, capsys):
    text = (HIDDEN % "{kind: fixed, price: 30}").replace("\n       students: 30}}", "}}")
    text = text.replace(
        "market: {choice: max_surplus}",
        "market: {choice: max_surplus, events: [{name: rush, day: 3, traffic: 4}]}",
    )
    text = text.replace("observable: true,", "observable: true, visit_rate: 0.3,")
    path = tmp_path / "busy.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    # regulars: 0.3 × 4 = 1.2 on the rush day; students shop every day already (visit rate 1 × 4)
    assert (
        "warning: consumers.segments[0].visit_rate: 0.3 × traffic 4 on day 3 (rush) = 1.2, capped at 1" in err
    )
    assert "consumers.segments[1].visit_rate: 1 × traffic 4 on day 3 (rush) = 4, capped at 1" in err
    quiet = path.read_text().replace("traffic: 4", "traffic: 1")
    path.write_text(quiet)
    assert main(["validate", str(path)]) == 0 and "warning" not in capsys.readouterr().err


def test_a_strategy_object_pricing_a_hidden_segment_is_refused_before_any_run(tmp_path):
    """The Python API checks a strategy it is given as the loader checks a file's (issue 10)."""
    import pytest

    import market_sim as ms
    from strategies.segment_pricing import SegmentPricing

    path = tmp_path / "hidden.yaml"
    path.write_text(HIDDEN % "{kind: fixed, price: 30}")
    scenario = ms.load(path, strategies=[{"kind": "fixed", "price": 40}])  # without the file's mistake
    for wrong in (
        SegmentPricing(prices={"students": 30}),
        SegmentPricing(prices={"regulars": 60, "students": 30}),
    ):
        with pytest.raises(ms.OptionError) as error:
            ms.compare(scenario, strategies=[wrong], progress=False, workers=1)
        message = str(error.value)
        assert message.startswith("strategies: segment_pricing(") and ": prices.students: " in message
        assert "'students' is not an observable segment" in message and "observable: regulars" in message
    fine = ms.compare(
        scenario, strategies=[SegmentPricing(prices={"regulars": 60})], progress=False, workers=1
    )
    assert list(fine.summary["strategy"]) == ["segment_pricing(prices={regulars: 60})"]
