"""The one Jinja2 environment of every HTML page (the run report and its sections, the sweep,
estimate and tournament reports): templates from market_sim/report/templates/, every value
escaped as `html.escape` does (quotes as &quot; and &#x27;) unless it is `markupsafe.Markup`."""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2  # only when a page is written: the core import stays light

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_escaped,
    )
    env.filters["inline"] = inline_markdown
    env.filters["breakable"] = breakable
    return env


def _escaped(value) -> Markup:
    """Every printed value escaped as `html.escape` does (quotes as &quot; and &#x27;), so the
    pages spell entities as the rest of the project; Markup (a section, a macro) is kept."""
    from markupsafe import Markup

    return value if isinstance(value, Markup) else Markup(html.escape(str(value)))


def render(template: str, /, **values) -> Markup:
    """The page `template` filled with `values` (escaped unless Markup). The result is Markup, so
    a rendered section goes into another template as it is."""
    from markupsafe import Markup

    return Markup(environment().get_template(template).render(**values))


def macro(name: str, macro_name: str):
    """A macro of a template, callable from Python; it returns Markup."""
    return getattr(environment().get_template(name).module, macro_name)


def inline_markdown(text: str) -> Markup:
    """`code` and **bold** in user text, escaped first (a lone * as in p* stays)."""
    from markupsafe import Markup

    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text))


def breakable(text: str) -> Markup:
    """A name escaped, with a line-break opportunity (<wbr>) after each _ ( = , inside it, so an
    identifier such as cost_plus(markup=0.5) wraps in a narrow column at those places instead of
    mid-word."""
    from markupsafe import Markup

    return Markup(re.sub(r"(?<=\S)([_(=,])(?=\S)", r"\1<wbr>", html.escape(str(text))))
