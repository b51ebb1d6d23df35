"""Events whose times or durations would overflow Python's datetime arithmetic are rejected alone,
with the path of the bad field, and the other events keep working (poll and push)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.conftest import wait_for
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventparse import Event, parse_event
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.signals import SignalInterval, SignalTimeline

from .loopback import MiniVtn, gateway, mini_vtn, running_link

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def event(ident: str, period: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "programID": "p1",
        "intervalPeriod": period,
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
        **extra,
    }


#: The event that crashed the gateway: a "now" start with a randomizeStart of 114 000 years.
POISON = event(
    "poison",
    {"start": "0001-01-01T00:00:00Z", "duration": "PT1H", "randomizeStart": "PT999999999H"},
    modificationDateTime="2026-07-01T10:00:00Z",
)
GOOD = event("good", {"start": "2026-07-01T13:00:00Z", "duration": "PT1H"})


def client() -> VtnClient:
    """A client whose randomized starts all take the largest shift (the overflow side)."""
    return VtnClient(
        VtnSettings(base_url="http://127.0.0.1:9/x"),
        wall_clock=lambda: NOW,
        timeline_builder=TimelineBuilder(rand=lambda: 1.0),
    )


@pytest.mark.parametrize(
    ("period", "where", "reason"),
    [
        (POISON["intervalPeriod"], "intervalPeriod.randomizeStart", "exceeds the limit P9999Y"),
        (
            {"start": "2026-07-01T00:00:00Z", "duration": "PT1H", "randomizeStart": "PT25H"},
            "intervalPeriod.randomizeStart",
            "duration PT25H exceeds the limit P1D",
        ),
        (
            {"start": "2026-07-01T00:00:00Z", "duration": "P99999999999999999999D"},
            "intervalPeriod.duration",
            "exceeds the limit P9999Y",
        ),
        (
            {"start": "2026-07-01T00:00:00Z", "duration": "P99999999999999999999M"},
            "intervalPeriod.duration",
            "exceeds the limit P9999Y",
        ),
        (
            {"start": "2026-07-01T00:00:00Z", "duration": "P" + "9" * 5000 + "D"},
            "intervalPeriod.duration",
            "longer than 64 characters",
        ),
        (
            {"start": "9999-12-31T23:00:00-05:00", "duration": "PT1H"},
            "intervalPeriod.start",
            "outside 1970..9999",
        ),
        ({"start": "1969-12-31T23:59:59Z", "duration": "PT1H"}, "intervalPeriod.start", "1970"),
    ],
)
def test_out_of_range_times_are_rejected_with_the_field(
    period: dict[str, Any], where: str, reason: str
) -> None:
    ven = client()
    ven.apply_event_notification("CREATE", GOOD)
    good = ven.timeline
    with pytest.raises(PayloadError) as info:
        ven.apply_event_notification("CREATE", event("bad", period))
    assert (info.value.object_id, info.value.where) == ("bad", where)
    assert reason in info.value.reason
    assert ven.timeline == good
    assert list(ven.events) == ["good"]


@pytest.mark.parametrize(
    "period",
    [
        # Near the end of time: accepted, and the arithmetic stays in range (clamped).
        {"start": "9999-12-31T23:00:00Z", "duration": "PT1H", "randomizeStart": "PT5H"},
        {"start": "9999-12-31T23:59:59Z", "duration": "P9998Y"},
        {"start": "9999-01-01T00:00:00Z", "duration": "P9999Y"},
        {"start": "1970-01-01T00:00:00Z", "duration": "P9998Y11M", "randomizeStart": "P1D"},
        {"start": "0001-01-01", "duration": "P3650000D", "randomizeStart": "P1D"},
    ],
)
def test_extreme_but_valid_events_build_a_timeline(period: dict[str, Any]) -> None:
    ven = client()
    for op in ("CREATE", "UPDATE"):
        ven.apply_event_notification(op, event("edge", period, duration="P9999Y"))
        ven.apply_event_notification(op, event("edge2", period, duration="PT30M"))
    assert set(ven.events) == {"edge", "edge2"}
    ven.rebuild_timeline()


def test_packed_prices_shorter_than_the_clock_resolution_reject_the_event() -> None:
    """10 000 prices packed into one millisecond: each sub-interval would be 0 µs long, and the
    planner's value lookup would divide by zero."""
    ven = client()
    ven.apply_event_notification("CREATE", GOOD)
    dense = event("dense", {"start": "2026-07-01T13:00:00Z", "duration": "PT0.001S"})
    dense["intervals"][0]["payloads"] = [{"type": "PRICE", "values": [0.1] * 10_000}]
    with pytest.raises(PayloadError) as info:
        ven.apply_event_notification("CREATE", dense)
    assert info.value.object_id == "dense"
    assert "too short for 10000 sub-intervals" in info.value.reason
    assert list(ven.events) == ["good"]


