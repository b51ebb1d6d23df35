"""The 2.0b link against openleadr's own VTN over plain HTTP (lab mode): registration, events
into the signal timeline, opt replies, cancellation and reports; every message the gateway sends
validates against the 2.0b XSD."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from tests.conftest import wait_for
from tests.oadr2b.peer import VEN_ID, VEN_NAME, UtilityVtn, utility_vtn
from tests.oadr2b.schema import assert_valid
from ven_edge.oadr2b.engine import VenEngine
from ven_edge.oadr2b.envelope import Envelope
from ven_edge.oadr2b.link import Oadr2bLink
from ven_edge.oadr2b.reports import Sample
from ven_edge.oadr2b.vtnhttp import VtnTransport
from ven_edge.signals import SignalTimeline


class CheckingTransport(VtnTransport):
    """Validates every outgoing payload against the XSD before sending it."""

    sent: list[str]

    async def post(self, service: str, payload: etree._Element) -> Envelope | None:
        assert_valid(payload)
        self.sent.append(etree.QName(payload[0][0]).localname)
        return await super().post(service, payload)


@pytest.fixture
async def vtn() -> AsyncIterator[UtilityVtn]:
    async for peer in utility_vtn(None):
        yield peer


def _link(url: str) -> tuple[Oadr2bLink, list[SignalTimeline]]:
    timelines: list[SignalTimeline] = []
    transport = CheckingTransport(url)
    transport.sent = []
    link = Oadr2bLink(VenEngine(VEN_NAME, "water-heater"), transport, poll_s=30)
    link.on_timeline = timelines.append
    return link, timelines


async def test_event_reaches_the_timeline_and_is_opted_in(vtn: UtilityVtn) -> None:
    link, timelines = _link(vtn.url)
    task = asyncio.create_task(link.run())
    try:
        await wait_for(lambda: link.engine.ven_id == VEN_ID, 30, "registration")
        assert link.poll_s == 1.0  # the VTN's oadrRequestedOadrPollFreq
        start = datetime.now(UTC) + timedelta(minutes=5)
        event_id = vtn.server.add_event(
            VEN_ID, "SIMPLE", "level",
            [{"dtstart": start, "duration": timedelta(minutes=30), "signal_payload": 2}],
            callback=vtn.on_opt,
        )  # fmt: skip
        await wait_for(lambda: bool(timelines) and len(timelines[-1]) > 0, 30, "the event")
        (interval,) = timelines[-1].intervals
        assert (interval.kind, interval.values, interval.event_id) == ("SIMPLE", (2.0,), event_id)
        assert interval.start == start.replace(microsecond=interval.start.microsecond)
        assert interval.end - interval.start == timedelta(minutes=30)
        await wait_for(lambda: (VEN_ID, event_id, "optIn") in vtn.opts, 30, "optIn")

        vtn.server.cancel_event(VEN_ID, event_id)
        await wait_for(lambda: len(timelines[-1]) == 0, 30, "the cancellation")
        sent = link.transport.sent  # type: ignore[attr-defined]
        expected = {
            "oadrQueryRegistration",
            "oadrCreatePartyRegistration",
            "oadrRegisterReport",
            "oadrRequestEvent",
            "oadrPoll",
            "oadrCreatedEvent",
        }
        assert expected <= set(sent)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.transport.close()


async def test_reports_are_registered_and_delivered(vtn: UtilityVtn) -> None:
    link, _ = _link(vtn.url)
    task = asyncio.create_task(link.run())
    try:
        await wait_for(lambda: bool(vtn.registered_reports), 30, "report registration")
        await wait_for(lambda: bool(link.engine._reports), 30, "the VTN's report requests")

        async def feed() -> None:
            while True:
                link.device_update(Sample(datetime.now(UTC), 450.0, True, False), False)
                await asyncio.sleep(0.5)

        feeder = asyncio.create_task(feed())
        try:
            await wait_for(lambda: bool(vtn.reports), 60, "an update report")
        finally:
            feeder.cancel()
        _, data = vtn.reports[0]
        assert any(value == 450.0 for _, value in data)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.transport.close()
