"""shoppers.csv and the report's figure of the price each customer paid against their features:
the table agrees with the raw offer log, covers only strategies that set personal prices, and is
the same whatever the workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim.cli import main

pytest.importorskip("sklearn")

LESSON = Path(__file__).resolve().parents[1] / "scenarios" / "lessons" / "07_personalised_pricing.yaml"
SMALL = ["--replications", "2", "--days", "6", "--set", "consumers.population=300", "--quiet"]
PERSONAL = {"rule: income and loyalty", "ml_pricing (logistic)", "oracle_personal (benchmark)"}


def run(out: Path, *options: str) -> Path:
    assert main(["run", str(LESSON), "--out", str(out), *SMALL, *options]) == 0
    return out


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    return run(tmp_path_factory.mktemp("shoppers") / "out", "--workers", "1", "--log-offers")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def test_only_strategies_that_set_personal_prices_have_rows(lesson):
    shoppers = read(lesson / "shoppers.csv")
    assert set(shoppers["strategy"]) == PERSONAL  # not "one price (21.8)"
    assert set(shoppers["feature"]) == {"income", "mobile"}  # observable only: no hidden_taste
    assert set(shoppers["group"]) == {"older", "younger"} and shoppers["hidden"].all()
    mobile = shoppers[shoppers["feature"] == "mobile"]
    assert set(mobile["low"]) == {0, 1} and (mobile["low"] == mobile["high"]).all()  # a bin per value
    assert shoppers[shoppers["feature"] == "income"]["bin"].nunique() == 8  # eighths of the population


def test_the_table_agrees_with_the_offer_log(lesson):
    shoppers = read(lesson / "shoppers.csv")
    offers = read(lesson / "offers.csv")
    bought = offers[(offers["seller"] == "shop") & (offers["bought"] == 1)]
    bought = bought[bought["strategy"].isin(PERSONAL)]
    keys = ["strategy", "replication"]
    for feature in ("income", "mobile"):
        rows = shoppers[shoppers["feature"] == feature]
        # each replication's bins, from the table's own edges
        for (strategy, replication), log in bought.groupby(keys):
            table = rows[(rows["strategy"] == strategy) & (rows["replication"] == replication)]
            lows = np.sort(table["low"].unique())
            per_bin = log.assign(bin=np.searchsorted(lows[1:], log[feature].to_numpy(), side="right"))
            raw = per_bin.groupby("bin").agg(
                units=("price", "size"), revenue=("price", "sum"), buyers=("shopper", "nunique")
            )
            values = per_bin.drop_duplicates("shopper").groupby("bin")[feature].sum()
            saved = table.assign(value_sum=table["value"] * table["buyers"]).groupby("bin")
            saved = saved[["units", "revenue", "buyers", "value_sum"]].sum()
            assert list(saved.index) == list(raw.index)
            assert (saved["units"] == raw["units"]).all() and (saved["buyers"] == raw["buyers"]).all()
            assert saved["revenue"].to_numpy() == pytest.approx(raw["revenue"].to_numpy(), rel=1e-12)
            assert saved["value_sum"].to_numpy() == pytest.approx(values.to_numpy(), rel=1e-9)
    # who paid more / less than the best uniform price, shopper by shopper from the log
    scores = read(lesson / "scores.csv").set_index(keys)
    income = shoppers[shoppers["feature"] == "income"]
    for (strategy, replication), log in bought.groupby(keys):
        paid = log.groupby("shopper")["price"].mean()
        uniform = scores.loc[(strategy, replication), "uniform_price"]
        slack = 1e-9 * max(1.0, abs(uniform))
        table = income[(income["strategy"] == strategy) & (income["replication"] == replication)]
        assert table["uniform_price"].to_numpy() == pytest.approx(uniform, rel=1e-12)
        assert table["paying_more"].sum() == (paid > uniform + slack).sum()
        assert table["paying_less"].sum() == (paid < uniform - slack).sum()
        assert table["paying_more"].sum() / table["buyers"].sum() == pytest.approx(
            scores.loc[(strategy, replication), "share_paying_more"]
        )


def test_the_hidden_groups_agree_with_the_segments_table(lesson):
    shoppers = read(lesson / "shoppers.csv")
    segments = read(lesson / "segments.csv")
    focal = segments[segments["seller"] == "shop"].groupby(["strategy", "replication", "segment"])
    expected = focal[["units", "revenue"]].sum()
    for feature in ("income", "mobile"):
        saved = shoppers[shoppers["feature"] == feature].groupby(["strategy", "replication", "group"])
        saved = saved[["units", "revenue"]].sum()
        assert (saved["units"] == expected.loc[saved.index, "units"]).all()
        assert saved["revenue"].to_numpy() == pytest.approx(expected.loc[saved.index, "revenue"].to_numpy())


def test_the_report_draws_it_and_rebuilds_it_from_the_folder(lesson):
    html = (lesson / "report.html").read_text()
    figure = html[html.index("<h3 id='shoppers'>Price paid against shopper features</h3>") :]
    assert figure.split("</figure>")[0].count("src='data:image/png;base64,") == 1
    assert "Who pays more, who pays less" in html and "older (hidden)" in html
    (lesson / "report.html").unlink()
    assert main(["report", str(lesson)]) == 0
    assert (lesson / "report.html").read_text() == html


def test_without_personal_prices_there_is_no_figure(tmp_path):
    out = run(tmp_path / "out", "--workers", "1", "--strategies", "one price (21.8)")
    assert read(out / "shoppers.csv").empty and "id='shoppers'" not in (out / "report.html").read_text()


def test_the_same_bytes_whatever_the_workers(lesson, tmp_path):
    two = run(tmp_path / "out", "--workers", "2", "--log-offers")
    assert (two / "shoppers.csv").read_bytes() == (lesson / "shoppers.csv").read_bytes()
