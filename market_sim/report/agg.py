"""Matplotlib's Agg backend, drawing plain text a string at a time: the report's figures.

Matplotlib 3.11 draws each glyph of a text on its own, in Python (a transform, a FreeType
rendering and a blend a glyph: about 55 µs a glyph, 2 ms a legend entry). Up to 3.10 it laid a
string out and drew its glyphs into one bitmap in C++ (`FT2Font.set_text`, which 3.11 still
uses to measure text, and `draw_glyphs_to_bitmap`), about four times faster. A report's figures
hold a few hundred texts: drawn a glyph at a time they took a quarter of their drawing time.

The report's modules select this module as matplotlib's backend (`BACKEND`). Its
`FigureCanvas` is matplotlib's Agg canvas, whose renderer draws plain text the way matplotlib
3.10 did. Math text, TeX, text with OpenType features or a language of its own, and a matplotlib
without those FreeType calls are drawn by matplotlib's own code.
"""

from __future__ import annotations

import math

from matplotlib.backends import backend_agg
from matplotlib.ft2font import FT2Font

BACKEND = f"module://{__name__}"  # for matplotlib.use

# the FreeType calls a string at a time needs (matplotlib 3.8 to 3.11 have them all)
STRING_AT_A_TIME = all(
    hasattr(FT2Font, name) for name in ("set_text", "draw_glyphs_to_bitmap", "get_image", "get_bitmap_offset")
)


class RendererAgg(backend_agg.RendererAgg):
    """Agg's renderer; plain text is laid out and drawn into one bitmap per string."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not STRING_AT_A_TIME or _shaped(mtext):
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        font = self._prepare_font(prop)
        # laid out unrotated: draw_text_image turns the bitmap by `angle` about its corner
        font.set_text(s, 0, flags=backend_agg.get_hinting_flag())
        font.draw_glyphs_to_bitmap(antialiased=gc.get_antialiased())
        descent = font.get_descent() / 64
        left, top = (offset / 64 for offset in font.get_bitmap_offset())
        turn = math.radians(angle)
        x = round(x + left + descent * math.sin(turn))
        y = round(y + top + descent * math.cos(turn))
        self._renderer.draw_text_image(font.get_image(), x, y + 1, angle, gc)


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
