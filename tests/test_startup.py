"""Start-up stays light: the command line, `--help`, `--version` and `validate` import none of
the heavy libraries (issue 13: they are imported inside the commands that use them). Checked
in a fresh interpreter, by the modules it has loaded, not by time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "scipy", "dask", "distributed", "mesa", "pandas", "tqdm")

PROBE = """
import sys
{code}
print(",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""

COMMAND = """
from market_sim.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
print(status)
"""


def loaded_heavy(code: str, *args: str) -> tuple[str, list[str]]:
    """Run `code` in a fresh interpreter: (its output before the last line, heavy modules loaded)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    *output, last = result.stdout.removesuffix("\n").split("\n")
    return "\n".join(output), [name for name in last.split(",") if name]


def test_importing_the_command_line_loads_nothing_heavy():
    assert loaded_heavy("import market_sim.cli") == ("", [])


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"], ["sweep", "--help"]])
def test_help_and_version_load_nothing_heavy(args):
    output, heavy = loaded_heavy(COMMAND, *args)
    assert heavy == []
    assert output.endswith("\n0")  # argparse exits 0 after printing


@pytest.mark.parametrize(
    "scenario",
    [
        "scenarios/holiday_market.yaml",
        "scenarios/lessons/02_cost_plus_vs_demand_response.yaml",
        "scenarios/lessons/04_discrimination.yaml",
        "scenarios/lessons/06_scarcity.yaml",
    ],
)
def test_validate_loads_nothing_heavy(scenario):
    """Loading checks every strategy class (learning, inventory-aware, oracles): their scipy waits."""
    output, heavy = loaded_heavy(COMMAND, "validate", scenario)
    assert heavy == []
    assert ": ok: " in output and output.endswith("\n0")


def test_validate_of_a_broken_file_loads_nothing_heavy(tmp_path):
    broken = tmp_path / "broken.yaml"
    text = (ROOT / "scenarios" / "logit_duopoly.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("\ndays:", "\ndayz:", 1), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=COMMAND, heavy=HEAVY), "validate", str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    *_, status, heavy = result.stdout.removesuffix("\n").split("\n")
    assert (status, heavy) == ("2", "")
    assert "dayz" in result.stderr and "Traceback" not in result.stderr


def test_libraries_load_without_collections_then_stay_out_of_them():
    """`loading.libraries()`: no garbage collection while a library loads (a full one goes over
    every object), then what the process holds is frozen (later collections pass it by)."""
    import gc

    from market_sim import loading

    frozen = gc.get_freeze_count()
    with loading.libraries():
        assert not gc.isenabled()
        made = [[index] for index in range(5000)]  # objects the collector tracks
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(made)
    gc.disable()  # off already: left off
    try:
        with loading.libraries():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


FROZEN = """
import gc
from market_sim import fast
assert fast.kernels() is not None
print(gc.get_freeze_count(), gc.isenabled())
"""


def test_the_kernels_load_without_collections():
    """numba's objects (the compiled kernels) are frozen once loaded, the collector on again."""
    pytest.importorskip("numba")
    compiled = {**os.environ, "MARKET_SIM_NUMPY": "0"}
    result = subprocess.run(
        [sys.executable, "-c", FROZEN], cwd=ROOT, env=compiled, capture_output=True, text=True, check=True
    )
    frozen, collecting = result.stdout.split()
    assert int(frozen) > 20_000 and collecting == "True"
