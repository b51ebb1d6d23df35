"""vtn_lite under a fleet's polling load: GET /events with targets from another process.

Run: python bench/vtn_lite.py [--vens 10000] [--seconds 12] [--concurrency 32]
     python bench/vtn_lite.py --backend postgresql --workers 2 [--fanout 10000]
     python bench/vtn_lite.py --compare [--vens 100000] [--fanout 10000]

Setup: a SQLite file with VENS ven objects (business logic grants each one target of 100
groups), one price program with 24 events (half targeted to a group, half untargeted), and
POLLERS VEN client credentials. The server runs as a separate process (``vtn-lite serve``) on
127.0.0.1; this process polls it with aiohttp.

Phases (each bounded in time):
  1. baseline  - closed loop on GET /auth/server (no auth, no database): the HTTP ceiling.
  2. saturated - closed loop on GET /events?targets=group-N as VEN clients.
  3. paced     - open loop at the fleet's rate (VENS / 20 s polling interval, 500 req/s for
                 10,000 VENs): the latency a fleet sees.
Reports requests/s, p50/p99 latency, the events/baseline ratio and the server's RSS.

Storage and workers (``--backend``, ``--workers``, ``--compare``): the same phases on SQLite with
one worker and on a private PostgreSQL (hil/postgres.py) with one and with two workers; VENs are
bulk-loaded (``Storage.insert_many``) so 100,000 take seconds. ``--fanout N`` then measures one
event's notification to N webhook subscriptions (bulk-loaded, each its own callback URL on a
loopback aiohttp receiver in this process): the time from POST /events until the last arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._measure import percentile, status_mib  # noqa: E402
from bench._vtn_lite_scale import (  # noqa: E402
    bl_client_lines,
    bulk_vens,
    fanout,
    private_postgres,
    storage_lines,
    tree_rss_mib,
)
from vtn_lite.auth import Principal, hash_secret  # noqa: E402
from vtn_lite.service import Vtn  # noqa: E402
from vtn_lite.storage import open_storage  # noqa: E402

GROUPS = 100
EVENTS = 24
POLLERS = 100
POLL_INTERVAL_S = 20.0
# Low scrypt cost for the bench's throw-away credentials (setup speed only; the server's
# token checks are not part of the measured loop).
BENCH_SCRYPT_N = 2**10


def seed(database: str, vens: int) -> None:
    asyncio.run(_seed(database, vens))


async def _seed(database: str, vens: int) -> None:
    store = open_storage(database)
    await store.open()
    vtn = Vtn(store)
    bl = Principal("bench-bl", "bl")
    started = time.perf_counter()
    program = await vtn.create(bl, "PROGRAM", {"programName": "bench-prices"})
    now = time.time()
    for n in range(EVENTS):
        start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now + (n - 2) * 3600))
        body = {
            "programID": program["id"],
            "eventName": f"price-{n}",
            "intervalPeriod": {"start": start, "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.1 + n / 1000]}]}],
        }
        if n % 2:
            body["targets"] = [f"group-{n % GROUPS}"]
        await vtn.create(bl, "EVENT", body)
    await bulk_vens(store, vens, GROUPS)
    await store.close()
    print(f"seeded {vens} vens and {EVENTS} events in {time.perf_counter() - started:.1f} s")


def write_config(directory: Path, database: str, workers: int = 1) -> Path:
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        "port = 0",
        "token_lifetime = 3600",
        *storage_lines(database, workers),
        *bl_client_lines(BENCH_SCRYPT_N),
    ]
    for n in range(POLLERS):
        lines += [
            "[[clients]]",
            f'client_id = "ven-{n}"',
            f'secret_hash = "{hash_secret(f"secret-{n}", n=BENCH_SCRYPT_N)}"',
            'role = "ven"',
        ]
    path = directory / "vtn.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def closed_loop(
    session: aiohttp.ClientSession,
    requests: list[tuple[str, dict[str, str]]],
    seconds: float,
    concurrency: int,
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await timed_get(session, *random.choice(requests), latencies, errors)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return int(len(latencies) / elapsed), latencies, len(errors)


async def timed_get(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    latencies: list[float],
    errors: list[int],
) -> None:
    started = time.perf_counter()
    async with session.get(url, headers=headers) as response:
        await response.read()
        if response.status != 200:
            errors.append(response.status)
    latencies.append(time.perf_counter() - started)


async def paced(
    session: aiohttp.ClientSession,
    requests: list[tuple[str, dict[str, str]]],
    rate: float,
    seconds: float,
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors: list[int] = []
    tasks: set[asyncio.Task[None]] = set()
    began = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) - began < seconds:
        due = int((now - began) * rate)
        while sent < due:
            url, headers = random.choice(requests)
            task = asyncio.create_task(timed_get(session, url, headers, latencies, errors))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    return int(len(latencies) / (time.perf_counter() - began)), latencies, len(errors)


def report(name: str, rate: int, latencies: list[float], errors: int) -> None:
    print(
        f"{name:<10} {rate:>6} req/s  p50 {percentile(latencies, 0.5) * 1e3:6.2f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1e3:6.2f} ms"
        f"  ({len(latencies)} requests, {errors} errors)"
    )


async def drive(base: str, args: argparse.Namespace, pid: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=args.concurrency * 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        tokens = []
        for n in range(POLLERS):
            async with session.post(
                f"{base}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": f"ven-{n}",
                    "client_secret": f"secret-{n}",
                },
            ) as response:
                tokens.append((n, (await response.json())["access_token"]))
        events = [
            (
                f"{base}/events?targets=group-{n % GROUPS}&limit=50",
                {"Authorization": f"Bearer {token}"},
            )
            for n, token in tokens
        ]
        async with session.get(events[0][0], headers=events[0][1]) as response:
            visible = len(await response.json())
        print(f"each poll returns {visible} events (untargeted + the VEN's group)")
        baseline = [(f"{base}/auth/server", {})]
        base_rate, base_lat, base_err = await closed_loop(
            session, baseline, args.seconds / 3, args.concurrency
        )
        report("baseline", base_rate, base_lat, base_err)
        rate, lat, err = await closed_loop(session, events, args.seconds, args.concurrency)
        report("saturated", rate, lat, err)
        fleet_rate = args.paced_rate or args.vens / POLL_INTERVAL_S
        p_rate, p_lat, p_err = await paced(session, events, fleet_rate, args.seconds)
        report("paced", p_rate, p_lat, p_err)
        print(f"events/baseline throughput ratio: {rate / max(base_rate, 1):.2f}")
        print(f"server RSS: {status_mib(pid):.1f} MiB (all processes {tree_rss_mib(pid):.1f} MiB)")
        verdict = rate >= 500 and percentile(p_lat, 0.99) < 0.1
        print(
            f"target (>= 500 req/s saturated, p99 < 100 ms at {fleet_rate:.0f} req/s): "
            + ("met" if verdict else "NOT met")
        )
        figures = {
            "baseline": float(base_rate),
            "saturated": float(rate),
            "saturated_p99_ms": percentile(lat, 0.99) * 1e3,
            "paced_p99_ms": percentile(p_lat, 0.99) * 1e3,
        }
        if args.fanout:
            figures["fanout_s"] = await fanout(session, base, args.database, args.fanout)
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vens", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=0.0,
        help="paced phase rate, req/s (default: VENS / 20 s; 100,000 VENs would ask 5,000)",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="PostgreSQL only")
    parser.add_argument(
        "--compare", action="store_true", help="SQLite 1 worker, PostgreSQL 1 and 2 workers"
    )
    parser.add_argument(
        "--fanout", type=int, default=0, help="then notify this many webhook subscriptions"
    )
    args = parser.parse_args()
    runs = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)]
    if not args.compare:
        runs = [(args.backend, args.workers)]
    results: list[tuple[str, int, dict[str, float]]] = []
    with private_postgres(any(backend == "postgresql" for backend, _ in runs)) as postgres:
        for backend, workers in runs:
            print(f"--- {backend}, {workers} worker(s), {args.vens} VENs")
            with tempfile.TemporaryDirectory(prefix="vtn-bench-") as tmp:
                directory = Path(tmp)
                if backend == "sqlite":
                    args.database = str(directory / "vtn.sqlite")
                else:
                    assert postgres is not None
                    args.database = postgres.new_database("bench")
                figures = run_one(args, directory, workers)
            if figures is None:
                return 1
            results.append((backend, workers, figures))
    print("--- summary (saturated GET /events; fan-out to --fanout subscribers)")
    for backend, workers, figures in results:
        fan = f"  fan-out {figures['fanout_s']:.2f} s" if "fanout_s" in figures else ""
        print(
            f"{backend:<10} {workers} worker(s)  {figures['saturated']:7.0f} req/s"
            f"  p99 {figures['saturated_p99_ms']:6.1f} ms"
            f"  ({figures['saturated'] / max(figures['baseline'], 1):.2f} of baseline){fan}"
        )
    return 0


def run_one(args: argparse.Namespace, directory: Path, workers: int) -> dict[str, float] | None:
    database = args.database
    seed(database, args.vens)
    config = write_config(directory, database, workers)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "vtn_lite", "serve", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stderr is not None
        base = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not base:
            line = server.stderr.readline()
            if "3.1.0 at" in line:
                base = line.rsplit(" ", 1)[1].strip()
        if not base:
            print("server did not start", file=sys.stderr)
            return None
        # Keep draining the server's log so a full pipe never stalls it.
        threading.Thread(target=server.stderr.read, daemon=True).start()
        return asyncio.run(asyncio.wait_for(drive(base, args, server.pid), timeout=300))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


if __name__ == "__main__":
    sys.exit(main())
