"""examples/quickstart.ipynb runs from top to bottom in a real Jupyter kernel (issue 18), as a
reader would run it from the examples folder: every cell without an error."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_runs_and_shows_its_results():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the cell that failed
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    html = [output["data"]["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    assert any("SalesTarget(step=2)" in page and "<img" in page for page in html)  # the inline report
    assert any("image/png" in output.get("data", {}) for output in outputs)  # the price path
    text = "".join(output.get("text", "") for output in outputs)
    assert "winner:" in text and "report.html" in "".join(map(str, outputs))
    assert "runs on this process only" not in text  # the notebook's strategy went to the workers
    assert "Traceback" not in text and "report failed" not in text
