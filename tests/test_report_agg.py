"""The report's matplotlib backend (market_sim/report/agg.py) draws plain text a string at a time:
the text must land where matplotlib's own Agg puts it, with the same ink, upright and turned, in
any script a font falls back for; what only matplotlib's layout can draw is left to it."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.text
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from market_sim.report import agg, plots


def _pixels(canvas_class, draw) -> np.ndarray:
    """The grey levels of a 4 × 2 inch figure that `draw(figure)` filled, drawn on `canvas_class`."""
    figure = Figure(figsize=(4, 2), dpi=100)
    canvas_class(figure)
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return np.asarray(Image.open(buffer).convert("L"), dtype=float)


def _ink(pixels: np.ndarray) -> tuple[tuple[int, int, int, int], float]:
    """The box (top, bottom, left, right) of the pixels with ink, and how much ink there is."""
    rows, columns = np.nonzero(pixels < 250)
    return (rows.min(), rows.max(), columns.min(), columns.max()), float((255 - pixels).sum())


TEXTS = {
    "upright": lambda figure: figure.text(0.1, 0.5, "posted price (mean, 10–90% band)", fontsize=10.5),
    "turned": lambda figure: figure.text(0.5, 0.1, "units on hand", rotation=90, fontsize=9),
    "aligned": lambda figure: figure.text(0.9, 0.9, "Fairness: gap", ha="right", va="top", fontsize=11.5),
    "twice, two sizes": lambda figure: [
        figure.text(0.1, y, "Prices", fontsize=size) for y, size in ((0.1, 10), (0.5, 20))
    ],
    "not antialiased": lambda figure: figure.text(0.1, 0.4, "units on hand", antialiased=False),
    "accents": lambda figure: figure.text(0.05, 0.3, "Café Noël − 5 € (Singles Day)", fontsize=10),
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_text_lands_where_matplotlibs_agg_draws_it(name):
    ours = _pixels(agg.FigureCanvas, TEXTS[name])
    theirs = _pixels(FigureCanvasAgg, TEXTS[name])
    (box, ink), (their_box, their_ink) = _ink(ours), _ink(theirs)
    assert np.abs(np.subtract(box, their_box)).max() <= 1, (box, their_box)  # within a pixel
    assert ink == pytest.approx(their_ink, rel=0.03)
    assert not np.array_equal(ours, np.full_like(ours, 255))  # something was drawn


def test_a_chart_differs_only_in_its_texts_ink():
    """A whole chart (ticks, labels, a legend, a title): outside its texts, the same pixels; in
    each text's box, the same ink within 3%."""

    def chart(figure):
        axes = figure.add_subplot()
        axes.plot([0, 1, 2], [3, 1, 2], label="a strategy")
        axes.set(xlabel="day", ylabel="price", title="Prices")
        axes.legend()

    pictures, boxes = [], []
    for canvas_class in (agg.FigureCanvas, FigureCanvasAgg):
        figure = Figure(figsize=(4, 2), dpi=100)
        canvas = canvas_class(figure)
        chart(figure)
        canvas.draw()
        pictures.append(np.asarray(canvas.buffer_rgba())[..., 0].astype(float))
        renderer = canvas.get_renderer()
        texts = [t for t in figure.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
        boxes.append([t.get_window_extent(renderer).extents for t in texts])
    ours, theirs = pictures
    assert np.array_equal(boxes[0], boxes[1]) and len(boxes[0]) >= 10  # ticks, labels, title, legend
    height = ours.shape[0]
    outside = np.ones(ours.shape, dtype=bool)
    for left, bottom, right, top in boxes[0]:
        rows = slice(max(0, int(height - top) - 2), int(height - bottom) + 3)
        columns = slice(max(0, int(left) - 2), int(right) + 3)
        outside[rows, columns] = False
        assert (255 - ours[rows, columns]).sum() == pytest.approx(
            (255 - theirs[rows, columns]).sum(), rel=0.03
        )
    assert np.array_equal(ours[outside], theirs[outside])


def test_math_text_is_left_to_matplotlib(monkeypatch):
    """Math text has no whole-string layout: matplotlib's own code draws it, to the pixel."""

    def formula(figure):
        figure.text(0.2, 0.5, r"$\alpha^2 + \frac{1}{2}$", fontsize=14, parse_math=True)

    assert np.array_equal(_pixels(agg.FigureCanvas, formula), _pixels(FigureCanvasAgg, formula))
    monkeypatch.setattr(agg, "STRING_AT_A_TIME", False)  # a matplotlib without those FreeType calls
    assert np.array_equal(
        _pixels(agg.FigureCanvas, TEXTS["upright"]), _pixels(FigureCanvasAgg, TEXTS["upright"])
    )


def test_the_report_draws_on_this_backend():
    assert matplotlib.get_backend() == agg.BACKEND
    figure, _ = plots.plt.subplots()
    try:
        assert isinstance(figure.canvas, agg.FigureCanvas)
        assert isinstance(figure.canvas.get_renderer(), agg.RendererAgg)
    finally:
        plots.plt.close(figure)


def test_texts_kept_from_earlier_figures_draw_the_same_pixels():
    """A figure is the same picture whether its texts are laid out afresh or kept from the
    figures drawn before it: reports are the same byte for byte, whatever was drawn first."""
    chart = TEXTS["upright"]
    agg._string.cache_clear()
    afresh = _pixels(agg.FigureCanvas, chart)
    assert agg._string.cache_info().currsize > 0
    assert np.array_equal(_pixels(agg.FigureCanvas, chart), afresh)
    assert agg._string.cache_info().hits > 0
