"""vtn_lite under a fleet's polling load: realistic GET /events against bare-aiohttp ceilings.

Run: python bench/vtn_lite.py [--vens 10000] [--seconds 8] [--concurrency 8]
     python bench/vtn_lite.py --backend postgresql --workers 2 [--fanout 10000]
     python bench/vtn_lite.py --compare [--vens 100000] [--fanout 10000]
     python bench/vtn_lite.py --scale [--vens 100000] [--sample 1000] [--requests 20000]
     python bench/vtn_lite.py --mqtt-fanout [--vens 10000]   (bench/vtn_lite_mqtt.py)

Setup: a SQLite file with VENS ven objects (business logic grants each one target of GROUPS
groups), one price program, and events with 24 hourly PRICE intervals each: 10 untargeted and
10 per group, so every VEN's view holds 20 active events (about 33 KB per GET /events). The
server runs as a separate process (``vtn-lite serve``) on 127.0.0.1, and so does a bare aiohttp
app serving the same view two ways: serialised per request (``json.dumps`` of the parsed list)
and as cached bytes. This process polls each with aiohttp, one phase after the other.

Phases (closed loop, CONCURRENCY pollers, each bounded in time):
  1. ceiling-serialise - the bare handler that serialises the list per request.
  2. ceiling-cached    - the bare handler returning the same bytes, cached.
  3. vtn_lite 200      - GET /events?targets=group-N&active=true as VEN clients, no ETag.
  4. vtn_lite 304      - the same with If-None-Match: the views are unchanged, so 304s.
  5. paced             - open loop at the fleet's rate (VENS / 20 s polling interval), with
                         If-None-Match as the gateway sends it: the latency a fleet sees.
Reports req/s and p50/p99 per phase, the ratios against the ceilings and the server's RSS, and
on PostgreSQL the database transactions the 304 phase cost (a count the load does not change).
Before them, in this process, the cost of building one view without the cache (a cache miss,
as after every write): spliced from stored text, parsed and re-serialised as before, and a
bare ``json.dumps`` of the same list.
Targets: 200s at >= 50 % of the serialising ceiling, 304s at >= 50 % of the cached ceiling.

Storage and workers (``--backend``, ``--workers``, ``--compare``): the same phases on SQLite with
one worker and on a private PostgreSQL (hil/postgres.py) with one and with two workers; VENs are
bulk-loaded (``Storage.insert_many``) so 100,000 take seconds. ``--fanout N`` then measures one
event's notification to N webhook subscriptions (bulk-loaded, each its own callback URL on
loopback receivers): the time from POST /events until the last arrives.

Utility scale (``--scale``): VENS (default 100,000) registered on each of the three setups, one
after the other in one run; a random SAMPLE of them (each its own client and token) polls, and
every phase is a fixed number of requests (REQUESTS, default 20,000) rather than a time, so the
run is bounded and the setups are compared on the same work. Per setup: req/s and p99 of 200s
and 304s, as ratios to the serialising and cached-bytes ceilings measured in the same setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._measure import percentile, status_mib  # noqa: E402
from bench._vtn_lite_scale import (  # noqa: E402
    bl_client_lines,
    bulk_vens,
    committed_transactions,
    fanout,
    private_postgres,
    storage_lines,
    tree_rss_mib,
)
from vtn_lite import bodytext, jsonstrict  # noqa: E402
from vtn_lite.api301 import Api301  # noqa: E402
from vtn_lite.auth import Principal, hash_secret  # noqa: E402
from vtn_lite.service import SearchParams, Vtn  # noqa: E402
from vtn_lite.storage import StoredObject, open_storage  # noqa: E402

GROUPS = 100
UNTARGETED_EVENTS = 10
EVENTS_PER_GROUP = 10
INTERVALS = 24
POLLERS = 100
POLL_INTERVAL_S = 20.0
# Low scrypt cost for the bench's throw-away credentials (setup speed only; the server's
# token checks are not part of the measured loop).
BENCH_SCRYPT_N = 2**10

Request = tuple[str, dict[str, str]]


def price_event(program_id: str, name: str, start: float, targets: list[str]) -> dict[str, object]:
    """A day-ahead price event: 24 hourly PRICE intervals, as a utility publishes them."""
    body: dict[str, object] = {
        "programID": program_id,
        "eventName": name,
        "intervalPeriod": {
            "start": time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(start)),
            "duration": "PT1H",
        },
        "intervals": [
            {
                "id": hour,
                "payloads": [{"type": "PRICE", "values": [round(0.08 + 0.3 * random.random(), 5)]}],
            }
            for hour in range(INTERVALS)
        ],
    }
    if targets:
        body["targets"] = targets
    return body


def seed(database: str, vens: int) -> None:
    asyncio.run(_seed(database, vens))


async def _seed(database: str, vens: int) -> None:
    store = open_storage(database)
    await store.open()
    vtn = Vtn(store)
    bl = Principal("bench-bl", "bl")
    started = time.perf_counter()
    program = await vtn.create(bl, "PROGRAM", {"programName": "bench-prices"})
    start = time.time() - 3600  # began an hour ago, ends in 23 hours: active
    for n in range(UNTARGETED_EVENTS):
        await vtn.create(bl, "EVENT", price_event(program["id"], f"all-{n}", start, []))
    for group in range(GROUPS):
        for n in range(EVENTS_PER_GROUP):
            body = price_event(program["id"], f"g{group}-{n}", start, [f"group-{group}"])
            await vtn.create(bl, "EVENT", body)
    # Each VEN granted group-(n % GROUPS), written in bulk (as business logic's PUTs would).
    await bulk_vens(store, vens, GROUPS)
    await store.close()
    events = UNTARGETED_EVENTS + GROUPS * EVENTS_PER_GROUP
    print(f"seeded {vens} vens and {events} events in {time.perf_counter() - started:.1f} s")


def assembly_costs(database: str, rounds: int = 100) -> None:
    asyncio.run(_assembly_costs(database, rounds))


async def _assembly_costs(database: str, rounds: int) -> None:
    """Per-view build cost without the view cache, against a bare json.dumps of the list."""
    store = open_storage(database)
    await store.open()
    vtn = Vtn(store)
    ven = Principal("ven-0", "ven")
    params = SearchParams(targets=("group-0",), active=True)
    listed = json.loads(bodytext.json_array(await vtn.search_texts(ven, "EVENT", params)))

    async def spliced() -> bytes:
        return bodytext.json_array(await vtn.search_texts(ven, "EVENT", params))

    async def reserialised() -> bytes:
        return jsonstrict.dumps(await vtn.search(ven, "EVENT", params)).encode()

    async def bare() -> bytes:
        return json.dumps(listed, separators=(",", ":")).encode()

    api = Api301(vtn, notifier=None)  # type: ignore[arg-type]  # no writes here
    params_301 = SearchParams(targets=("group-0",), active=True, read_all=True)

    async def rows_301() -> list[StoredObject]:
        return await vtn.search_rows(ven, "EVENT", params_301)

    async def spliced_301() -> bytes:
        rows = await rows_301()
        return bodytext.json_array([await api.text_out(ven, row, params_301) for row in rows])

    async def translated_301() -> bytes:
        rows = await vtn.rendered(ven, await rows_301(), params_301)
        return jsonstrict.dumps([await api.body_out(ven, obj, body) for obj, body in rows]).encode()

    ways = {
        "spliced from stored text": spliced,
        "parsed and re-serialised": reserialised,
        "bare json.dumps of the list": bare,
        "3.0.1 spliced (kept texts)": spliced_301,
        "3.0.1 translated": translated_301,
    }
    for name, build in ways.items():
        started = time.perf_counter()
        for _ in range(rounds):
            await build()
        print(f"view build, {name:<28} {(time.perf_counter() - started) / rounds * 1e3:6.3f} ms")
    await store.close()


def write_config(
    directory: Path, database: str, workers: int = 1, clients: Sequence[int] = range(POLLERS)
) -> Path:
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        "port = 0",
        "token_lifetime = 3600",
        # The whole polling sample asks for its tokens from one loopback address.
        "auth_rate_per_address = 0",
        *storage_lines(database, workers),
        *bl_client_lines(BENCH_SCRYPT_N),
    ]
    for n in clients:
        lines += [
            "[[clients]]",
            f'client_id = "ven-{n}"',
            f'secret_hash = "{hash_secret(f"secret-{n}", n=BENCH_SCRYPT_N)}"',
            'role = "ven"',
        ]
    path = directory / "vtn.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


CEILING_APP = """
import json, sys
from aiohttp import web
view = json.loads(open(sys.argv[1], encoding="utf-8").read())
cached = json.dumps(view, separators=(",", ":")).encode()
async def serialise(request):
    return web.Response(body=json.dumps(view, separators=(",", ":")).encode(),
                        content_type="application/json")
