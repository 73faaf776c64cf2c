"""Matplotlib's Agg backend, drawing plain text a string at a time: the report's figures.

Matplotlib 3.11 draws each glyph of a text on its own, in Python (a transform, a FreeType
rendering and a blend for every glyph: about 55 µs a glyph, 2 ms a legend entry). Up to 3.10 it
laid a string out and drew its glyphs into one bitmap in C++ (`FT2Font.set_text`, which 3.11
still uses to measure text, and `draw_glyphs_to_bitmap`), about four times faster. A report's
figures hold a few hundred texts: drawn a glyph at a time, they took a quarter of the figures'
time (the holiday market's seven: 0.17 of 0.61 s).

The report's modules select this module as matplotlib's backend (`BACKEND`). Its
`FigureCanvas` is matplotlib's Agg canvas, whose renderer draws plain text the way matplotlib
3.10 did, and keeps each text it laid out and drew for the next figures: the same names, labels
and tick values come back in figure after figure, and matplotlib's own cache of text sizes lasts
one figure. Math text, TeX, text with OpenType features or a language of its own, and a matplotlib
without those FreeType calls are drawn by matplotlib's own code.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from matplotlib.backends import backend_agg
from matplotlib.ft2font import FT2Font

BACKEND = f"module://{__name__}"  # for matplotlib.use
KEPT = 4096  # texts kept laid out and drawn (a report's figures show a few hundred)

# the FreeType calls a string at a time needs (matplotlib 3.8 to 3.11 have them all)
STRING_AT_A_TIME = all(
    hasattr(FT2Font, name) for name in ("set_text", "draw_glyphs_to_bitmap", "get_image", "get_bitmap_offset")
)


class RendererAgg(backend_agg.RendererAgg):
    """Agg's renderer; plain text is laid out and drawn into one bitmap per string, kept for the
    figures drawn next (`_string`)."""

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath or not STRING_AT_A_TIME:
            return super().get_text_width_height_descent(s, prop, ismath)
        laid = self._string(s, prop, True)
        return laid.width, laid.height, laid.descent

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not STRING_AT_A_TIME or _shaped(mtext):
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        laid = self._string(s, prop, gc.get_antialiased())
        # laid out unrotated: draw_text_image turns the bitmap by `angle` about its corner
        turn = math.radians(angle)
        x = round(x + laid.left + laid.descent * math.sin(turn))
        y = round(y + laid.top + laid.descent * math.cos(turn))
        self._renderer.draw_text_image(laid.bitmap, x, y + 1, angle, gc)

    def _string(self, s, prop, antialiased) -> _Laid:
        font = self._prepare_font(prop)
        size = prop.get_size_in_points()
        return _string(font, size, self.dpi, s, backend_agg.get_hinting_flag(), bool(antialiased))


class _Laid(NamedTuple):
    """A string laid out and drawn: its size in pixels as matplotlib's Agg measures it, and its
    bitmap with the bitmap's offset (pixels) as `draw_text` places it."""

    width: float
    height: float
    descent: float
    left: float
    top: float
    bitmap: np.ndarray


@functools.lru_cache(maxsize=KEPT)
def _string(font: FT2Font, size: float, dpi: float, s: str, flags: int, antialiased: bool) -> _Laid:
    """`s` laid out in `font` at `size` points and `dpi`, and drawn. Figures show the same
    names, labels and tick values again and again: each is laid out and drawn once."""
    font.set_size(size, dpi)
    font.set_text(s, 0, flags=flags)
    width, height = font.get_width_height()
    descent = font.get_descent() / 64
    font.draw_glyphs_to_bitmap(antialiased=antialiased)
    left, top = (offset / 64 for offset in font.get_bitmap_offset())
    bitmap = font.get_image().copy()  # the font's own buffer is drawn over by the next text
    return _Laid(width / 64, height / 64, descent, left, top, bitmap)


def _shaped(mtext) -> bool:
    """Whether `mtext` (a Text, or None) asks for OpenType features or a language (3.11), which
    only matplotlib's own layout honours."""
    features = getattr(mtext, "get_fontfeatures", None)
    language = getattr(mtext, "get_language", None)
    return bool(features and features()) or bool(language and language())


class FigureCanvas(backend_agg.FigureCanvasAgg):
    """Agg's canvas, drawing with `RendererAgg` above."""

    def get_renderer(self):
        width, height = self.get_width_height(physical=True)
        key = width, height, self.figure.dpi
        if self._lastKey != key:  # as Agg's own: one renderer while the size stays
            self.renderer = RendererAgg(width, height, self.figure.dpi)
            self._lastKey = key
        return self.renderer
