"""The live dashboard: a market to watch and turn knobs on, in the browser, offline.

`model.py` holds the dashboard's model (the batch engine's `MarketModel` with knobs and a
day-by-day record; no browser libraries); `app.py` the page (Mesa's SolaraViz, imported only
when the dashboard is served, from the optional extra `dashboard`). `serve` starts Solara's
server on 127.0.0.1; the page's front-end files come from the virtual environment
(`scripts/install_dashboard_assets.sh` puts them there), never from the network.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SCENARIO_VARIABLE = "MARKET_SIM_DASHBOARD_SCENARIO"
ASSETS = (  # the front-end packages Solara's page loads, as installed by the script
    "@widgetti/solara-vuetify-app@10.1.1",
    "requirejs@2.3.6",
    "font-awesome@4.5.0",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
)
EXTRA = "pip install -e '.[dashboard]' && scripts/install_dashboard_assets.sh"


class NotInstalled(Exception):
    """The dashboard's optional parts are missing; the message says how to install them."""


def missing_parts() -> list[str]:
    """What the dashboard needs and does not find: Python packages, then front-end files."""
    missing = [name for name in ("solara", "mesa.visualization") if not _importable(name)]
    cdn = Path(sys.prefix) / "share" / "solara" / "cdn"
    missing += [
        f"front-end files {asset}" for asset in ASSETS if not (cdn / asset / "package.json").is_file()
    ]
    return missing


def serve(scenario: Path, port: int) -> int:
    """Run the dashboard for `scenario` on http://127.0.0.1:PORT until interrupted; return the
    server's exit status."""
    missing = missing_parts()
    if missing:
        raise NotInstalled(f"the dashboard needs {', '.join(missing)}: {EXTRA}")
    environment = {
        **os.environ,
        SCENARIO_VARIABLE: str(scenario.resolve()),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no calls home
        "SOLARA_ASSETS_PROXY": "True",  # front-end files from the local folder
    }
    command = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "market_sim.dashboard.app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--production",
        "--no-open",
    ]
    print(f"dashboard of {scenario} on http://127.0.0.1:{port} (Ctrl-C stops it)", flush=True)
    return subprocess.call(command, env=environment)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
