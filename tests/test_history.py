"""`history` with several strategies (one independent run each) and the shoppers' observable
features in the choice data, which `estimate` recovers."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from market_sim.cli import main

pytest.importorskip("statsmodels")

# a logit market whose shoppers' wtp moves with two observable features and a hidden one that
# moves nothing; two focal strategies whose flash sales vary the price
MARKET = """
name: features for estimation
days: 25
seed: 11
market: {{choice: logit, outside_utility: 0}}
consumers:
  population: 500
  features:
    income: {{dist: normal, mean: 0, sd: 1}}
    ios_user: {{dist: bernoulli, p: 0.4}}
    secret: {{dist: normal, mean: 0, sd: 1, observable: false}}
  segments:
    - name: everyone
      share: 1
      visit_rate: 0.5
      wtp: 0
      price_sensitivity: 4
      wtp_per_feature: {{income: 0.25, ios_user: 0.2}}
sellers:
  - {{name: shop, focal: true, unit_cost: 1, quality: 2}}
  - name: rival
    unit_cost: 1
    quality: 1.8
    strategy: {{kind: promotions, base: {{kind: fixed, price: 1.5}}, flash_every: 3, flash_discount: 0.2}}
strategies:
  - {{kind: promotions, base: {{kind: fixed, price: 1.7}}, flash_every: 2, flash_discount: 0.25, name: flash}}
  - {{kind: fixed, price: 1.6, name: steady}}
{extra}"""


def _write(tmp_path, extra=""):
    path = tmp_path / "market.yaml"
    path.write_text(textwrap.dedent(MARKET.format(extra=extra)))
    return path


def test_every_strategy_asked_for_runs_on_its_own_replication_with_the_features(tmp_path):
    path = _write(tmp_path)
    out = tmp_path / "data"
    args = ["history", str(path), "--out", str(out), "--strategy", "steady", "--strategy", "flash"]
    assert main([*args, "--replication", "4"]) == 0
    sales, choices = pd.read_csv(out / "sales.csv"), pd.read_csv(out / "choices.csv")
    runs = sales.groupby("strategy", sort=False)["replication"].unique()
    assert list(runs.index) == ["steady", "flash"] and runs.tolist() == [[4], [5]]
    assert len(sales) == 2 * 25 * 2
    assert choices["situation"].str.startswith(("4-", "5-")).all()
    assert (choices.groupby("situation")["chosen"].sum() == 1).all()
    # observable features on the sellers' rows, 0 on `none`; the hidden one nowhere
    assert {"income", "ios_user"} <= set(choices.columns) and "secret" not in choices.columns
    outside = choices["alternative"] == "none"
    assert (choices.loc[outside, ["income", "ios_user"]] == 0).all().all()
    sellers = choices[~outside]
    assert sellers["ios_user"].isin([0, 1]).all() and abs(sellers["income"].std() - 1) < 0.1
    # a shopper's features are the same on every visit (shoppers are numbered run by run)
    assert (sellers.groupby(["replication", "shopper"])["income"].nunique() == 1).all()
    # the choices add up to the sales, run by run
    bought = sellers[sellers["chosen"] == 1].groupby(["strategy", "day", "alternative"]).size()
    units = sales.set_index(["strategy", "day", "seller"])["units"]
    assert (units.reindex(bought.index) == bought).all() and bought.sum() == units.sum()
    dictionary = (out / "README.md").read_text()
    assert "`income`" in dictionary and "`steady` (replication 4), `flash` (replication 5)" in dictionary


def test_estimate_with_the_features_recovers_their_coefficients(tmp_path):
    path = _write(tmp_path)
    out = tmp_path / "data"
    assert main(["history", str(path), "--out", str(out), "--strategy", "flash", "--strategy", "steady"]) == 0
    truth = json.loads((out / "truth.json").read_text())
    # the price sensitivity × the money each feature adds to wtp (theory: utility β(wtp − p))
    assert truth["income"] == pytest.approx(4 * 0.25) and truth["ios_user"] == pytest.approx(4 * 0.2)
    fit = tmp_path / "fit"
    assert (
        main(["estimate", str(out / "choices.csv"), "--model", "logit", "--base", "none", "--out", str(fit)])
        == 0
    )
    table = pd.read_csv(fit / "estimates.csv").set_index("parameter")
    assert {"income", "ios_user"} <= set(table.index)  # every further numeric column: the features
    for name, value in truth.items():
        z = (table.loc[name, "estimate"] - value) / table.loc[name, "std_error"]
        assert abs(z) < 3, (name, table.loc[name, "estimate"], value)
    assert table.loc["income", "std_error"] < 0.1  # precise enough to tell 1.0 from 0


def test_a_feature_that_moves_hidden_tastes_leaves_no_truth(tmp_path):
    extra = "      \n"
    path = _write(tmp_path, extra)
    text = path.read_text().replace("{income: 0.25, ios_user: 0.2}", "{income: 0.25, secret: 0.3}")
    path.write_text(text)
    out = tmp_path / "data"
    assert main(["history", str(path), "--out", str(out)]) == 0
    assert not (out / "truth.json").exists()  # not one logit for everyone: a hidden feature moves wtp
    choices = pd.read_csv(out / "choices.csv")
    assert set(choices["strategy"]) == {"flash"} and set(choices["replication"]) == {0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "--strategy: no strategy named 'nope'; the scenario has: flash, steady"),
        (["--strategy", "flash", "--strategy", "flash"], "--strategy: each strategy once"),
    ],
)
def test_bad_strategies_name_the_option(tmp_path, capsys, args, message):
    path = _write(tmp_path)
    assert main(["history", str(path), "--out", str(tmp_path / "data"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_a_feature_named_like_a_column_is_refused(tmp_path, capsys):
    path = _write(tmp_path)
    path.write_text(path.read_text().replace("income", "price"))
    assert main(["history", str(path), "--out", str(tmp_path / "data")]) == 2
    assert (
        "consumers.features.price: the choice data already have a column 'price'" in capsys.readouterr().err
    )
    assert not np.any([p.exists() for p in [tmp_path / "data"]])
