"""An agent-based market simulator and pricing-strategy backtester."""

__version__ = "0.1.0"
