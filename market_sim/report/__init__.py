"""The HTML report: one self-contained file (images embedded) that opens offline."""

from market_sim.report.html import render_report

__all__ = ["render_report"]
