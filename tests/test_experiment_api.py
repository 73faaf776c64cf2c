"""The Python API runs a scenario's A/B test and logs offers as `run` does, and saves the
same files."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from market_sim import api
from market_sim.cli import main
from tests.test_experiment import MARKET

FILES = ("experiment.csv", "experiment_summary.csv", "experiment_preview.json", "offers.csv")


def test_compare_and_run_write_the_same_experiment_and_offers(tmp_path):
    path = tmp_path / "ab.yaml"
    path.write_text(textwrap.dedent(MARKET.format(unit="shopper", stock="")))
    by_cli = tmp_path / "cli"
    argv = ["run", str(path), "--out", str(by_cli), "--replications", "3", "--days", "8"]
    assert main([*argv, "--quiet", "--workers", "1", "--log-offers"]) == 0

    results = api.compare(path, replications=3, days=8, workers=1, progress=False, log_offers=True)
    by_api = results.save(tmp_path / "api")
    for name in FILES:
        assert (by_api / name).read_bytes() == (by_cli / name).read_bytes(), name

    # what was saved is what the results hold
    table = pd.read_csv(by_cli / "experiment.csv")
    assert len(table) == 3 * 2 and list(table["arm"].unique()) == ["control", "treatment"]
    pd.testing.assert_frame_equal(results.experiment.table, table, check_dtype=False)
    offers = pd.read_csv(by_cli / "offers.csv", keep_default_na=False)
    assert len(results.offers) == len(offers) > 0
    assert results.offers["price"].tolist() == offers["price"].tolist()
    assert results.experiment.preview["unit"] == "shopper"


def test_compare_without_an_experiment_or_offers_has_neither(tmp_path):
    path = tmp_path / "plain.yaml"
    text = textwrap.dedent(MARKET.format(unit="shopper", stock="")).split("experiment:")[0]
    path.write_text(text)
    results = api.compare(path, replications=1, days=3, workers=1, progress=False)
    assert results.experiment is None and results.offers is None
    out = results.save(tmp_path / "out")
    assert not any((out / name).exists() for name in FILES)


def test_a_bad_offer_log_format_names_the_option():
    with pytest.raises(api.OptionError, match="log_offers: must be True"):
        api.offers_format("xml")
