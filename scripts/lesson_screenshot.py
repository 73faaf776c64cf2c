"""Regenerate README's picture of the top of lesson 4's report (scenarios/lessons/report-lesson-4.png):
run the lesson, then photograph its report in headless Chromium.

    .venv/bin/python scripts/lesson_screenshot.py [--browser chromium]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "scenarios" / "lessons" / "04_discrimination.yaml"
PICTURE = ROOT / "scenarios" / "lessons" / "report-lesson-4.png"
WINDOW = "1280,1300"  # the verdict, the lesson notes and the ranking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", default="chromium", help="a Chromium-like browser (default: chromium)")
    parser.add_argument("--out", type=Path, default=PICTURE, help=f"the picture (default: {PICTURE})")
    args = parser.parse_args(argv)
    browser = shutil.which(args.browser)
    if browser is None:
        print(f"{args.browser} not found: install Debian's chromium or pass --browser", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from market_sim.cli import main as market_sim

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "lesson4"
        if market_sim(["run", str(LESSON), "--out", str(folder), "--quiet"]) != 0:
            return 1
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
        flags += [f"--user-data-dir={Path(scratch) / 'profile'}", f"--window-size={WINDOW}"]
        flags += [f"--screenshot={args.out.resolve()}", (folder / "report.html").as_uri()]
        subprocess.run([browser, *flags], check=True, capture_output=True, timeout=120)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
