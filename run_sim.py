#!/usr/bin/env python3
"""Command-line entry point: `python run_sim.py run scenarios/linear_demand.yaml`."""

import sys

from market_sim.cli import main

if __name__ == "__main__":
    sys.exit(main())
