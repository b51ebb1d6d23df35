"""`python -m hil.demo` (`make demo`) starts the whole system, the page answers, and Ctrl-C
stops it cleanly, removing its working folder; the terminal's log lines carry the demo's clock, as
the page does."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

from tests.conftest import REPO_ROOT, free_port

START_LIMIT_S = 40.0
STOP_LIMIT_S = 20.0


def console_vens(origin: str) -> set[str]:
    """The VEN names the demo console lists, once all four are registered."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{origin}/console/login", timeout=5) as r:
        token = re.search(r'name="csrf" value="([^"]+)"', r.read().decode())
    assert token is not None
    form = urlencode({"user": "operator", "password": "operator-demo", "csrf": token.group(1)})
    opener.open(f"{origin}/console/login", data=form.encode(), timeout=5).close()
    deadline = time.monotonic() + START_LIMIT_S
    names: set[str] = set()
    while time.monotonic() < deadline and len(names) < 4:
        with opener.open(f"{origin}/console/vens", timeout=5) as r:
            names = set(re.findall(r'href="/console/vens/[^"]+">([^<]+)</a>', r.read().decode()))
        time.sleep(0.3)
    return names


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} (?:INFO|WARNING|ERROR) ", re.M)


def test_demo_starts_serves_the_page_and_stops_on_sigint(tmp_path: Path) -> None:
    web, vtn, hook = free_port(), free_port(), free_port()
    # No --dir: the demo makes its own working folder (in TMPDIR) and must remove it.
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TMPDIR=str(tmp_path), TZ="UTC")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "hil.demo", "--speed", "600",
            "--web-port", str(web), "--vtn-port", str(vtn), "--webhook-port", str(hook),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        status = None
        deadline = time.monotonic() + START_LIMIT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/status", timeout=2) as r:
                    status = json.load(r)
                if (
                    status["plan"]["intervals"]
                    and status["health"]["vtn"]["ok"]
                    and status["plan"]["price_unit"]
                ):
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert status is not None, "the status page never answered"
        assert status["health"]["vtn"]["ok"] is True
        assert status["health"]["vtn"]["ven_id"]
        assert status["plan"]["intervals"], "no plan on the page"
        assert status["generated_at"].startswith("2026-02-17")  # the demo's clock
        # The simulated clock is never held for synchronisation, whatever the host's clock.
        assert status["gateway"]["clock_synchronised"] is True
        # The unit as the VTN gave it (sample_data/) and the program's name as the demo named it.
        assert status["plan"]["price_unit"] == "USD/KWH"
        events = [e for e in status["events"].values() if e is not None]
        assert events
        assert all(e["program_name"] == "etou-dyn" for e in events)  # demo.PROGRAM_NAME
        # The command list covers the plan's horizon from now, without gaps.
        commands = status["plan"]["commands"]
        assert commands[0]["start"] == status["generated_at"]
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(commands))
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=2) as r:
            assert b"<html" in r.read().lower()
        # The operator console lists the demo's gateway and its small fleet.
        listed = console_vens(f"http://127.0.0.1:{vtn}")
        assert {"ven-edge", "fleet-1", "fleet-2", "fleet-3"} <= listed, listed
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=STOP_LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "Status page:" in out
    assert "ven-edge demo stopped." in out
    assert "Traceback" not in out
    assert "Working dir:  " + str(tmp_path) in out
    assert list(tmp_path.iterdir()) == [], "the demo left its working folder behind"
    stamps = LOG_TIME.findall(out)
    assert stamps, out
    # The demo clock starts at 2026-02-17 18:00 UTC; the wall clock is years away from it.
    assert all("2026-02-17 18:00:00" <= stamp < "2026-02-19" for stamp in stamps), stamps
