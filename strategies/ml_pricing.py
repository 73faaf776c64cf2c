"""`ml_pricing`: the personalised-pricing loop of the article, done with honest statistics.

Every day the strategy logs its own offers (the shopper's observable data, the price shown,
whether they bought), shows randomised prices to a share of shoppers that decays over time
(exploration: without it the model never sees what other prices would have done), retrains a
scikit-learn classifier of P(buy | shopper, price) every few days, scores it out of sample by
cross-validation (log loss and AUC, reported in the day's `reason`), and prices each other
shopper at the price that maximises (price − unit cost) × P̂(buy) over a grid.

scikit-learn is an optional extra: `pip install 'market-sim[ml]'`.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from strategies.base import (
    DayResult,
    MarketInfo,
    Observation,
    ParameterError,
    Prices,
    PricingStrategy,
    percent,
    require,
)

HISTORY = ("visits", "purchases", "spend")
MISSING_SKLEARN = "needs scikit-learn, an optional extra: pip install 'market-sim[ml]'"


def _sklearn() -> Any:
    try:
        import sklearn  # noqa: F401  (imported here: the core install does without it)
    except ImportError as error:
        raise ImportError(f"ml_pricing {MISSING_SKLEARN}") from error
    from sklearn import base, ensemble, linear_model, model_selection, pipeline, preprocessing

    return base, ensemble, linear_model, model_selection, pipeline, preprocessing


def _one_thread() -> Any:
    """Fit and predict on one thread: runs are already spread over the cores, and OpenMP's
    spinning threads on a busy machine made boosting a hundred times slower."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(limits=1)


def make_estimator(model: str, seed: int) -> Any:
    """A fresh, unfitted classifier for `model`: `logistic`, `boosting` or `module:Class`."""
    base, ensemble, linear_model, _, pipeline, preprocessing = _sklearn()
    if model == "logistic":
        return pipeline.make_pipeline(
            preprocessing.StandardScaler(), linear_model.LogisticRegression(C=10.0, solver="newton-cholesky")
        )
    if model == "boosting":
        return ensemble.HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.1, max_leaf_nodes=15, random_state=seed
        )
    module_name, _, class_name = model.partition(":")
    if not class_name:
        raise ParameterError("model", f"must be logistic, boosting or module:Class, got {model!r}")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        estimator = cls()
    except Exception as error:
        raise ParameterError("model", f"cannot make {model!r}: {type(error).__name__}: {error}") from None
    if not (base.is_classifier(estimator) and hasattr(estimator, "predict_proba")):
        raise ParameterError(
            "model", f"{model!r} is not a scikit-learn classifier with predict_proba (fit / predict_proba)"
        )
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


