"""The commands of `market-sim`, one module each (the convention is in `market_sim.cli`)."""


class UsageError(Exception):
    """Invalid command-line arguments (exit status 2)."""
