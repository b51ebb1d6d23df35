"""What ``ven-edge run`` keeps out of memory (docs/gateway.md "Figures": the daemon's RSS ≤ 45 MB).

pydantic and the OpenADR wire models are for vtn_lite and the tests; the daemon writes its report
bodies by hand (ven_edge.oadr3.reports). importlib.metadata would bring zipfile, shutil, csv,
bz2 and lzma for one version string. Together they cost about 10 MB of RSS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO_ROOT

#: Modules the daemon must not load, each made unnecessary on purpose (see the docstring).
KEPT_OUT = (
    "pydantic",
    "pydantic_core",
    "vtn_lite",  # the lab VTN and its pydantic wire models (vtn_lite.wire)
    "importlib.metadata",
    "zipfile",
    "difflib",  # only for "did you mean" in configuration errors
    "paho",  # only when the VTN offers MQTT (ven_edge/oadr3/mqttpush.py)
)

# The run path end to end, short of serving: the CLI, the configuration, every part serve()
# builds (heater link, VTN client with webhook, planner, status page, logging) and a report.
_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import UTC, datetime
    from ven_edge.cli import build_parser
    from ven_edge.clock import WallClock
    from ven_edge.config import load_config
    from ven_edge.logsetup import configure_logging
    from ven_edge.oadr3.reportbodies import operating_state_report
    from ven_edge.run import build_grid, build_heater, planner_for
    from ven_edge.store import StateStore

    args = build_parser().parse_args(["run", "--config", sys.argv[1]])
    config = load_config(args.config)
    configure_logging(config.log.level)

    async def build():
        from ven_edge.web.app import StatusNotifier, create_app

        build_heater(config)
        grid = build_grid(config, StateStore(config.state.dir), WallClock())
        assert grid is not None
        planner_for(config)
        create_app(lambda: None, notifier=StatusNotifier())

    asyncio.run(build())
    operating_state_report(
        state="IDLE_NORMAL", at=datetime.now(UTC), event_id="e1", client_name="ven",
        resource_name="heater", name="ven/e1/OPERATING_STATE/0",
    )
    print(json.dumps(sorted(sys.modules)))
    """
)


def _loaded_by_the_run_path(tmp_path: Path) -> set[str]:
    config = tmp_path / "ven-edge.toml"
    config.write_text(
        '[vtn]\nurl = "http://127.0.0.1:9/"\nclient_id = "c"\nclient_secret = "s"\n'
        "[vtn.webhook]\nenabled = true\nport = 9\n"
        'public_url = "http://127.0.0.1:9/oadr3/notify"\n'
        f'[heater]\nport = "{tmp_path / "pty"}"\n'
        f'[state]\ndir = "{tmp_path / "state"}"\n'
    )
    config.chmod(0o600)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    import json

    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_daemon_does_not_load_what_it_does_not_need(tmp_path: Path) -> None:
    loaded = _loaded_by_the_run_path(tmp_path)
    # The run path really was walked: its parts are there.
    for needed in ("aiohttp.web", "ven_edge.grid_port", "ven_edge.oadr3.reports", "serial"):
        assert needed in loaded
    assert sorted(set(KEPT_OUT) & loaded) == []