async def bytes_(request):
    return web.Response(body=cached, content_type="application/json")
app = web.Application()
app.router.add_get("/serialise", serialise)
app.router.add_get("/cached", bytes_)
def started(_):  # run_app calls this once the socket is listening
    print("ceiling at http://127.0.0.1:" + sys.argv[2], file=sys.stderr, flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=started, access_log=None)
"""


@contextmanager
def server_process(args: list[str], marker: str) -> Iterator[tuple[str, int]]:
    """A server subprocess; yields the last word of its first stderr line holding ``marker``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        found = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not found:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            if marker in line:
                found = line.rsplit(" ", 1)[1].strip()
        if not found:
            raise RuntimeError(f"{args[:3]} did not start")
        # Keep draining the server's log so a full pipe never stalls it.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield found, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


async def closed_loop(
    session: aiohttp.ClientSession,
    requests: list[Request],
    seconds: float,
    concurrency: int,
    expect: int,
    count: int | None = None,
) -> tuple[int, list[float], int]:
    """Phase of ``seconds``, or of ``count`` requests (``seconds`` then bounds it)."""
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.perf_counter() + seconds
    started = [0]

    async def worker() -> None:
        while time.perf_counter() < deadline and (count is None or started[0] < count):
            started[0] += 1
            await timed_get(session, *random.choice(requests), latencies, errors, expect)

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
    expect: int,
) -> None:
    started = time.perf_counter()
    async with session.get(url, headers=headers) as response:
        await response.read()
        if response.status != expect:
            errors.append(response.status)
    latencies.append(time.perf_counter() - started)


