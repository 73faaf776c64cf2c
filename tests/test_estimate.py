"""`estimate`: OLS and conditional logit against known truths, the market built from a fit, and
bad data (exit 2, one line naming file, column and row, no output)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import special

from market_sim import estimate
from market_sim.cli import main
from market_sim.loader import load_scenario

pytest.importorskip("statsmodels")


def _linear_data(path, n=300, seed=1, a=100.0, b=2.0, noise=5.0):
    rng = np.random.default_rng(seed)
    price = rng.uniform(15, 40, n)
    units = a - b * price + rng.normal(0, noise, n)
    pd.DataFrame({"day": range(n), "price": price, "units": units}).to_csv(path, index=False)
    return path


def _logit_data(path, situations=3000, seed=2, beta=-3.0, constants=None):
    """Choices among a, b and none (price 0), prices uniform on [1, 2]."""
    constants = constants or {"a": 4.5, "b": 4.0, "none": 0.0}
    rng = np.random.default_rng(seed)
    names = list(constants)
    prices = np.column_stack(
        [rng.uniform(1, 2, situations), rng.uniform(1, 2, situations), np.zeros(situations)]
    )
    utility = np.array(list(constants.values())) + beta * prices
    probability = special.softmax(utility, axis=1)
    pick = (probability.cumsum(axis=1) > rng.random((situations, 1))).argmax(axis=1)
    frame = pd.DataFrame(
        {
            "situation": np.repeat(np.arange(situations), 3),
            "alternative": np.tile(names, situations),
            "chosen": (np.tile(np.arange(3), situations) == np.repeat(pick, 3)).astype(int),
            "price": prices.ravel(),
        }
    )
    frame.to_csv(path, index=False)
    return frame


def _run(*argv) -> int:
    return main(["estimate", *map(str, argv)])


def test_linear_fit_recovers_the_line_and_the_textbook_price(tmp_path):
    data = _linear_data(tmp_path / "sales.csv")
    out = tmp_path / "fit"
    assert _run(data, "--model", "linear", "--unit-cost", 10, "--out", out) == 0
    table = pd.read_csv(out / "estimates.csv").set_index("parameter")
    assert list(table.columns[:2]) == ["estimate", "std_error"]
    for name, truth in (("intercept", 100.0), ("price", -2.0)):
        assert abs(table.loc[name, "estimate"] - truth) < 3 * table.loc[name, "std_error"]
    fit = json.loads((out / "fit.json").read_text())
    # p* = (a + b c) / (2b) = 30 (theory.md §1), inside the delta-method interval
    assert fit["best_price_ci_low"] < 30 < fit["best_price_ci_high"]
    a, b = table.loc["intercept", "estimate"], -table.loc["price", "estimate"]
    assert fit["best_price"] == pytest.approx((a + b * 10) / (2 * b))
    # held-out error is about the noise variance 25, and never below the in-sample error by much
    assert 20 < fit["cv_mse"] < 31 and fit["cv_mse"] >= fit["mse"] * 0.98
    assert fit["elasticity_at_mean_price"] == pytest.approx(
        -b * fit["mean_price"] / (a - b * fit["mean_price"])
    )
    assert fit["warnings"] == [] and fit["observations"] == 300
    # the Gaussian log-likelihood at the OLS fit: −n/2 (log(2π σ̂²) + 1), σ̂² the in-sample MSE
    assert fit["log_likelihood"] == pytest.approx(-150 * (np.log(2 * np.pi * fit["mse"]) + 1))


def test_built_linear_market_has_the_fitted_demand(tmp_path):
    data = _linear_data(tmp_path / "sales.csv")
    assert _run(data, "--model", "linear", "--unit-cost", 10, "--out", tmp_path / "fit") == 0
    scenario = load_scenario(tmp_path / "fit" / "scenario.yaml")
    table = pd.read_csv(tmp_path / "fit" / "estimates.csv").set_index("parameter")["estimate"]
    segment = scenario.consumers.segments[0]
    visitors = scenario.consumers.population * segment.visit_rate
    # max_surplus with wtp ~ U[0, W]: expected sales V (1 − p/W) = a − b p (theory.md §1)
    assert visitors == pytest.approx(table["intercept"], rel=1e-4)
    assert visitors / segment.wtp.high == pytest.approx(-table["price"], rel=1e-4)
    assert scenario.market.choice == "max_surplus" and scenario.focal.unit_cost == 10


def test_loglinear_fit_recovers_exponential_demand(tmp_path):
    rng = np.random.default_rng(3)
    price = rng.uniform(2, 8, 400)
    units = np.round(200 * np.exp(-0.4 * price) * rng.lognormal(0, 0.1, 400)) + 1
    pd.DataFrame({"price": price, "units": units}).to_csv(tmp_path / "d.csv", index=False)
    data, features = estimate.read_data(tmp_path / "d.csv", "loglinear")
    fit = estimate.fit_sales(data, features, "loglinear", unit_cost=1.0)
    slope = fit.parameters.set_index("parameter").loc["price"]
    assert abs(slope["estimate"] + 0.4) < 3 * slope["std_error"] + 0.01
    # exponential demand: p* = c + 1/b (the Gallego–van Ryzin price with cost)
    assert fit.stats["best_price"] == pytest.approx(1.0 - 1 / slope["estimate"])
    assert fit.stats["elasticity_at_mean_price"] == pytest.approx(slope["estimate"] * price.mean())
    market = estimate.market_from_fit(fit, 1.0)
    assert market["consumers"]["segments"][0]["wtp"] == {
        "dist": "exponential",
        "mean": pytest.approx(-1 / slope["estimate"], rel=1e-5),
    }


def test_logit_recovers_parameters_and_agrees_with_statsmodels(tmp_path):
    frame = _logit_data(tmp_path / "choices.csv", situations=1500)
    data, features = estimate.read_data(tmp_path / "choices.csv", "logit")
    fit = estimate.fit_logit(data, features, base="none")
    table = fit.parameters.set_index("parameter")
    for name, truth in (("price", -3.0), ("const:a", 4.5), ("const:b", 4.0)):
        assert abs(table.loc[name, "estimate"] - truth) < 3 * table.loc[name, "std_error"]
    # the same model through statsmodels' ConditionalLogit (slower: a Python loop over situations)
    from statsmodels.discrete.conditional_models import ConditionalLogit

    choices = estimate.choice_data(data, features, "none", "x")
    model = ConditionalLogit(choices.chosen.astype(float), choices.X, groups=choices.situation)
    ours = table["estimate"].to_numpy()
    assert model.loglike(ours) == pytest.approx(fit.stats["log_likelihood"], abs=1e-8)
    assert np.abs(model.score(ours)).max() < 1e-6  # their gradient vanishes at our estimate
    reference = model.fit(disp=0)  # their optimiser stops a little earlier on the flat top
    assert model.loglike(reference.params) <= fit.stats["log_likelihood"] + 1e-9
    assert np.allclose(ours, reference.params, atol=1e-3)
    assert np.allclose(table["std_error"], reference.bse, rtol=1e-2)
    assert fit.stats["observations"] == len(frame) and fit.stats["situations"] == 1500


def test_logit_elasticities_are_the_derivatives_of_the_shares(tmp_path):
    _logit_data(tmp_path / "choices.csv", situations=800)
    data, features = estimate.read_data(tmp_path / "choices.csv", "logit")
    fit = estimate.fit_logit(data, features, base="none")
    theta = fit.parameters["estimate"].to_numpy()
    prices = np.array([fit.stats["mean_prices"][a] for a in ("a", "b", "none")])
    levels = np.array([theta[1], theta[2], 0.0])

    def shares(p):
        return special.softmax(levels + theta[0] * p)

    for k, moved in enumerate(("a", "b")):
        step = np.zeros(3)
        step[k] = 1e-6 * prices[k]
        change = (np.log(shares(prices + step)) - np.log(shares(prices - step))) / (2e-6)
        for j, whose in enumerate(("a", "b", "none")):
            assert fit.stats["elasticities"][whose][moved] == pytest.approx(change[j], rel=1e-5, abs=1e-8)


def test_built_logit_market_reproduces_the_fitted_shares(tmp_path):
    _logit_data(tmp_path / "choices.csv", situations=1000)
    out = tmp_path / "fit"
    assert (
        _run(tmp_path / "choices.csv", "--model", "logit", "--base", "none", "--unit-cost", 1, "--out", out)
        == 0
    )
    scenario = load_scenario(out / "scenario.yaml")
    fit = json.loads((out / "fit.json").read_text())
    beta = scenario.consumers.segments[0].price_sensitivity.value
    sellers = {s.name: s for s in scenario.sellers}
    assert set(sellers) == {"a", "b"} and scenario.focal.name == "a"
    prices = fit["mean_prices"]
    utility = [beta * (sellers[n].quality - prices[n]) for n in ("a", "b")] + [
        beta * scenario.market.outside_utility
    ]
    assert special.softmax(utility) == pytest.approx(
        [fit["shares_at_mean_prices"][n] for n in ("a", "b", "none")], rel=1e-4
    )
    assert sellers["b"].strategy.params["price"] == pytest.approx(prices["b"], rel=1e-5)
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 2


def test_endogeneity_warning_names_the_shifter_and_the_direction(tmp_path):
    rng = np.random.default_rng(5)
    busy = rng.random(200) < 0.3
    price = np.where(busy, 32.0, 25.0) + rng.normal(0, 1, 200)  # the price follows demand
    visitors = rng.poisson(np.where(busy, 125, 100))
    units = visitors * (1 - price / 50) + rng.normal(0, 2, 200)
    pd.DataFrame({"price": price, "units": units, "visitors": visitors}).to_csv(
        tmp_path / "d.csv", index=False
    )
    data, _ = estimate.read_data(tmp_path / "d.csv", "linear", features=[])
    fit = estimate.fit_sales(data, (), "linear", unit_cost=10)
    assert len(fit.warnings) == 1 and "'visitors'" in fit.warnings[0] and "too flat" in fit.warnings[0]
    with_shifter = estimate.fit_sales(
        *estimate.read_data(tmp_path / "d.csv", "linear"), "linear", unit_cost=10
    )
    assert with_shifter.warnings == [] and with_shifter.features == ("visitors",)


@pytest.mark.parametrize(
    ("text", "model", "expected"),
    [
        ("price,sold\n1,2\n", "linear", "missing column 'units'"),
        ("price,units\n1,2\n2,abc\n3,1\n", "linear", "column 'units', row 2: 'abc' is not a finite number"),
        ("price,units\n5,2\n5,3\n5,1\n5,4\n", "linear", "column 'price': no variation in price"),
        (
            "situation,alternative,chosen,price\n1,a,1,2\n1,b,0,3\n2,a,0,2\n2,b,0,1\n",
            "logit",
            "row 3: situation '2' has 0 chosen rows",
        ),
        (
            "situation,alternative,chosen,price\n1,a,1,2\n1,b,1,3\n",
            "logit",
            "row 1: situation '1' has 2 chosen rows",
        ),
        ("situation,alternative,chosen,price\n1,a,1,2\n2,a,1,3\n", "logit", "fewer than two alternatives"),
        (
            "situation,alternative,chosen,price\n1,a,1,2\n1,b,0,x\n",
            "logit",
            "column 'price', row 2: 'x' is not a finite number",
        ),
        (
            "situation,alternative,chosen,price\n1,a,2,2\n1,b,0,1\n",
            "logit",
            "column 'chosen', row 1: must be 0 or 1",
        ),
        (
            "situation,alternative,chosen,price\n1,a,1,2\n1,b,0,1\n2,a,1,2\n",
            "logit",
            "row 3: situation '2' has only one alternative",
        ),
    ],
)
def test_bad_data_exit_2_with_file_column_and_row_and_no_output(tmp_path, capsys, text, model, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = tmp_path / "out"
    assert _run(path, "--model", model, "--out", out) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and str(path) in message and expected in message
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


def test_a_fit_that_cannot_converge_exits_1_without_output(tmp_path, capsys):
    # `a` is chosen whenever it is cheaper: the price coefficient runs off to −∞
    rows = []
    for s, (pa, pb) in enumerate([(1, 2), (2, 1), (1.5, 1.8), (1.9, 1.2)] * 5):
        rows += [(s, "a", int(pa < pb), pa), (s, "b", int(pb < pa), pb)]
    pd.DataFrame(rows, columns=["situation", "alternative", "chosen", "price"]).to_csv(
        tmp_path / "d.csv", index=False
    )
    assert _run(tmp_path / "d.csv", "--model", "logit", "--out", tmp_path / "out") == 1
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: fit failed:") and "d.csv" in message and len(message.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_rising_demand_is_a_failed_fit_that_says_why(tmp_path, capsys):
    rng = np.random.default_rng(5)
    busy = rng.random(200) < 0.3
    price = np.where(busy, 32.0, 25.0) + rng.normal(0, 1, 200)
    visitors = rng.poisson(np.where(busy, 200, 100))
    units = visitors * (1 - price / 50) + rng.normal(0, 2, 200)
    pd.DataFrame({"price": price, "units": units, "visitors": visitors}).to_csv(
        tmp_path / "d.csv", index=False
    )
    assert _run(tmp_path / "d.csv", "--model", "linear", "--features", "", "--out", tmp_path / "out") == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "demand does not fall with price" in message
    assert "Likely cause: Prices move with demand" in message and "'visitors'" in message


def test_rising_demand_is_a_failed_fit(tmp_path, capsys):
    pd.DataFrame({"price": [1, 2, 3, 4, 5, 6], "units": [1, 3, 2, 5, 6, 7]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    assert _run(tmp_path / "d.csv", "--model", "linear", "--out", tmp_path / "out") == 1
    assert "demand does not fall with price" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_offer_log_is_read_as_binary_choices(tmp_path):
    """`run --log-offers` data (one row per offer shown: features, price, bought) is valid
    input: each offer a choice between buying at its price and not buying."""
    rng = np.random.default_rng(3)
    n = 4000
    price, income = rng.uniform(1, 3, n), rng.normal(0, 1, n)
    bought = (rng.random(n) < special.expit(2 + 0.8 * income - 1.5 * price)).astype(int)
    offers = pd.DataFrame(
        {"day": rng.integers(0, 30, n), "seller": "shop", "income": income, "price": price, "bought": bought}
    )
    offers.to_csv(tmp_path / "offers.csv", index=False)
    data, features = estimate.read_data(tmp_path / "offers.csv", "logit")
    assert features == ("income",) and len(data) == 2 * n
    table = estimate.fit_logit(data, features, base="none").parameters.set_index("parameter")
    for name, truth in (("price", -1.5), ("income", 0.8), ("const:buy", 2.0)):
        assert abs(table.loc[name, "estimate"] - truth) < 3 * table.loc[name, "std_error"]
    # the same fit as statsmodels' binary logit of bought on price and income
    import statsmodels.api as sm

    reference = sm.Logit(bought, sm.add_constant(np.column_stack([price, income]))).fit(disp=0)
    assert np.allclose(table.loc[["const:buy", "price", "income"], "estimate"], reference.params, atol=1e-5)
    assert np.allclose(table.loc[["const:buy", "price", "income"], "std_error"], reference.bse, rtol=1e-4)
