"""Demand estimation from data: OLS of sales on price, and conditional logit on choice data.

`read_data` checks a CSV against the layout of a model (every problem names the file, the
column and the row), `fit_sales` fits `units` on `price` (+ features) by OLS with statsmodels
(`linear`, or `loglinear`: log units, the exponential demand a e^(−b p)), `fit_logit` fits a
conditional logit by maximum likelihood with scipy (analytic gradient and Hessian), and
`market_from_fit` turns a fit into a scenario whose shoppers reproduce the fitted demand.
statsmodels is an optional extra (`pip install -e '.[estimate]'`), imported when needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

Model = Literal["linear", "loglinear", "logit"]
MODELS: tuple[Model, ...] = ("linear", "loglinear", "logit")
OUTSIDE = "none"  # the alternative that means "bought nothing" in choice data
IDENTIFIERS = ("situation", "alternative", "chosen", "day", "date", "seller", "shopper", "replication")
Z95 = float(stats.norm.ppf(0.975))


class DataError(Exception):
    """Data that cannot be estimated from (exit status 2): names file, column and row."""


class FitError(Exception):
    """A fit that failed on valid data (exit status 1): no convergence, no downward demand."""


@dataclass
class Fit:
    """A fitted demand model: the parameter table, the fit statistics and what the report and
    the market builder need."""

    model: Model
    source: str
    parameters: pd.DataFrame  # parameter, estimate, std_error, ci_low, ci_high, p_value
    stats: dict[str, Any]  # goes to fit.json
    data: pd.DataFrame  # the rows used
    features: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    def estimate(self, name: str) -> float:
        return float(self.parameters.set_index("parameter").loc[name, "estimate"])


# ---------------------------------------------------------------- reading and checking data


def read_data(
    path: str | Path,
    model: Model,
    features: list[str] | None = None,
    seller: str | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The rows of `path` a `model` uses and its feature columns, checked: required columns
    present, numbers where numbers belong, a `seller` column narrowed to one seller."""
    source = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise DataError(f"{source}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, IsADirectoryError) as error:
        raise DataError(f"{source}: not a readable CSV file ({_first_line(error)})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    if model == "logit" and "situation" not in raw.columns and {"bought", "price"} <= set(raw.columns):
        raw = _offers_as_choices(raw, source, features)
    required = ["situation", "alternative", "chosen", "price"] if model == "logit" else ["price", "units"]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise DataError(
            f"{source}: missing column {missing[0]!r} (a {model} fit needs columns {', '.join(required)}; "
            f"the file has {', '.join(raw.columns) or 'none'})"
        )
    if raw.empty:
        raise DataError(f"{source}: no data rows")
    if model != "logit" and "seller" in raw.columns:
        raw = _one_seller(raw, source, seller)
    elif seller is not None:
        raise DataError(f"{source}: --seller {seller!r} given but the file has no 'seller' column")
    if features is None:
        features = [c for c in raw.columns if c not in required and c not in IDENTIFIERS and _numeric(raw[c])]
    for name in features:
        if name not in raw.columns:
            raise DataError(f"{source}: --features names column {name!r}, which the file lacks")
        if name in required or name in IDENTIFIERS:
            raise DataError(f"{source}: column {name!r} cannot be a feature")
    numeric = ["price", "units"] if model != "logit" else ["chosen", "price"]
    data = raw.copy()
    for column in numeric + list(features):
        data[column] = _numbers(raw, column, source)
    return data, tuple(features)


def _offers_as_choices(raw: pd.DataFrame, source: str, features: list[str] | None) -> pd.DataFrame:
    """An offer log (one row per offer shown: price, features, `bought` 0/1) as binary choices:
    each offer a situation between `buy` (its price and features) and `none` (price 0, features
    0), so a feature's coefficient is its effect on buying."""
    bought = _numbers(raw, "bought", source)
    offers = len(raw)
    situation = np.repeat([str(i) for i in range(offers)], 2)
    long = pd.DataFrame(
        {
            "situation": situation,
            "alternative": np.tile(["buy", OUTSIDE], offers),
            "chosen": np.column_stack([bought, 1 - bought]).ravel().astype(int).astype(str),
            "price": np.column_stack([raw["price"], np.full(offers, "0")]).ravel(),
        }
    )
    names = (
        features
        if features is not None
        else [c for c in raw.columns if c not in ("bought", "price", *IDENTIFIERS) and _numeric(raw[c])]
    )
    for name in names:
        if name in raw.columns:
            long[name] = np.column_stack([raw[name], np.full(offers, "0")]).ravel()
    long.index = np.repeat(raw.index, 2)  # messages name the offer's row
    return long


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _one_seller(raw: pd.DataFrame, source: str, seller: str | None) -> pd.DataFrame:
    sellers = list(dict.fromkeys(raw["seller"]))
    if seller is None:
        if len(sellers) > 1:
            raise DataError(
                f"{source}: column 'seller' holds {len(sellers)} sellers ({', '.join(sellers[:5])}); "
                "choose one with --seller NAME"
            )
        return raw
    if seller not in sellers:
        raise DataError(
            f"{source}: column 'seller' has no rows for --seller {seller!r} ({', '.join(sellers[:5])})"
        )
    return raw[raw["seller"] == seller].reset_index(drop=True)


def _numeric(column: pd.Series) -> bool:
    """Whether most cells of a column are numbers (then every cell must be)."""
    parsed = pd.to_numeric(column.str.strip(), errors="coerce")
    return bool(parsed.notna().mean() > 0.5)


def _numbers(raw: pd.DataFrame, column: str, source: str) -> pd.Series:
    text = raw[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = text.iloc[row]
        what = "is empty" if shown == "" else f"{shown[:40]!r} is not a finite number"
        raise DataError(f"{source}, column {column!r}, row {_row(raw, row)}: {what}")
    return values.astype(float)


def _row(raw: pd.DataFrame, position: int) -> int:
    """The 1-based data row (the line below the header) of a row of the file."""
    return int(raw.index[position]) + 1


# ---------------------------------------------------------------- sales: OLS


def fit_sales(
    data: pd.DataFrame,
    features: tuple[str, ...],
    model: Model = "linear",
    unit_cost: float = 0.0,
    folds: int = 5,
    source: str = "<data>",
) -> Fit:
    """OLS of units (or log units) on price and features, with heteroskedasticity-robust (HC1)
    standard errors, k-fold cross-validated MSE of predicted units, the elasticity at the
    mean price, and the profit-maximising price for `unit_cost` with a delta-method 95%
    interval."""
    import statsmodels.api as sm

    data = data.reset_index(drop=True)
    if model == "loglinear":
        positive = data["units"] > 0
        if not positive.any():
            raise DataError(f"{source}, column 'units': no positive units, a loglinear fit takes logs")
        dropped = int((~positive).sum())
        data = data[positive].reset_index(drop=True)
    else:
        dropped = 0
    columns = ["price", *features]
    if len(data) < len(columns) + 2:
        raise DataError(f"{source}: {len(data)} usable rows are too few for {len(columns) + 1} parameters")
    if np.ptp(data["price"].to_numpy()) == 0:
        raise DataError(
            f"{source}, column 'price': no variation in price (every row is {data['price'].iloc[0]:g}); "
            "nothing can be learned about demand"
        )
    for name in features:
        if np.ptp(data[name].to_numpy()) == 0:
            raise DataError(f"{source}, column {name!r}: the feature never varies; leave it out (--features)")
    X = sm.add_constant(data[columns].to_numpy(dtype=float), has_constant="add")
    y = data["units"].to_numpy(dtype=float)
    target = np.log(y) if model == "loglinear" else y
    names = ["intercept", *columns]
    result = sm.OLS(target, X).fit(cov_type="HC1")
    if not np.isfinite(result.bse).all() or np.linalg.matrix_rank(X) < X.shape[1]:
        raise FitError(f"{source}: the columns {', '.join(columns)} are collinear; the fit is not identified")
    beta, cov = np.asarray(result.params), np.asarray(result.cov_params())
    smear = float(np.mean(np.exp(result.resid))) if model == "loglinear" else 1.0
    means = X.mean(axis=0)
    mean_price = float(data["price"].mean())
    slope = float(beta[1])
    predict = _predictor(model, smear)
    at_mean = float(predict(means, beta))
    elasticity = slope * mean_price / at_mean if model == "linear" else slope * mean_price
    parameters = _table(names, beta, np.asarray(result.bse))
    fit = Fit(
        model=model,
        source=source,
        parameters=parameters,
        stats={
            "model": model,
            "observations": int(len(data)),
            "log_likelihood": float(result.llf),  # Gaussian, of units (linear) or log units (loglinear)
            "dropped_zero_units": dropped,
            "r_squared": float(result.rsquared),
            "mse": float(np.mean((y - predict(X, beta)) ** 2)),
            "cv_mse": cross_validated_mse(X, y, model, folds),
            "cv_folds": folds,
            "standard_errors": "HC1 (heteroskedasticity-robust)",
            "mean_price": mean_price,
            "mean_units": float(y.mean()),
            "elasticity_at_mean_price": float(elasticity),
            "smearing_factor": smear,
            "unit_cost": unit_cost,
            "features": list(features),
        },
        data=data,
        features=features,
    )
    fit.warnings.extend(endogeneity_warnings(data, features, result.resid, slope))
    try:
        fit.stats.update(_best_price(model, beta, cov, means, unit_cost, source))
    except FitError as error:
        if fit.warnings:  # say why, on the same line
            raise FitError(f"{error}. Likely cause: {fit.warnings[0]}") from None
        raise
    if dropped:
        fit.warnings.append(
            f"{dropped} rows with zero units were left out (log of zero); the fit describes days that sold."
        )
    fit.stats["warnings"] = fit.warnings
    return fit


def _predictor(model: Model, smear: float):
    if model == "loglinear":
        return lambda X, beta: smear * np.exp(X @ beta)
    return lambda X, beta: X @ beta


def cross_validated_mse(X: np.ndarray, y: np.ndarray, model: Model, folds: int) -> float:
    """Mean squared error of predicted units on held-out rows, `folds` folds in a fixed shuffled
    order (so the same data give the same number)."""
    folds = max(2, min(folds, len(y)))
    order = np.random.default_rng(0).permutation(len(y))
    errors = np.empty(len(y))
    target = np.log(y) if model == "loglinear" else y
    for held in np.array_split(order, folds):
        train = np.setdiff1d(order, held)
        beta, *_ = np.linalg.lstsq(X[train], target[train], rcond=None)
        if model == "loglinear":
            smear = np.mean(np.exp(target[train] - X[train] @ beta))
            predicted = smear * np.exp(X[held] @ beta)
        else:
            predicted = X[held] @ beta
        errors[held] = y[held] - predicted
    return float(np.mean(errors**2))


def _best_price(
    model: Model, beta: np.ndarray, cov: np.ndarray, means: np.ndarray, cost: float, source: str
) -> dict[str, float]:
    """p* maximising (p − c)·Q(p) with features at their means, and its delta-method interval.
    linear: Q = a − b p, p* = (a + b c)/(2b); loglinear: Q ∝ e^(−b p), p* = c + 1/b."""
    slope = float(beta[1])
    if slope >= 0:
        raise FitError(
            f"{source}, column 'price': demand does not fall with price (slope {slope:+.4g}); "
            "there is no profit-maximising price and no market to build"
        )
    gradient = np.zeros_like(beta)
    if model == "linear":
        level = float(means @ beta - slope * means[1])  # a: the intercept with features at their means
        b = -slope
        best = (level + b * cost) / (2 * b)
        gradient[:] = means / (2 * b)  # ∂p*/∂(intercept, features)
        gradient[1] = level / (2 * slope**2)
    else:
        best = cost - 1 / slope
        gradient[1] = 1 / slope**2
    se = float(math.sqrt(max(gradient @ cov @ gradient, 0.0)))
    return {
        "best_price": float(best),
        "best_price_std_error": se,
        "best_price_ci_low": float(best - Z95 * se),
        "best_price_ci_high": float(best + Z95 * se),
    }


def endogeneity_warnings(
    data: pd.DataFrame, features: tuple[str, ...], residuals: np.ndarray, slope: float
) -> list[str]:
    """Signs that prices moved with demand, which biases OLS: a column not in the model that
    moves sales (significant when added to the regression) and moves with price, or prices
    that follow the previous period's unexplained sales. Each warning says which way the slope
    is biased (the omitted-variable formula: the sign of the column's effect on sales times its
    correlation with price) and why."""
    warnings = []
    price, units = data["price"].to_numpy(), data["units"].to_numpy()
    base = np.column_stack([np.ones(len(data)), price, *(data[f].to_numpy() for f in features)])
    for column in data.columns:
        if column in ("price", "units", *features, *IDENTIFIERS) or not _numeric(data[column].astype(str)):
            continue
        shifter = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(shifter).all() or np.ptp(shifter) == 0:
            continue
        effect_t = _added_t(base, shifter, units)
        with_price = stats.pearsonr(price, shifter)
        if abs(effect_t) > 2.58 and with_price.pvalue < 0.01:
            direction = np.sign(effect_t * with_price.statistic)
            warnings.append(_endogeneity_text(f"column {column!r}", with_price.statistic, direction))
    if "day" in data.columns and len(data) > 10:
        order = np.argsort(pd.to_numeric(data["day"], errors="coerce").to_numpy(), kind="stable")
        lagged = stats.pearsonr(price[order][1:], np.asarray(residuals)[order][:-1])
        if lagged.pvalue < 0.01:
            warnings.append(
                _endogeneity_text(
                    "the previous day's unexplained sales", lagged.statistic, np.sign(lagged.statistic)
                )
            )
    return warnings


def _added_t(X: np.ndarray, z: np.ndarray, y: np.ndarray) -> float:
    """The t statistic of `z` added to the regression of `y` on `X` (0 when it is collinear)."""
    design = np.column_stack([X, z])
    if np.linalg.matrix_rank(design) < design.shape[1] or len(y) <= design.shape[1]:
        return 0.0
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    sigma2 = resid @ resid / (len(y) - design.shape[1])
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return float(beta[-1] / math.sqrt(cov[-1, -1])) if cov[-1, -1] > 0 else 0.0


def _endogeneity_text(what: str, r: float, direction: float) -> str:
    bias = (
        "too flat (demand looks less price-sensitive than it is) and the best price too high"
        if direction > 0
        else "too steep (demand looks more price-sensitive than it is) and the best price too low"
    )
    return (
        f"Prices move with demand: price correlates with {what} (r = {r:+.2f}), which also moves sales. "
        "OLS reads every price change as a move along the demand curve, but here part of the link "
        "between price and sales runs through demand shifting and the price following it "
        f"(theory.md §8), so the fitted demand is biased: {bias}. Randomised prices (an A/B test) "
        "or the demand shifter as a feature (--features) remove the bias."
    )


def _table(names: list[str], estimate: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / se
    return pd.DataFrame(
        {
            "parameter": names,
            "estimate": estimate,
            "std_error": se,
            "ci_low": estimate - Z95 * se,
            "ci_high": estimate + Z95 * se,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
        }
    )


# ---------------------------------------------------------------- choices: conditional logit


@dataclass(frozen=True)
class ChoiceData:
    """Long-form choices as arrays: one row per situation × alternative."""

    situation: np.ndarray  # 0..n−1 per row
    alternative: np.ndarray  # index into `alternatives` per row
    alternatives: tuple[str, ...]
    chosen: np.ndarray  # bool per row
    X: np.ndarray  # rows × parameters
    names: tuple[str, ...]

    @property
    def situations(self) -> int:
        return int(self.situation.max()) + 1


def choice_data(data: pd.DataFrame, features: tuple[str, ...], base: str | None, source: str) -> ChoiceData:
    """Check long-form choice data and lay out the design: price, features, and a constant
    `const:<alternative>` for every alternative but `base` (default: the last in sorted order)."""
    data = data.reset_index(drop=True)
    alternatives = tuple(sorted(set(data["alternative"].str.strip())))
    if "" in alternatives:
        row = int(np.flatnonzero(data["alternative"].str.strip() == "")[0])
        raise DataError(f"{source}, column 'alternative', row {_row(data, row)}: is empty")
    if len(alternatives) < 2:
        raise DataError(
            f"{source}, column 'alternative': fewer than two alternatives ({', '.join(alternatives)}); "
            "a choice needs something to choose between"
        )
    base = alternatives[-1] if base is None else base
    if base not in alternatives:
        raise DataError(
            f"{source}, column 'alternative': --base {base!r} is not one of {', '.join(alternatives)}"
        )
    bad = ~data["chosen"].isin([0.0, 1.0])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}, column 'chosen', row {_row(data, row)}: must be 0 or 1, got {data['chosen'][row]:g}"
        )
    situation, situation_keys = pd.factorize(data["situation"].str.strip())
    alternative = pd.Categorical(data["alternative"].str.strip(), categories=alternatives).codes
    size = np.bincount(situation)
    picks = np.bincount(situation, weights=data["chosen"].to_numpy())
    for problem, message in (
        (picks != 1, "has {picks:g} chosen rows (exactly one needed)"),
        (size < 2, "has only one alternative (two or more needed)"),
    ):
        if problem.any():
            s = int(np.flatnonzero(problem)[0])
            row = int(np.flatnonzero(situation == s)[0])
            raise DataError(
                f"{source}, column {'chosen' if 'chosen' in message else 'alternative'}, "
                f"row {_row(data, row)}: "
                f"situation {situation_keys[s]!r} " + message.format(picks=picks[s])
            )
    duplicate = pd.Series(situation * len(alternatives) + alternative).duplicated().to_numpy()
    if duplicate.any():
        row = int(np.flatnonzero(duplicate)[0])
        raise DataError(
            f"{source}, column 'alternative', row {_row(data, row)}: situation {data['situation'][row]!r} "
            f"lists {alternatives[alternative[row]]!r} twice"
        )
    constants = [a for a in alternatives if a != base]
    dummies = (alternative[:, None] == np.array([alternatives.index(a) for a in constants])[None, :]).astype(
        float
    )
    X = np.column_stack([data["price"].to_numpy(), *(data[f].to_numpy() for f in features), dummies])
    names = ("price", *features, *(f"const:{a}" for a in constants))
    for k, name in enumerate(names[: 1 + len(features)]):
        if _within_variation(X[:, k], alternative, len(alternatives)) == 0:
            raise DataError(
                f"{source}, column {name!r}: no variation in {name} beyond the alternative it belongs to; "
                "its effect cannot be told apart from the alternative constants"
            )
    return ChoiceData(
        situation, alternative.astype(np.intp), alternatives, data["chosen"].to_numpy() == 1, X, names
    )


def _within_variation(values: np.ndarray, group: np.ndarray, groups: int) -> float:
    """Spread of `values` around their alternative's mean (rounding noise counts as none)."""
    means = np.bincount(group, weights=values, minlength=groups) / np.maximum(
        np.bincount(group, minlength=groups), 1
    )
    spread = float(np.ptp(values - means[group]))
    return spread if spread > 1e-9 * max(1.0, float(np.max(np.abs(values)))) else 0.0


def logit_loglikelihood(theta: np.ndarray, choices: ChoiceData) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient and Hessian of the conditional logit
    P(j | situation i) = exp(x_ij θ) / Σ_k exp(x_ik θ)."""
    X, situation, n = choices.X, choices.situation, choices.situations
    v = X @ theta
    top = np.full(n, -np.inf)
    np.maximum.at(top, situation, v)
    weight = np.exp(v - top[situation])
    total = np.bincount(situation, weights=weight, minlength=n)
    p = weight / total[situation]
    loglik = float(v[choices.chosen].sum() - (top + np.log(total)).sum())
    mean_x = np.stack(
        [np.bincount(situation, weights=p * X[:, k], minlength=n) for k in range(X.shape[1])], 1
    )
    centred = X - mean_x[situation]
    gradient = centred[choices.chosen].sum(axis=0)
    hessian = -(centred * p[:, None]).T @ centred
    return loglik, gradient, hessian


def fit_logit(
    data: pd.DataFrame,
    features: tuple[str, ...],
    base: str | None = None,
    source: str = "<data>",
) -> Fit:
    """Conditional logit by maximum likelihood (Newton trust region with the analytic gradient
    and Hessian), standard errors from the inverse Hessian, and own- and cross-price
    elasticities at the mean prices."""
    choices = choice_data(data, features, base, source)
    k = choices.X.shape[1]

    def objective(theta):
        loglik, gradient, hessian = logit_loglikelihood(theta, choices)
        return -loglik, -gradient, -hessian

    cache: dict[bytes, tuple] = {}

    def evaluate(theta):
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = objective(theta)
        return cache[key]

    result = optimize.minimize(
        lambda t: evaluate(t)[0],
        np.zeros(k),
        jac=lambda t: evaluate(t)[1],
        hess=lambda t: evaluate(t)[2],
        method="trust-exact",
        options={"maxiter": 200, "gtol": 1e-8},
    )
    loglik, gradient, hessian = logit_loglikelihood(result.x, choices)
    if not _converged(result.x, gradient, hessian):
        raise FitError(
            f"{source}: the logit fit did not converge ({result.message}); "
            "an alternative that is always or never chosen, or a feature that predicts choices perfectly, "
            "makes the estimates run off to infinity"
        )
    try:
        cov = np.linalg.inv(-hessian)
    except np.linalg.LinAlgError:
        raise FitError(f"{source}: the logit fit is not identified (singular Hessian)") from None
    se = np.sqrt(np.diag(cov))
    if np.linalg.cond(hessian) > 1e12:
        raise FitError(
            f"{source}: the logit fit is not identified "
            f"(the parameters {', '.join(choices.names)} are collinear)"
        )
    if loglik > -1e-6 * choices.situations:
        raise FitError(
            f"{source}: the logit fit did not converge: the data predict every choice perfectly "
            "(separation), so the estimates run off to infinity"
        )
    if (
        not np.isfinite(se).all()
        or (np.diag(cov) <= 0).any()
        or np.max(np.abs(result.x)) > 50
        or np.max(se / np.maximum(np.abs(result.x), 1.0)) > 1e3
    ):
        raise FitError(
            f"{source}: the logit fit did not converge to finite estimates with finite standard errors"
        )
    parameters = _table(list(choices.names), result.x, se)
    null = -float(np.log(np.bincount(choices.situation)).sum())  # every alternative equally likely
    prices = mean_prices(data, choices)
    shares_at_mean = mean_price_shares(result.x, choices, data, features)
    beta = float(result.x[0])
    observed = np.bincount(choices.alternative[choices.chosen], minlength=len(choices.alternatives))
    predicted = predicted_shares(result.x, choices)
    fit = Fit(
        model="logit",
        source=source,
        parameters=parameters,
        stats={
            "model": "logit",
            "log_likelihood": loglik,
            "null_log_likelihood": null,
            "pseudo_r_squared": 1 - loglik / null if null else float("nan"),
            "observations": int(len(choices.chosen)),
            "situations": choices.situations,
            "alternatives": list(choices.alternatives),
            "base": base if base is not None else choices.alternatives[-1],
            "features": list(features),
            "optimizer": f"scipy.optimize.minimize(trust-exact), {result.nit} iterations",
            "mean_prices": dict(zip(choices.alternatives, prices.tolist(), strict=True)),
            "shares_at_mean_prices": dict(zip(choices.alternatives, shares_at_mean.tolist(), strict=True)),
            "observed_shares": dict(
                zip(choices.alternatives, (observed / observed.sum()).tolist(), strict=True)
            ),
            "predicted_shares": dict(zip(choices.alternatives, predicted.tolist(), strict=True)),
            "elasticities": elasticities(beta, prices, shares_at_mean, choices.alternatives),
        },
        data=data,
        features=features,
    )
    fit.stats["warnings"] = fit.warnings
    if beta >= 0:
        raise FitError(
            f"{source}, column 'price': the price coefficient is {beta:+.4g} ± {se[0]:.2g}, not negative; "
            "the choices do not show shoppers avoiding higher prices, so no market can be built"
        )
    return fit


def _converged(theta: np.ndarray, gradient: np.ndarray, hessian: np.ndarray) -> bool:
    """At the maximum: the Newton decrement g'(−H)⁻¹g, the log-likelihood a Newton step could
    still gain, is negligible. (The optimiser's own flag is not used: it reports failure when
    rounding stops a step that was no longer needed.)"""
    if not (np.isfinite(theta).all() and np.isfinite(gradient).all()):
        return False
    try:
        decrement = float(gradient @ np.linalg.solve(-hessian, gradient))
    except np.linalg.LinAlgError:
        return False
    return 0 <= decrement < 1e-8 or float(np.abs(gradient).max()) < 1e-9


def mean_prices(data: pd.DataFrame, choices: ChoiceData) -> np.ndarray:
    n = len(choices.alternatives)
    return np.bincount(choices.alternative, weights=data["price"].to_numpy(), minlength=n) / np.bincount(
        choices.alternative, minlength=n
    )


def alternative_levels(
    theta: np.ndarray, choices: ChoiceData, data: pd.DataFrame, features: tuple[str, ...]
) -> np.ndarray:
    """Each alternative's utility apart from its price: its constant plus its features at their
    means for that alternative."""
    n = len(choices.alternatives)
    counts = np.bincount(choices.alternative, minlength=n)
    levels = np.zeros(n)
    named = dict(zip(choices.names, theta, strict=True))
    for a, alternative in enumerate(choices.alternatives):
        levels[a] = named.get(f"const:{alternative}", 0.0)
    for f in features:
        means = np.bincount(choices.alternative, weights=data[f].to_numpy(), minlength=n) / counts
        levels += named[f] * means
    return levels


def mean_price_shares(
    theta: np.ndarray, choices: ChoiceData, data: pd.DataFrame, features: tuple[str, ...]
) -> np.ndarray:
    """Logit shares when every alternative is offered at its mean price, features at their means."""
    utility = alternative_levels(theta, choices, data, features) + theta[0] * mean_prices(data, choices)
    return special.softmax(utility)


def predicted_shares(theta: np.ndarray, choices: ChoiceData) -> np.ndarray:
    """The model's average choice probability of each alternative over the situations."""
    v = choices.X @ theta
    top = np.full(choices.situations, -np.inf)
    np.maximum.at(top, choices.situation, v)
    weight = np.exp(v - top[choices.situation])
    p = weight / np.bincount(choices.situation, weights=weight)[choices.situation]
    return (
        np.bincount(choices.alternative, weights=p, minlength=len(choices.alternatives)) / choices.situations
    )


def elasticities(beta: float, prices: np.ndarray, shares: np.ndarray, alternatives: tuple[str, ...]) -> dict:
    """{j: {k: elasticity of j's share with respect to k's price}} at the given prices and
    shares: own β p_j (1 − s_j), cross −β p_k s_k."""
    table = {}
    for j, a in enumerate(alternatives):
        table[a] = {
            b: float(beta * prices[k] * ((1 - shares[j]) if j == k else -shares[k]))
            for k, b in enumerate(alternatives)
        }
    return table


# ---------------------------------------------------------------- a market from a fit


def market_from_fit(fit: Fit, unit_cost: float = 0.0, focal: str | None = None, days: int = 30) -> dict:
    """A scenario (as YAML data) whose shoppers reproduce the fitted demand, which `run` loads
    as it is. linear: uniform wtp on [0, a/b] and a·(1/visit rate) consumers, so expected sales
    are a − b p; loglinear: exponential wtp with mean 1/b, so sales are A e^(−b p); logit:
    price sensitivity −β_price, each seller's quality its constant (plus its features at their
    means) divided by −β_price, the alternative `none` as the outside option."""
    if fit.model == "logit":
        return _logit_market(fit, unit_cost, focal, days)
    return _sales_market(fit, unit_cost, days)


def _sales_market(fit: Fit, cost: float, days: int) -> dict:
    stats_ = fit.stats
    beta = fit.parameters.set_index("parameter")["estimate"]
    means = {f: float(fit.data[f].mean()) for f in fit.features}
    level = float(beta["intercept"] + sum(beta[f] * m for f, m in means.items()))
    b = -float(beta["price"])
    if fit.model == "linear":
        visitors, wtp = level, {"dist": "uniform", "low": 0.0, "high": _round(level / b)}
        demand = f"{_round(level)} − {_round(b)} p"
    else:
        visitors, wtp = (
            stats_["smearing_factor"] * math.exp(level),
            {"dist": "exponential", "mean": _round(1 / b)},
        )
        demand = f"{_round(visitors)} e^(−{_round(b)} p)"
    if not visitors > 0:
        raise FitError(f"{fit.source}: the fitted demand is not positive at price 0; no market to build")
    population = max(100, math.ceil(10 * visitors))
    mean_price, best = _round(stats_["mean_price"]), _round(stats_["best_price"])
    return {
        "name": f"Market fitted to {Path(fit.source).name} ({fit.model})",
        "description": (
            f"Built by `estimate --model {fit.model}` from {Path(fit.source).name}: expected daily sales "
            f"{demand}, features at their means. {population} consumers visit with probability "
            f"{_round(visitors / population)} and buy when the price is below their willingness to pay."
        ),
        "lesson": (
            f"The fit's profit-maximising price at unit cost {cost:g} is {best} "
            f"(95% interval {_round(stats_['best_price_ci_low'])} to "
            f"{_round(stats_['best_price_ci_high'])}); "
            f"the data's mean price was {mean_price}."
        ),
        "days": days,
        "replications": 10,
        "seed": 0,
        "market": {"choice": "max_surplus"},
        "consumers": {
            "population": population,
            "segments": [
                {"name": "everyone", "share": 1, "visit_rate": _round(visitors / population), "wtp": wtp}
            ],
        },
        "sellers": [{"name": "shop", "focal": True, "unit_cost": cost}],
        "strategies": [
            {"kind": "fixed", "price": mean_price, "name": f"mean price in the data ({mean_price:g})"},
            {"kind": "fixed", "price": best, "name": f"fitted best price ({best:g})"},
            {"kind": "demand_response", "model": "linear" if fit.model == "linear" else "log_linear"},
        ],
    }


def _logit_market(fit: Fit, cost: float, focal: str | None, days: int) -> dict:
    stats_ = fit.stats
    alternatives = stats_["alternatives"]
    choices = choice_data(fit.data, fit.features, stats_["base"], fit.source)
    theta = fit.parameters["estimate"].to_numpy()
    beta = -float(theta[0])
    prices = mean_prices(fit.data, choices)
    levels = alternative_levels(theta, choices, fit.data, fit.features) / beta
    sellers = [a for a in alternatives if a != OUTSIDE]
    focal = sellers[0] if focal is None else focal
    if focal not in sellers:
        raise DataError(f"{fit.source}: --focal {focal!r} is not one of the sellers {', '.join(sellers)}")
    index = {a: i for i, a in enumerate(alternatives)}
    if OUTSIDE in index:
        o = index[OUTSIDE]
        outside = float(levels[o] - prices[o])
    else:  # everyone buys something: an outside option that is never taken
        outside = float(min(levels[index[s]] - 2 * prices[index[s]] for s in sellers) - 40 / beta)
    rival_prices = {s: float(prices[index[s]]) for s in sellers if s != focal}
    best = logit_best_response(
        beta, levels[index[focal]], cost, {s: levels[index[s]] for s in rival_prices}, rival_prices, outside
    )
    mean_price = _round(prices[index[focal]])
    situations_per_day = _situations_per_day(fit.data)
    return {
        "name": f"Market fitted to {Path(fit.source).name} (logit)",
        "description": (
            f"Built by `estimate --model logit` from {Path(fit.source).name}: "
            "shoppers with price sensitivity "
            f"{_round(beta)} (−β_price) choose between {', '.join(sellers)}"
            + (" and buying nothing" if OUTSIDE in index else "")
            + "; each seller's quality is its fitted constant (features at their means) divided by the "
            f"sensitivity. Rivals hold their mean prices in the data; the focal seller is {focal}."
        ),
        "lesson": (
            f"Against rivals at their mean prices the fitted best price of {focal} at unit cost {cost:g} is "
            f"{_round(best)}; in the data it charged {mean_price} on average."
        ),
        "days": days,
        "replications": 10,
        "seed": 0,
        "market": {"choice": "logit", "outside_utility": _round(outside)},
        "consumers": {
            "population": situations_per_day,
            "segments": [
                {"name": "everyone", "share": 1, "visit_rate": 1, "wtp": 0, "price_sensitivity": _round(beta)}
            ],
        },
        "sellers": [
            {
                "name": s,
                **({"focal": True} if s == focal else {}),
                "unit_cost": cost,
                "quality": _round(levels[index[s]]),
                **({} if s == focal else {"strategy": {"kind": "fixed", "price": _round(rival_prices[s])}}),
            }
            for s in sellers
        ],
        "strategies": [
            {"kind": "fixed", "price": mean_price, "name": f"mean price in the data ({mean_price:g})"},
            {"kind": "fixed", "price": _round(best), "name": f"fitted best response ({_round(best):g})"},
            {"kind": "demand_response", "model": "log_linear"},
        ],
    }


def _situations_per_day(data: pd.DataFrame) -> int:
    situations = data["situation"].nunique()
    if "day" in data.columns:
        return max(10, round(situations / data["day"].nunique()))
    return max(10, min(situations, 2000))


def logit_best_response(
    beta: float, quality: float, cost: float, rival_quality: dict, rival_prices: dict, outside: float
) -> float:
    """The price maximising (p − c)·share against fixed rivals: the root of
    (p − c)(1 − s(p)) β = 1."""
    others = sum(math.exp(beta * (rival_quality[s] - rival_prices[s] - outside)) for s in rival_prices) + 1.0

    def share(p: float) -> float:
        return float(special.expit(beta * (quality - p - outside) - math.log(others)))

    def condition(p: float) -> float:
        return (p - cost) * (1 - share(p)) * beta - 1

    high = cost + 1 / beta
    while condition(high) < 0:
        high += 1 / beta
    return float(optimize.brentq(condition, cost, high, xtol=1e-10))


def _round(value: float) -> float:
    """Six significant digits: readable in the scenario file, far below the estimates' errors."""
    return float(f"{value:.6g}")
