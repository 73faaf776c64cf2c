"""An agent-based market simulator and pricing-strategy backtester.

From Python (the same machinery as the command line; see `market_sim.api`):

    import market_sim as ms
    scenario = ms.load("scenarios/lessons/01_demand_curve.yaml", days=30)
    results = ms.compare(scenario, strategies=["fixed(price=30)", "cost_plus"], replications=5)
    results.summary

The API is imported on first use, so `import market_sim` loads nothing heavy.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

API = ("load", "compare", "sweep", "Results", "SweepResults", "ScenarioError", "OverrideError", "OptionError")
__all__ = ["__version__", *API]


def __getattr__(name: str) -> Any:
    if name in API:
        from market_sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'market_sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API})
