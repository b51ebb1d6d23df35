"""The 2.0b link on bad input and outages: reasons logged and shown, last good state kept,
reports kept on disk until the VTN takes them, polling again at once while the VTN has more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.oadr2b.samples import distribute, simple_event
from tests.oadr2b.scripted_vtn import (
    VEN_ID,
    VTN_ID,
    ScriptedVtn,
    registered_report,
    scripted_vtn,
)
from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.distribute import build_distribute
from ven_edge.oadr2b.engine import VenEngine
from ven_edge.oadr2b.events import DistributeEvent
from ven_edge.oadr2b.link import Oadr2bLink
from ven_edge.oadr2b.reports import Sample
from ven_edge.oadr2b.vtnhttp import VtnTransport
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore

LIMIT_S = 20.0
START = datetime.now(UTC) + timedelta(hours=1)


def _distribute(vtn_id: str = VTN_ID, *, level: float = 1.0) -> bytes:
    event = simple_event(level, start=START, ven_id=VEN_ID)
    message = distribute(event)
    return to_bytes(build_distribute(DistributeEvent(message.request_id, vtn_id, message.events)))


@contextlib.asynccontextmanager
async def running_link(
    vtn: ScriptedVtn, store: StateStore | None = None, clock: list[datetime] | None = None
) -> AsyncIterator[tuple[Oadr2bLink, list[SignalTimeline]]]:
    """The link running against ``vtn``; ``clock[0]`` is its wall clock when given."""
    timelines: list[SignalTimeline] = []
    link = Oadr2bLink(
        VenEngine("wh_ven", "wh"),
        VtnTransport(vtn.url),
        store=store,
        poll_s=30,
        wall_clock=(lambda: clock[0]) if clock else (lambda: datetime.now(UTC)),
    )
    link.on_timeline = timelines.append
    task = asyncio.create_task(link.run())
    try:
        yield link, timelines
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.transport.close()


@pytest.fixture
async def vtn() -> AsyncIterator[ScriptedVtn]:
    async with scripted_vtn() as peer:
        yield peer


async def _with_event(vtn: ScriptedVtn, link: Oadr2bLink, timelines: list[SignalTimeline]) -> None:
    vtn.answers["OadrPoll"].append(_distribute())
    await wait_for(lambda: bool(timelines) and len(timelines[-1]) == 1, LIMIT_S, "the event")


async def test_malformed_answer_is_logged_and_the_last_good_state_kept(
    vtn: ScriptedVtn, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_link(vtn) as (link, timelines):
        await _with_event(vtn, link, timelines)
        good = timelines[-1]
        vtn.answers["OadrPoll"].append(b"<oadr:oadrPayload xmlns:oadr='x'><unclosed>")
        with caplog.at_level(logging.WARNING):
            await wait_for(lambda: link.health.last_error is not None, LIMIT_S, "the refusal")
        assert "malformed" in (link.health.last_error or "")
        assert "malformed" in caplog.text
        assert link.engine.timeline() == good
        assert timelines[-1] == good


async def test_distribute_from_another_vtn_is_refused_with_452(vtn: ScriptedVtn) -> None:
    async with running_link(vtn) as (link, timelines):
        await _with_event(vtn, link, timelines)
        good = link.engine.timeline()
        before = len(vtn.received)
        vtn.answers["OadrPoll"].append(_distribute("IMPOSTOR", level=3.0))
        await wait_for(lambda: "oadrResponse" in vtn.names("EiEvent"), LIMIT_S, "the 452 refusal")
        refusal = next(b for _, n, b in vtn.received[before:] if n == "oadrResponse")
        assert b"<ei:responseCode>452</ei:responseCode>" in refusal
        assert link.engine.timeline() == good


async def test_a_substantive_answer_is_followed_by_an_immediate_poll(vtn: ScriptedVtn) -> None:
    """Poll again at once while the VTN is emptying its queue (digest §1.2), not 30 s later."""
    async with running_link(vtn) as (link, timelines):
        await wait_for(lambda: "oadrPoll" in vtn.names(), LIMIT_S, "the first poll")
        polls = len(vtn.names("OadrPoll"))
        vtn.answers["OadrPoll"].extend([_distribute(), _distribute(level=2.0)])
        link._wake.set()  # the next cycle now, instead of after the VTN's 1-s period
        await wait_for(lambda: len(vtn.names("OadrPoll")) >= polls + 3, LIMIT_S, "three polls")
        assert timelines[-1].intervals[0].values == (1.0,)  # same modification: kept


async def test_reports_wait_on_disk_through_an_outage(vtn: ScriptedVtn, tmp_path: Path) -> None:
    vtn.answers["EiReport"].append(registered_report(timedelta(seconds=10), timedelta(seconds=10)))
    # The outage begins right after the report requests are accepted, in the middle of the
    # first cycle (before oadrRequestEvent): what was accepted must be on disk already.
    vtn.down_after = "oadrCreatedReport"
    store = StateStore(tmp_path / "state")
    clock = [datetime.now(UTC)]
    async with running_link(vtn, store, clock) as (link, _):
        await wait_for(lambda: link.health.consecutive_failures > 0, LIMIT_S, "the outage")
        assert "HTTP 503" in (link.health.last_error or "")
        for _ in range(3):
            clock[0] += timedelta(seconds=11)
            link.device_update(Sample(clock[0], 400.0, True, False), False)
        assert len(link.outbox.pending) >= 2
        await store.flush()
    # A restart during the outage: the reports and the report requests come back from disk.
    async with running_link(vtn, StateStore(tmp_path / "state"), clock) as (again, _):
        assert len(again.outbox.pending) >= 2
        vtn.down = False
        await wait_for(
            lambda: vtn.names("EiReport").count("oadrUpdateReport") >= 2, LIMIT_S, "delivery"
        )
        await wait_for(lambda: not again.outbox.pending, LIMIT_S, "an empty outbox")
        assert again.engine.export_state()["reports"]


async def test_vtn_down_is_retried_within_the_poll_period(vtn: ScriptedVtn) -> None:
    vtn.down = True
    async with running_link(vtn) as (link, _):
        await wait_for(lambda: link.health.consecutive_failures >= 2, LIMIT_S, "retries")
        assert not link.health.connected
        vtn.down = False
        await wait_for(lambda: link.health.connected, LIMIT_S, "the VTN back")
        assert link.engine.ven_id == VEN_ID


async def test_a_message_the_vtn_keeps_failing_is_dropped_and_blocks_nothing(
    vtn: ScriptedVtn, caplog: pytest.LogCaptureFixture
) -> None:
    """A VTN that answers polls but fails one queued report (openleadr answers 500 to a
    TELEMETRY_STATUS payload it cannot read) must not stop polling nor the reports behind it."""
    vtn.answers["EiReport"].append(registered_report(timedelta(seconds=10), timedelta(seconds=10)))
    clock = [datetime.now(UTC)]
    async with running_link(vtn, None, clock) as (link, timelines):
        await wait_for(lambda: "oadrCreatedReport" in vtn.names(), LIMIT_S, "report requests")
        vtn.answers["EiReport"].extend([500, 500, 500])
        clock[0] += timedelta(seconds=11)
        with caplog.at_level(logging.WARNING):
            link.device_update(Sample(clock[0], 400.0, True, False), False)
            await wait_for(lambda: "dropped after 3 attempts" in caplog.text, LIMIT_S, "the drop")
        await wait_for(lambda: not link.outbox.pending, LIMIT_S, "the rest delivered")
        vtn.answers["OadrPoll"].append(_distribute())
        link._wake.set()
        await wait_for(lambda: bool(timelines) and len(timelines[-1]) == 1, LIMIT_S, "polling on")
        assert link.health.connected


async def test_distribute_without_vtn_id_is_refused_with_459_and_shown(vtn: ScriptedVtn) -> None:
    async with running_link(vtn) as (link, timelines):
        await _with_event(vtn, link, timelines)
        good = link.engine.timeline()
        headless = _distribute(level=3.0).replace(b"<ei:vtnID>SCRIPTED_VTN</ei:vtnID>", b"")
        assert headless != _distribute(level=3.0)
        before = len(vtn.received)
        vtn.answers["OadrPoll"].append(headless)
        link._wake.set()
        await wait_for(
            lambda: "oadrResponse" in [n for _, n, _ in vtn.received[before:]], LIMIT_S, "refusal"
        )
        refusal = next(b for _, n, b in vtn.received[before:] if n == "oadrResponse")
        assert b"<ei:responseCode>459</ei:responseCode>" in refusal
        assert b"empty vtnID" in refusal  # the reason travels with the code
        assert "empty vtnID" in (link.health.last_error or "")
        assert link.engine.timeline() == good