class MLPricing(PricingStrategy):
    """Learns P(buy | shopper, price) from its own offers with a scikit-learn classifier and
    prices each shopper to maximise expected profit (theory.md §9; the article's §2–§3 loop).

    model: `logistic` (standardised logistic regression), `boosting` (histogram gradient
        boosting) or `module:Class`, any scikit-learn classifier with `predict_proba`.
    retrain_every: days between retrainings (the first as soon as both outcomes were seen).
    explore: share of shoppers shown a random price once a model exists (all of them before);
        it halves every `explore_half_life` days, down to `explore_floor`.
    explore_half_life: days in which the exploring share halves.
    explore_floor: the smallest exploring share.
    max_markup: prices are searched and explored between unit cost and unit cost × (1 +
        max_markup), unless `ceiling` is given.
    ceiling: the highest price searched or explored (overrides max_markup).
    grid: prices compared per shopper.
    folds: cross-validation folds for the held-out log loss and AUC.
    """

    kind = "ml_pricing"
    model: str = "logistic"
    retrain_every: int = 3
    explore: float = 0.3
    explore_half_life: float = 7.0
    explore_floor: float = 0.02
    max_markup: float = 3.0
    ceiling: float | None = None
    grid: int = 40
    folds: int = 3

    def check(self) -> None:
        require(self.retrain_every >= 1, "retrain_every", f"must be at least 1, got {self.retrain_every}")
        for name in ("explore", "explore_floor"):
            value = getattr(self, name)
            require(0 <= value <= 1, name, f"must be between 0 and 1, got {value}")
        require(self.explore_half_life > 0, "explore_half_life", "must be > 0")
        require(self.max_markup > 0, "max_markup", f"must be > 0, got {self.max_markup}")
        require(self.ceiling is None or self.ceiling > 0, "ceiling", "must be > 0")
        require(self.grid >= 3, "grid", f"must be at least 3, got {self.grid}")
        require(self.folds >= 2, "folds", f"must be at least 2, got {self.folds}")
        try:
            make_estimator(self.model, 0)
        except ImportError as error:
            raise ParameterError("model", str(error)) from None

    def reset(self, info: MarketInfo) -> None:
        self.info, self.rng = info, info.rng
        self.seed = int(info.rng.integers(2**31))
        cost = info.unit_cost
        self.low = cost
        self.high = self.ceiling if self.ceiling is not None else cost * (1 + self.max_markup)
        if self.high <= self.low:
            raise ValueError(f"the price range [{self.low:g}, {self.high:g}] is empty: set `ceiling`")
        self.prices = np.linspace(self.low, self.high, self.grid)
        self.rows: list[np.ndarray] = []  # logged offers: shopper data + price, by day
        self.outcomes: list[np.ndarray] = []
        self.pending: np.ndarray | None = None
        self.estimator: Any = None
        self.columns: list[str] | None = None
        self.trained_day = -1
        self.quality = ""  # the latest held-out scores, for the reason
        self.history: list[dict[str, float]] = []  # day, offers, log loss, AUC of every training

    def exploring_share(self, day: int) -> float:
        if self.estimator is None:
            return 1.0
        return max(self.explore * 0.5 ** (day / self.explore_half_life), self.explore_floor)

    def shopper_data(self, table: Any) -> np.ndarray:
        """What the model sees of each shopper: observable features, visible segment (one column
        per segment name), and the seller's own history with them."""
        if self.columns is None:
            fixed = ("shopper", "segment", "days_since_purchase", *HISTORY)
            self.features = [c for c in table.columns if c not in fixed]
            self.segments = [s for s in table["segment"].cat.categories if s]
            self.columns = [
                *self.features,
                *(f"segment={s}" for s in self.segments),
                *HISTORY,
                "bought_before",
                "days_since_purchase",
                "price",
            ]
        parts = [table[self.features].to_numpy(dtype=float)]
        segment = table["segment"].astype(str).to_numpy()
        parts += (
            [np.column_stack([segment == s for s in self.segments]).astype(float)] if self.segments else []
        )
        since = table["days_since_purchase"].to_numpy(dtype=float)
        parts += [
            table[list(HISTORY)].to_numpy(dtype=float),
            (~np.isnan(since))[:, None].astype(float),
            np.nan_to_num(since, nan=0.0)[:, None],
        ]
        return np.column_stack(parts)

    def price(self, obs: Observation) -> Prices:
        table = obs.shoppers
        data = self.shopper_data(table)
        n = len(data)
        share = self.exploring_share(obs.day)
        explore = self.rng.random(n) < share
        random_prices = self.rng.uniform(self.low, self.high, n)
        personal = random_prices.copy()
        base = (self.low + self.high) / 2
        if self.estimator is not None and (~explore).any():
            best, base = self.best_prices(data[~explore], obs.unit_cost)
            personal[~explore] = best
        self.pending = np.column_stack([data, personal])
        model = (
            f"{self.model} model trained on day {self.trained_day}: {self.quality}"
            if self.quality
            else "no model yet"
        )
        return Prices(
            float(base),
            personal=personal,
            reason=f"ml_pricing: {model}; explored {percent(explore.mean() if n else share)} of {n} shoppers",
        )

    def best_prices(self, data: np.ndarray, cost: float) -> tuple[np.ndarray, float]:
        """Each shopper's price maximising (price − cost) × P̂(buy), and the best single price."""
        n, k = len(data), len(self.prices)
        grid = np.repeat(self.prices[None, :], n, axis=0)
        stacked = np.column_stack([np.repeat(data, k, axis=0), grid.ravel()])
        with _one_thread():
            chance = self.estimator.predict_proba(stacked)[:, 1].reshape(n, k)
        profit = (self.prices - cost) * chance
        uniform = self.prices[int(profit.sum(axis=0).argmax())]
        return self.prices[profit.argmax(axis=1)], float(uniform)

    def observe(self, result: DayResult) -> None:
        with _one_thread():
            self._observe(result)

    def _observe(self, result: DayResult) -> None:
        if self.pending is None or result.bought is None:
            return
        self.rows.append(self.pending)
        self.outcomes.append(np.asarray(result.bought, dtype=int))
        self.pending = None
        due = self.estimator is None or result.day - self.trained_day >= self.retrain_every
        if due:
            self.train(result.day)

    def train(self, day: int) -> None:
        """Refit on every logged offer; score out of sample by stratified cross-validation."""
        _, _, _, model_selection, _, _ = _sklearn()
        x, y = np.concatenate(self.rows), np.concatenate(self.outcomes)
        if min(np.count_nonzero(y), np.count_nonzero(y == 0)) < self.folds:
            return  # both outcomes needed, enough of each for every fold
        estimator = make_estimator(self.model, self.seed)
        folds = model_selection.StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        scores = model_selection.cross_validate(
            estimator, x, y, cv=folds, scoring=("neg_log_loss", "roc_auc")
        )
        log_loss, auc = -float(scores["test_neg_log_loss"].mean()), float(scores["test_roc_auc"].mean())
        self.estimator = estimator.fit(x, y)
        self.trained_day = day
        self.quality = f"held-out log loss {log_loss:.3f}, AUC {auc:.3f} ({len(y)} offers, {self.folds}-fold)"
        self.history.append({"day": day, "offers": len(y), "log_loss": log_loss, "auc": auc})
