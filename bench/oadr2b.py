"""OpenADR 2.0b mode: event latency at 10-s polling, the gateway's memory in 2.0b and OpenADR 3
mode, and what openleadr would cost against the gateway's own 2.0b wire.

Everything runs on 127.0.0.1: openleadr 0.5.36's ``OpenADRServer`` as the utility's 2.0b VTN
(plain HTTP lab mode, ``requested_poll_freq`` 10 s) and the simulated heater on a pty in this
process, the gateway as a ``ven-edge run`` subprocess (its RSS is its own).

1. Event created on the 2.0b VTN → the CTA-2045 command handled on the pty, at random phases of
   the 10-s poll (target: max ≤ poll interval + 250 ms). Baseline in the same run: the same
   command sent straight from a UCM session over the same pty.
2. The gateway's steady RSS in 2.0b mode (target ≤ 70 MB) and, against vtn_lite, in OpenADR 3
   mode (should be unchanged by the 2.0b code: nothing of it is imported there).
3. "Choose by measurement": a fresh interpreter's import time and RSS for openleadr's client
   (the library the runtime did not adopt), for the gateway's own 2.0b client (wire, engine,
   transport, signatures: ``ven_edge.oadr2b.link`` and ``xmlsig``), for asyncio + aiohttp
   (what both stand on) and for a bare interpreter, median of five each.

Run: ``.venv/bin/python bench/oadr2b.py`` (about 3 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._measure import status_mib  # noqa: E402
from bench.ven import Utility, direct_latencies, gateway, row  # noqa: E402
from bench.ven import write_config as write_oadr3_config  # noqa: E402
from hil.heater import DrEvent  # noqa: E402
from hil.sim import Simulator, run_simulator  # noqa: E402
from tests.conftest import free_port, wait_for  # noqa: E402
from tests.oadr2b import peer  # noqa: E402
from tests.oadr2b.peer import VEN_ID, VEN_NAME, UtilityVtn  # noqa: E402
from vtn_lite.server import demo_config, running_vtn  # noqa: E402

POLL_S = 10
RUNS = 5
DIRECT_RUNS = 10
POLL_EVERY_S = 0.002
SETTLE_S = 8.0
IMPORT_REPEATS = 5
RSS_TARGET_MB = 70.0


def write_config(workdir: Path, heater: Path, vtn_url: str) -> Path:
    path = workdir / "ven-edge.toml"
    path.write_text(
        f'[vtn]\nprotocol = "2.0b"\nurl = "{vtn_url}"\nven_name = "{VEN_NAME}"\n'
        f"poll_interval_s = {POLL_S}\n"
        f'[heater]\nport = "{heater}"\npoll_s = 5\n[web]\nport = {free_port()}\n'
        f'[state]\ndir = "{workdir / "state"}"\n[log]\nlevel = "warning"\n'
        # A bench machine's clock need not be NTP-synchronised (the daemon would hold).
        "[clock]\nrequire_sync = false\n"
    )
    return path


async def event_latencies(sim: Simulator, vtn: UtilityVtn, runs: int) -> list[float]:
    """Events created at a random phase of the poll; until the heater handles the Shed."""
    out = []
    rng = random.Random(2026)
    for _ in range(runs):
        await asyncio.sleep(rng.uniform(0, POLL_S))
        start = time.perf_counter()
        event_id = vtn.server.add_event(
            VEN_ID, "SIMPLE", "level",
            [{"dtstart": datetime.now(UTC), "duration": timedelta(hours=1), "signal_payload": 1}],
            callback=vtn.on_opt,
        )  # fmt: skip
        limit = POLL_S + 5
        await wait_for(lambda: sim.heater.event is DrEvent.SHED, limit, "Shed", POLL_EVERY_S)
        out.append(time.perf_counter() - start)
        vtn.server.cancel_event(VEN_ID, event_id)
        await wait_for(lambda: sim.heater.event is DrEvent.NONE, limit, "End Shed", POLL_EVERY_S)
    return out


async def steady_rss(proc: asyncio.subprocess.Process) -> float:
    await asyncio.sleep(SETTLE_S)
    first = status_mib(proc.pid)
    await asyncio.sleep(2.0)
    return max(first, status_mib(proc.pid))


@contextlib.asynccontextmanager
async def utility_2_0b() -> AsyncIterator[UtilityVtn]:
    async with peer.running_vtn(None, poll=timedelta(seconds=POLL_S)) as vtn:
        yield vtn


async def gateway_runs() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with run_simulator(work / "heater") as sim:
            results["direct"] = await direct_latencies(work / "heater", sim, DIRECT_RUNS)
            async with utility_2_0b() as vtn:
                config = write_config(work, sim.path, vtn.url)
                async with gateway(config) as proc:
                    results["rss_2_0b"] = await steady_rss(proc)
                    results["poll"] = await event_latencies(sim, vtn, RUNS)
            oa3 = work / "oa3"
            oa3.mkdir()
            async with running_vtn(demo_config(oa3, port=0, scrypt_n=2**4)) as lite:
                utility = await asyncio.to_thread(Utility, lite.base_url)
                config = write_oadr3_config(oa3, sim.path, lite.base_url, webhook=None)
                async with gateway(config) as proc:
                    results["rss_3"] = await steady_rss(proc)
                await asyncio.to_thread(utility.client.stop)
    return results


async def fresh(code: str) -> tuple[float, float]:
    """Seconds a fresh interpreter takes to run ``code`` (to the first output) and its RSS then."""
    program = f"{code}\nimport sys\nprint('ready', flush=True)\nsys.stdin.read()"
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", program,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    await proc.stdout.readline()
    took = time.perf_counter() - start
    try:
        return took, status_mib(proc.pid)
    finally:
        proc.stdin.close()
        await proc.wait()


IMPORTS = {
    "bare interpreter (baseline)": "pass",
    "asyncio + aiohttp": "import asyncio, aiohttp",
    # Like for like: the 2.0b client (wire, engine, transport, signatures) against openleadr's.
    "gateway 2.0b client": "import ven_edge.oadr2b.link, ven_edge.oadr2b.xmlsig",
    "openleadr 0.5.36 client": "from openleadr.client import OpenADRClient",
}


async def import_costs() -> dict[str, tuple[float, float]]:
    out = {}
    for name, code in IMPORTS.items():
        runs = [await fresh(code) for _ in range(IMPORT_REPEATS)]
        out[name] = (
            statistics.median(t for t, _ in runs),
            statistics.median(mb for _, mb in runs),
        )
    return out


def main() -> int:
    logging.getLogger("openleadr").setLevel(logging.ERROR)
    logging.getLogger("vtn_lite").setLevel(logging.ERROR)
    t_start = time.monotonic()
    results = asyncio.run(gateway_runs())
    ms = {k: [1000 * v for v in results[k]] for k in ("direct", "poll")}
    print(f"== Event created on openleadr's 2.0b VTN -> CTA-2045 command on the pty "
          f"({POLL_S}-s polling, {RUNS} events at random phases)")  # fmt: skip
    print(row("UCM alone (baseline)", ms["direct"]))
    print(row("2.0b poll", ms["poll"]))
    limit = POLL_S * 1000 + 250
    worst = max(ms["poll"])
    print(f"{'poll target':>22}: max {worst:.0f} ms <= {limit} ms: "
          f"{'met' if worst <= limit else 'MISSED'}")  # fmt: skip
    print("== The gateway process (ven-edge run), steady RSS")
    rss = results["rss_2_0b"]
    print(f"{'2.0b mode':>22}: {rss:.1f} MB (target <= {RSS_TARGET_MB:.0f} MB: "
          f"{'met' if rss <= RSS_TARGET_MB else 'MISSED'})")  # fmt: skip
    print(f"{'OpenADR 3 mode':>22}: {results['rss_3']:.1f} MB (no 2.0b module loaded)")
    costs = asyncio.run(import_costs())
    base_s, base_mb = costs["bare interpreter (baseline)"]
    print(f"== Import cost, fresh interpreter, median of {IMPORT_REPEATS}")
    for name, (took, mb) in costs.items():
        print(f"{name:>28}: {1000 * took:6.0f} ms ({1000 * (took - base_s):+6.0f} ms), "
              f"{mb:5.1f} MB RSS ({mb - base_mb:+5.1f} MB)")  # fmt: skip
    ours, theirs = costs["gateway 2.0b client"], costs["openleadr 0.5.36 client"]
    print(f"{'openleadr / gateway client':>28}: "
          f"{(theirs[0] - base_s) / max(ours[0] - base_s, 1e-3):.1f}x the import time, "
          f"{(theirs[1] - base_mb) / max(ours[1] - base_mb, 1e-3):.1f}x the RSS over a bare "
          "interpreter")  # fmt: skip
    print(f"(total {time.monotonic() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