def test_a_timeline_failure_costs_only_that_event(caplog: pytest.LogCaptureFixture) -> None:
    """Parsing bounds every value; should a defect still reach the timeline, the builder leaves
    that one event out (logged once per revision) and builds the others."""

    class Faulty(TimelineBuilder):
        def intervals_for(self, event: Event, now: datetime) -> tuple[SignalInterval, ...]:
            if event.id == "odd":
                raise ZeroDivisionError("a defect")
            return super().intervals_for(event, now)

    builder = Faulty()
    good = parse_event(GOOD)
    odd = parse_event(event("odd", {"start": "2026-07-01T13:00:00Z", "duration": "PT1H"}))
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            timeline = builder.build([odd, good], NOW)
            assert {i.event_id for i in timeline.intervals} == {"good"}
    assert len([r for r in caplog.records if "'odd' left out" in r.getMessage()]) == 1


async def test_poison_event_over_http_is_rejected_alone_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with mini_vtn(MiniVtn(events=[POISON, GOOD])) as vtn:
        settings = VtnSettings(base_url=vtn.base_url)
        async with VtnClient(settings, wall_clock=lambda: NOW) as ven:
            with caplog.at_level(logging.ERROR):
                first = await ven.poll_once()
                second = await ven.poll_once()
            assert first.added == ("good",)
            assert [e.where for e in first.errors] == ["intervalPeriod.randomizeStart"]
            assert [e.where for e in second.errors] == ["intervalPeriod.randomizeStart"]
            assert {i.event_id for i in ven.timeline.intervals} == {"good"}
            lines = [r.getMessage() for r in caplog.records if "'poison'" in r.getMessage()]
            assert lines == [
                "event 'poison' rejected: intervalPeriod.randomizeStart: duration PT999999999H "
                "exceeds the limit P9999Y (not used)"
            ]
            # A new version of the event is a new rejection, logged again.
            vtn.events[0] = dict(POISON, modificationDateTime="2026-07-01T10:05:00Z")
            with caplog.at_level(logging.ERROR):
                await ven.poll_once()
            lines = [r.getMessage() for r in caplog.records if "'poison'" in r.getMessage()]
            assert len(lines) == 2


async def test_poison_event_by_poll_and_push_keeps_the_link_running() -> None:
    """The gateway keeps running and obeys the good event, whichever way the poison comes."""
    timelines: list[SignalTimeline] = []
    vtn = MiniVtn(events=[POISON, GOOD])
    async with (
        gateway(vtn, "tok", NOW) as (ven, receiver, url),
        running_link(ven, receiver, timelines.append) as (link, task),
        aiohttp.ClientSession() as http,
    ):
        await wait_for(lambda: vtn.event_gets >= 1 and bool(timelines), 30, "a poll")
        note = {"objectType": "EVENT", "operation": "UPDATE", "object": POISON}
        headers = {"Authorization": "Bearer tok"}
        async with http.post(url, json=note, headers=headers) as resp:
            assert resp.status == 200  # delivered, though its event is not used
        # The unusable push makes the link poll at once (not in 600 s).
        await wait_for(lambda: vtn.event_gets >= 2, 30, "the poll after the push")
        # So does a notification that is not even JSON (answered 400).
        async with http.post(url, data=b"{", headers=headers) as resp:
            assert resp.status == 400
        await wait_for(lambda: vtn.event_gets >= 3, 30, "the poll after a 400")
        await asyncio.sleep(0.05)
        assert not task.done()
        assert link.health.connected
        assert {i.event_id for i in ven.timeline.intervals} == {"good"}
        assert ven.timeline.value_at("SIMPLE", NOW + timedelta(minutes=90)) == 1
