#!/usr/bin/env python3
"""Command-line entry point: `python run_sim.py run scenarios/linear_demand.yaml`."""

import sys

if __name__ == "__main__":
    try:
        from market_sim.cli import main
    except KeyboardInterrupt:  # Ctrl-C while starting: nothing began, nothing to show
        sys.exit(130)
    sys.exit(main())
