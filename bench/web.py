"""Status page API figures: snapshot serialisation, /api/status latency, long-poll wake-up.

Run: python bench/web.py. Everything runs in one process on 127.0.0.1; the baseline is the same
aiohttp server answering a constant ``{}`` so the ratio shows what the status document costs.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._measure import percentile
from tests.web.snapshots import ZONE, FakeProvider, make_snapshot, saving_snapshot
from ven_edge.web.app import VERSION_HEADER, StatusNotifier, create_app, start_web

REQUESTS = 400
WAKEUPS = 100


def bench_serialise() -> None:
    snapshot = make_snapshot()
    runs = 300
    started = time.perf_counter()
    for _ in range(runs):
        body = json.dumps(snapshot.as_json(ZONE))
    per_call = (time.perf_counter() - started) / runs
    print(f"snapshot -> JSON ({len(snapshot.plan.intervals)} plan steps): {per_call * 1e3:.3f} ms")
    raw = body.encode()
    print(f"JSON size: {len(raw)} bytes, gzip {len(gzip.compress(raw))} bytes")


async def timed_gets(session: aiohttp.ClientSession, url: str) -> list[float]:
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
        times.append(time.perf_counter() - started)
    return times


async def bench_http() -> None:
    notifier = StatusNotifier()
    provider = FakeProvider(make_snapshot(), notifier)
    app = create_app(provider, notifier=notifier, tz=ZONE)

    async def constant(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/baseline", constant)
    runner, _ = await start_web(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as session:
            await timed_gets(session, base + "/baseline")  # warm up
            baseline = await timed_gets(session, base + "/baseline")
            status = await timed_gets(session, base + "/api/status")
            b, s = statistics.median(baseline), statistics.median(status)
            print(
                f"GET /baseline   median {b * 1e3:.2f} ms,"
                f" p99 {percentile(baseline, 0.99) * 1e3:.2f} ms"
            )
            print(
                f"GET /api/status median {s * 1e3:.2f} ms,"
                f" p99 {percentile(status, 0.99) * 1e3:.2f} ms"
                f"  ({s / b:.1f}x baseline; {1 / s:.0f} requests/s sequential)"
            )

            wakeups = []
            snapshots = [saving_snapshot(), make_snapshot()]
            for i in range(WAKEUPS):
                async with session.get(base + "/api/status") as resp:
                    version = resp.headers[VERSION_HEADER]
                url = f"{base}/api/status?since={version}&wait=10"
                request = asyncio.ensure_future(session.get(url))
                await asyncio.sleep(0.005)  # the request is waiting on the server
                started = time.perf_counter()
                provider.set(snapshots[i % 2])
                resp = await request
                await resp.read()
                resp.release()
                wakeups.append(time.perf_counter() - started)
            print(
                f"long-poll change -> response: median {statistics.median(wakeups) * 1e3:.2f} ms, "
                f"p99 {percentile(wakeups, 0.99) * 1e3:.2f} ms ({WAKEUPS} changes)"
            )
    finally:
        await runner.cleanup()


def main() -> None:
    bench_serialise()
    asyncio.run(bench_http())


if __name__ == "__main__":
    main()
