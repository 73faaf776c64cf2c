"""HTML pages from Jinja2 templates in `market_sim/report/templates/`, autoescaped."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **values: Any) -> str:
    """The template `name` filled with `values` (every value escaped unless marked safe)."""
    return _environment().get_template(name).render(**values)
