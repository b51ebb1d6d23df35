"""vtn_lite's 2.0b face under polling: oadrPoll from 1,000 registered 2.0b VENs, against the
3.1 poll (GET /events) of the same store in the same run.

Run: python bench/vtn_lite_2b.py [--vens 1000] [--seconds 5] [--polls 20000] [--concurrency 16]

Setup: a SQLite file; VENS 2.0b registrations approved through the face's registry (each a ven
object, as in production), one 3.x VEN client for the baseline, one SIMPLE program with 3
untargeted events and one per-VEN event for every tenth 2.0b VEN. The VTN runs in this process
(loopback, lab plain HTTP), and so do the pollers: both protocols are measured under the same
conditions, one phase after the other, each bounded by --seconds and --polls.

Phases (closed loop, CONCURRENCY pollers):
  1. 2.0b first poll     - each VEN's first oadrPoll: an oadrDistributeEvent with its events,
                           then the VEN's oadrCreatedEvent (optIn); both are in the time, and
                           so is the VEN's parsing and answering, done in this process.
  2. 2.0b steady poll    - oadrPoll of random VENs whose events did not change: oadrResponse.
  3. 3.1 poll, 200       - GET /events?active=true as the 3.x VEN, no ETag.
  4. 3.1 poll, 304       - the same with If-None-Match (what the gateway sends).
Prints polls/s and p50/p99 per phase, and the ratios of the 2.0b phases to the 3.1 ones.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._measure import percentile  # noqa: E402
from ven_edge.oadr2b.build import to_bytes  # noqa: E402
from ven_edge.oadr2b.distribute import parse_distribute  # noqa: E402
from ven_edge.oadr2b.envelope import open_payload  # noqa: E402
from ven_edge.oadr2b.events import Opt  # noqa: E402
from ven_edge.oadr2b.replies import EventReply, build_created_event, build_poll  # noqa: E402
from ven_edge.oadr2b.xmlsafe import parse_xml  # noqa: E402
from vtn_lite.auth import Principal, hash_secret  # noqa: E402
from vtn_lite.config import ClientEntry, VtnConfig  # noqa: E402
from vtn_lite.oadr2b.registry import PartyRequest  # noqa: E402
from vtn_lite.oadr2b.settings import Oadr2bSettings  # noqa: E402
from vtn_lite.server import RunningVtn, running_vtn  # noqa: E402

BL = Principal("bench", "bl")
SECRET = "bench-secret"


async def setup(running: RunningVtn, vens: int) -> tuple[list[str], list[bytes]]:
    face = running.parts.oadr2b
    assert face is not None
    vtn = running.vtn
    program = await vtn.create(BL, "PROGRAM", {"programName": "shed"})
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    for level in (1, 2, 3):
        await vtn.create(BL, "EVENT", _event(program["id"], level, start, None))
    polls = []
    ven_ids = []
    for index in range(vens):
        registration = await face.registry.request(PartyRequest(f"ven-{index:05d}", None, {}))
        assert registration.ven_id is not None
        if index % 10 == 0:
            await vtn.grant_targets(BL, registration.ven_id, [f"ven:{registration.ven_id}"])
            target = f"ven:{registration.ven_id}"
            await vtn.create(BL, "EVENT", _event(program["id"], 1, start, target))
        polls.append(to_bytes(build_poll(registration.ven_id)))
        ven_ids.append(registration.ven_id)
    await vtn.create(
        BL, "VEN", {"objectType": "BL_VEN_REQUEST", "clientID": "ven3", "venName": "three"}
    )
    return ven_ids, polls


def _event(program_id: str, level: int, start: str, target: str | None) -> dict[str, object]:
    body: dict[str, object] = {
        "programID": program_id,
        "intervalPeriod": {"start": start, "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [level]}]}],
    }
    if target is not None:
        body["targets"] = [target]
    return body


async def closed_loop(
    call: Callable[[int], Awaitable[None]], *, concurrency: int, seconds: float, polls: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(polls))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        for n in counter:
            if time.perf_counter() > deadline:
                return
            began = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


def line(name: str, elapsed: float, latencies: list[float]) -> float:
    rate = len(latencies) / elapsed if elapsed else 0.0
    print(
        f"{name:22s} {len(latencies):6d} polls  {rate:8.0f}/s"
        f"  p50 {percentile(latencies, 0.5) * 1000:6.2f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:6.2f} ms"
    )
    return rate


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = VtnConfig(
            host="127.0.0.1",
            port=0,
            database=str(Path(tmp) / "vtn.sqlite"),
            clients=(ClientEntry("ven3", hash_secret(SECRET, n=2**4), "ven"),),
            oadr2b=Oadr2bSettings(port=0, lab_plain_http=True, auto_approve=True),
        )
        async with running_vtn(config) as running, aiohttp.ClientSession() as session:
            began = time.perf_counter()
            ven_ids, polls = await setup(running, args.vens)
            print(f"setup: {args.vens} 2.0b VENs registered in {time.perf_counter() - began:.1f} s")
            url = f"{running.oadr2b_url}/OadrPoll"
            kinds: dict[bytes, int] = {}

            async def poll_2b(n: int, *, first: bool) -> None:
                index = n % len(polls) if first else random.randrange(len(polls))
                async with session.post(url, data=polls[index]) as answer:
                    data = await answer.read()
                    assert answer.status == 200, data[:200]
                if b"oadrDistributeEvent" not in data:
                    kinds[b"Response"] = kinds.get(b"Response", 0) + 1
                    return
                kinds[b"Distribute"] = kinds.get(b"Distribute", 0) + 1
                # As a VEN does (rule 62): optIn for each event, in one oadrCreatedEvent.
                events = parse_distribute(open_payload(parse_xml(data)).message).events
                replies = tuple(
                    EventReply(e.event_id, e.modification_number, Opt.OPT_IN) for e in events
                )
                created = to_bytes(build_created_event(ven_ids[index], replies))
                async with session.post(f"{running.oadr2b_url}/EiEvent", data=created) as answer:
                    assert b"<ei:responseCode>200<" in await answer.read()

            budget = {"concurrency": args.concurrency, "seconds": args.seconds}
            elapsed, lat = await closed_loop(
                lambda n: poll_2b(n, first=True), polls=len(polls), **budget
            )
            first_rate = line("2.0b first poll", elapsed, lat)
            for n in range(len(lat), len(polls)):  # any VEN the budget left out
                await poll_2b(n, first=True)
            kinds.clear()
            elapsed, lat = await closed_loop(
                lambda n: poll_2b(n, first=False), polls=args.polls, **budget
            )
            steady_rate = line("2.0b steady poll", elapsed, lat)
            steady_p99 = percentile(lat, 0.99)
            assert set(kinds) == {b"Response"}, kinds  # nothing changed: no distribute

            async with session.post(
                f"{running.base_url}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "ven3",
                    "client_secret": SECRET,
                },
            ) as answer:
                token = (await answer.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            events_url = f"{running.base_url}/events?active=true"
            async with session.get(events_url, headers=headers) as answer:
                etag = answer.headers.get("ETag", "")

            async def poll_31(_: int, *, conditional: bool) -> None:
                sent = {**headers, "If-None-Match": etag} if conditional else headers
                async with session.get(events_url, headers=sent) as answer:
                    await answer.read()
                    assert answer.status == (304 if conditional else 200)

            elapsed, lat = await closed_loop(
                lambda n: poll_31(n, conditional=False), polls=args.polls, **budget
            )
            full_rate = line("3.1 poll, 200", elapsed, lat)
            elapsed, lat = await closed_loop(
                lambda n: poll_31(n, conditional=True), polls=args.polls, **budget
            )
            cond_rate = line("3.1 poll, 304", elapsed, lat)
            cond_p99 = percentile(lat, 0.99)
            print(
                f"ratios: 2.0b steady / 3.1 304 = {steady_rate / cond_rate:.2f} (rate),"
                f" {steady_p99 / cond_p99:.2f} (p99);"
                f" 2.0b steady / 3.1 200 = {steady_rate / full_rate:.2f};"
                f" 2.0b first / 3.1 200 = {first_rate / full_rate:.2f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vens", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--polls", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
