"""A push that lands while a poll is fetching is never wiped by the poll's older snapshot.

The loopback VTN takes its GET /events answer from its list, then holds the reply until the test
has delivered a push: the poll's snapshot is then older than the push, deterministically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tests.conftest import wait_for
from ven_edge.oadr3.client import POLL_ATTEMPTS
from ven_edge.oadr3.push import Notification
from ven_edge.signals import SignalTimeline

from .loopback import MiniVtn, gateway, running_link

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
TOKEN = "race-token"


def event(ident: str, hour: int) -> dict[str, Any]:
    return {
        "id": ident,
        "programID": "p1",
        "intervalPeriod": {"start": f"2026-07-01T{hour:02d}:00:00Z", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
    }


async def push(
    url: str, obj: dict[str, Any], operation: str = "CREATE", object_type: str = "EVENT"
) -> None:
    note = {"objectType": object_type, "operation": operation, "object": obj}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=note, headers=headers) as resp,
    ):
        assert resp.status == 200


def event_ids(timeline: SignalTimeline) -> set[str]:
    return {i.event_id for i in timeline.intervals}


async def test_a_poll_that_started_before_a_push_polls_again() -> None:
    held = asyncio.Event()
    pushed = asyncio.Event()

    async def hold_first(number: int) -> None:
        if number == 1:
            held.set()
            await pushed.wait()

    vtn = MiniVtn(events=[event("old", 13)], before_events_reply=hold_first)
    async with gateway(vtn, TOKEN, NOW) as (ven, _, url):
        poll = asyncio.create_task(ven.poll_once())
        async with asyncio.timeout(30):
            await held.wait()
        # The VTN stores a new event and notifies us while our GET is in flight.
        vtn.events.append(event("new", 14))
        await push(url, event("new", 14))
        assert "new" in ven.events
        pushed.set()
        async with asyncio.timeout(30):
            result = await poll
    assert set(ven.events) == {"old", "new"}
    assert event_ids(ven.timeline) == {"old", "new"}
    assert vtn.event_gets == 2  # the stale snapshot was fetched again
    assert result.timeline is ven.timeline


async def test_pushes_newer_than_every_snapshot_are_kept_over_it() -> None:
    """A VTN whose list lags behind its notifications, with a push during every fetch: after
    the last attempt the pushes are replayed over the snapshot rather than lost."""
    hook: list[str] = []

    async def push_during_fetch(number: int) -> None:
        await push(hook[0], event(f"pushed{number}", 14))

    vtn = MiniVtn(events=[event("old", 13)])
    async with gateway(vtn, TOKEN, NOW) as (ven, _, url):
        hook.append(url)
        vtn.before_events_reply = push_during_fetch
        await ven.poll_once()
        # Pushes before the last fetch are superseded by it (a list fetched after them
        # is the truth for them); the one during the last fetch is kept over it.
        assert set(ven.events) == {"old", f"pushed{POLL_ATTEMPTS}"}
        assert vtn.event_gets == POLL_ATTEMPTS
        vtn.before_events_reply = None
        await push(url, event("old", 13), operation="DELETE")
        await ven.poll_once()  # the lagging list still has "old": the poll restores it
        assert "old" in ven.events


async def test_the_link_keeps_a_push_that_lands_during_its_poll() -> None:
    held = asyncio.Event()
    pushed = asyncio.Event()
    timelines: list[SignalTimeline] = []

    async def hold_second(number: int) -> None:
        if number == 2:
            held.set()
            await pushed.wait()

    vtn = MiniVtn(events=[event("old", 13)], before_events_reply=hold_second)
    async with (
        gateway(vtn, TOKEN, NOW) as (ven, receiver, url),
        running_link(ven, receiver, timelines.append) as (_, task),
    ):
        await wait_for(lambda: bool(timelines), 30, "the first poll")
        # A PROGRAM notification makes the link poll now; that poll is held.
        await push(url, {"id": "p1"}, operation="UPDATE", object_type="PROGRAM")
        async with asyncio.timeout(30):
            await held.wait()
        vtn.events.append(event("new", 14))
        await push(url, event("new", 14))
        pushed.set()
        # Polls are ten minutes apart: only a re-poll picks the pushed event up in time.
        await wait_for(lambda: vtn.event_gets >= 3, 30, "the re-poll")
        await wait_for(lambda: "new" in event_ids(timelines[-1]), 30, "the pushed event")
        await asyncio.sleep(0.05)
        assert "new" in ven.events
        assert event_ids(ven.timeline) == {"old", "new"}
        assert not task.done()


async def test_an_event_push_right_after_a_program_push_keeps_its_poll() -> None:
    """Wakes coalesce: an applied EVENT landing before the link woke for a changed PROGRAM must
    not cancel the re-read the PROGRAM asked for."""
    timelines: list[SignalTimeline] = []
    vtn = MiniVtn(events=[event("old", 13)])
    async with (
        gateway(vtn, TOKEN, NOW) as (ven, receiver, _),
        running_link(ven, receiver, timelines.append),
    ):
        await wait_for(lambda: bool(timelines), 30, "the first poll")
        assert vtn.event_gets == 1
        # Both land before the link runs again (no await point in between).
        await receiver.dispatch(Notification("PROGRAM", "UPDATE", {"id": "p1"}))
        await receiver.dispatch(Notification("EVENT", "CREATE", event("new", 14)))
        # Polls are ten minutes apart: only the PROGRAM's re-read makes this one.
        await wait_for(lambda: vtn.event_gets >= 2, 30, "the program re-read")