async def paced(
    session: aiohttp.ClientSession,
    requests: list[Request],
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
            task = asyncio.create_task(timed_get(session, url, headers, latencies, errors, 304))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    return int(len(latencies) / (time.perf_counter() - began)), latencies, len(errors)


def report(name: str, rate: int, latencies: list[float], errors: int) -> None:
    print(
        f"{name:<18} {rate:>6} req/s  p50 {percentile(latencies, 0.5) * 1e3:6.2f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1e3:6.2f} ms"
        f"  ({len(latencies)} requests, {errors} errors)"
    )


async def tokens_of(
    session: aiohttp.ClientSession, base: str, clients: Sequence[int]
) -> list[tuple[int, str]]:
    tokens = []
    for n in clients:
        form = {
            "grant_type": "client_credentials",
            "client_id": f"ven-{n}",
            "client_secret": f"secret-{n}",
        }
        async with session.post(f"{base}/auth/token", data=form) as response:
            tokens.append((n, (await response.json())["access_token"]))
    return tokens


async def views(
    session: aiohttp.ClientSession, base: str, clients: Sequence[int] = range(POLLERS)
) -> tuple[list[Request], list[Request], bytes]:
    """Each poller's GET /events, without and with the If-None-Match of its current view, and
    the first poller's view."""
    plain: list[Request] = []
    conditional: list[Request] = []
    first = b""
    for n, token in await tokens_of(session, base, clients):
        url = f"{base}/events?targets=group-{n % GROUPS}&active=true&limit=50"
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(url, headers=headers) as response:
            body = await response.read()
            etag = response.headers["ETag"]
        if not first:
            first = body
            print(f"each poll returns {len(json.loads(body))} events, {len(body):,} bytes")
        plain.append((url, headers))
        conditional.append((url, {**headers, "If-None-Match": etag}))
    return plain, conditional, first


async def drive(
    base: str,
    ceiling: str,
    args: argparse.Namespace,
    pid: int,
    plain: list[Request],
    conditional: list[Request],
) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=args.concurrency * 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        phases = (
            ("ceiling-serialise", [(f"{ceiling}/serialise", {})], 200),
            ("ceiling-cached", [(f"{ceiling}/cached", {})], 200),
            ("vtn_lite 200", plain, 200),
            ("vtn_lite 304", conditional, 304),
        )
        figures: dict[str, float] = {}
        for name, requests, expect in phases:
            counted = await committed_transactions(args.database) if expect == 304 else None
            # At once again, with nothing else running: what a count itself costs.
            before = (
                await committed_transactions(args.database, settle=1.5)
                if counted is not None
                else None
            )
            rate, latencies, errors = await closed_loop(
                session, requests, args.seconds, args.concurrency, expect, args.requests
            )
            report(name, rate, latencies, errors)
            if counted is not None and before is not None:
                # A count costs transactions itself: as many as between the two counts before.
                own = before - counted
                spent = (await committed_transactions(args.database) or 0) - before - own
                figures["transactions per 304"] = spent / max(len(latencies), 1)
                print(
                    f"{'':<18} database transactions during the 304s: {spent}"
                    f" ({spent / max(len(latencies), 1):.3f} per request)"
                )
            figures[name] = rate
            figures[f"{name} p99 ms"] = percentile(latencies, 0.99) * 1e3
            figures[f"{name} errors"] = errors
        if args.scale:
            print(f"server RSS: all processes {tree_rss_mib(pid):.1f} MiB")
            return figures
        fleet_rate = args.paced_rate or args.vens / POLL_INTERVAL_S
        p_rate, p_lat, p_err = await paced(session, conditional, fleet_rate, args.seconds)
        report(f"paced {fleet_rate:.0f}/s 304", p_rate, p_lat, p_err)
        figures["paced p99 ms"] = percentile(p_lat, 0.99) * 1e3
        print(f"server RSS: {status_mib(pid):.1f} MiB (all processes {tree_rss_mib(pid):.1f} MiB)")
        if args.fanout:
            figures["fanout_s"] = await fanout(session, base, args.database, args.fanout)
    full = figures["vtn_lite 200"] / max(figures["ceiling-serialise"], 1)
    unchanged = figures["vtn_lite 304"] / max(figures["ceiling-cached"], 1)
    print(f"vtn_lite 200 / serialising ceiling: {full:.0%} (target >= 50 %)")
    print(f"vtn_lite 304 / cached-bytes ceiling: {unchanged:.0%} (target >= 50 %)")
    print("targets " + ("met" if full >= 0.5 and unchanged >= 0.5 else "NOT met"))
    return figures


async def prepare(
    base: str, clients: Sequence[int] = range(POLLERS)
) -> tuple[list[Request], list[Request], bytes]:
    async with aiohttp.ClientSession() as session:
        return await views(session, base, clients)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vens", type=int, help="default 10,000 (--scale: 100,000)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
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
    parser.add_argument(
        "--mqtt-fanout",
        action="store_true",
        help="instead: one event's MQTT notification to --vens subscribed VENs (vtn_lite_mqtt.py)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the three setups of --compare, a sample of VENs polling, fixed request counts",
    )
    parser.add_argument("--sample", type=int, default=1000, help="--scale: VENs that poll")
    parser.add_argument("--requests", type=int, help="--scale: requests per phase (20,000)")
    args = parser.parse_args()
    args.vens = args.vens or (100_000 if args.scale else 10_000)
    if args.scale:
        args.requests = args.requests or 20_000
        # The time bound of a phase of REQUESTS requests: generous, the machine may be shared.
        args.seconds = max(args.seconds, 600.0)
    if args.mqtt_fanout:
        from bench.vtn_lite_mqtt import main as mqtt_fanout

        return mqtt_fanout(["--vens", str(args.vens)])
    runs = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)]
    # The polling VENs: the first POLLERS, or (--scale) a sample of the whole fleet.
    clients: Sequence[int] = range(POLLERS)
    if args.scale:
        clients = sorted(random.Random(1).sample(range(args.vens), min(args.sample, args.vens)))
    if not (args.compare or args.scale):
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
                results.append((backend, workers, run_one(args, directory, workers, clients)))
    if args.scale:
        scale_summary(args, results, len(clients))
        return 0
    print("--- summary (closed loop GET /events, 200 and 304; fan-out to --fanout subscribers)")
    for backend, workers, figures in results:
        fan = f"  fan-out {figures['fanout_s']:.2f} s" if "fanout_s" in figures else ""
        if "transactions per 304" in figures:
            fan += f"  {figures['transactions per 304']:.3f} db transactions per 304"
        print(
            f"{backend:<10} {workers} worker(s)  200: {figures['vtn_lite 200']:6.0f} req/s"
            f" ({figures['vtn_lite 200'] / max(figures['ceiling-serialise'], 1):.0%} of ceiling)"
            f"  304: {figures['vtn_lite 304']:6.0f} req/s"
            f" ({figures['vtn_lite 304'] / max(figures['ceiling-cached'], 1):.0%} of ceiling){fan}"
        )
    return 0


