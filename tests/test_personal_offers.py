"""`run --log-offers`: every offer shown, as data for students (CSV or Parquet)."""

from __future__ import annotations

import pandas as pd
import pytest

from market_sim.cli import main

MARKET = """
name: offers
days: 4
replications: 2
market: {choice: logit}
consumers:
  population: 300
  features:
    income: {dist: normal, mean: 0, sd: 1}
    secret: {dist: bernoulli, p: 0.5, observable: false}
  segments:
    - {name: members, share: 0.4, observable: true, visit_rate: 0.5, wtp: 20, wtp_per_feature: {income: 4, secret: 3}, price_sensitivity: 0.5}
    - {name: others, share: 0.6, visit_rate: 0.5, wtp: 18, wtp_per_feature: {income: 4}, price_sensitivity: 0.5}
sellers:
  - {name: us, focal: true, unit_cost: 8}
  - {name: rival, unit_cost: 8, strategy: {kind: fixed, price: 19}}
strategies:
  - {kind: personal_rule, markup: 1.2, feature: income, per_unit: 2}
  - {kind: fixed, price: 18}
"""


def run(tmp_path, *options):
    scenario = tmp_path / "offers.yaml"
    scenario.write_text(MARKET)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "1", *options]) == 0
    return out


def test_offers_csv_has_one_row_per_shopper_seller_and_day_and_adds_up(tmp_path):
    out = run(tmp_path, "--log-offers")
    offers = pd.read_csv(out / "offers.csv", keep_default_na=False, na_values=[""])
    assert list(offers.columns) == [
        "strategy",
        "replication",
        "day",
        "seller",
        "shopper",
        "segment",
        "income",
        "price",
        "bought",
    ]
    daily = pd.read_csv(out / "daily.csv")
    keys = ["strategy", "replication", "day", "seller"]
    daily = daily.set_index(keys)
    rows = offers.groupby(keys).size()
    assert (rows == daily.loc[rows.index, "shoppers"]).all() and len(rows) == len(
        daily
    )  # everyone saw every seller
    assert (offers.groupby(keys)["bought"].sum() == daily.loc[rows.index, "units"]).all()
    paid = offers[offers["bought"] == 1].groupby(keys)["price"].sum()
    assert paid.to_numpy() == pytest.approx(daily.loc[paid.index, "revenue"].to_numpy())
    assert set(offers["segment"].fillna("")) == {"members", ""}  # the hidden segment stays hidden
    rule = offers[(offers["strategy"].str.startswith("personal_rule")) & (offers["seller"] == "us")]
    assert rule["price"].to_numpy() == pytest.approx((8 * 2.2 + 2 * rule["income"]).clip(lower=8).to_numpy())
    assert not (out / "offers.parquet").exists()


def test_offers_as_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    out = run(tmp_path, "--log-offers", "parquet")
    offers = pd.read_parquet(out / "offers.parquet")
    assert len(offers) > 1000 and {"income", "price", "bought"} <= set(offers.columns)