def scale_summary(
    args: argparse.Namespace, results: list[tuple[str, int, dict[str, float]]], sample: int
) -> None:
    print(
        f"--- summary: {args.vens} VENs, {sample} of them polling, {args.requests} requests per"
        f" phase, {args.concurrency} concurrent; ratios to the ceilings measured in that setup"
    )
    for backend, workers, figures in results:
        line = f"{backend:<10} {workers} worker(s)"
        for status, ceiling in (("200", "ceiling-serialise"), ("304", "ceiling-cached")):
            rate = figures[f"vtn_lite {status}"]
            line += (
                f"  {status}: {rate:6.0f} req/s p99 {figures[f'vtn_lite {status} p99 ms']:6.1f} ms"
                f" ({rate / max(figures[ceiling], 1):.0%} of {ceiling})"
            )
        if "transactions per 304" in figures:
            line += f"  {figures['transactions per 304']:.3f} db transactions per 304"
        errors = sum(figures[f"{phase} errors"] for phase in ("vtn_lite 200", "vtn_lite 304"))
        print(line + (f"  {errors:.0f} ERRORS" if errors else ""))
    print(
        "ceilings (req/s): "
        + "; ".join(
            f"{backend}-{workers}: serialise {f['ceiling-serialise']:.0f},"
            f" cached {f['ceiling-cached']:.0f}"
            for backend, workers, f in results
        )
    )


def run_one(
    args: argparse.Namespace, directory: Path, workers: int, clients: Sequence[int]
) -> dict[str, float]:
    database = args.database
    seed(database, args.vens)
    assembly_costs(database)
    config = write_config(directory, database, workers, clients)
    view_file = directory / "view.json"
    serve = [sys.executable, "-m", "vtn_lite", "serve", "--config", str(config)]
    with server_process(serve, "3.1.0 at") as (base, pid):
        plain, conditional, view = asyncio.run(prepare(base, clients))
        view_file.write_bytes(view)
        port = str(_free_port())
        ceiling_cmd = [sys.executable, "-c", CEILING_APP, str(view_file), port]
        with server_process(ceiling_cmd, "ceiling at") as (ceiling, _):
            run = drive(base, ceiling, args, pid, plain, conditional)
            phases = 4 if args.scale else 6
            bound = 60 + phases * args.seconds + (300 if args.fanout else 0)
            return asyncio.run(asyncio.wait_for(run, timeout=bound))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
