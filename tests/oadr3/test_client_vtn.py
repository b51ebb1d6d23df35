"""The VEN client against a real vtn_lite on 127.0.0.1 (both API versions)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from ven_edge.oadr3.backoff import Backoff
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import VtnAuthError, VtnUnreachableError
from ven_edge.oadr3.link import LinkTiming, VtnLink
from ven_edge.oadr3.outbox import ReportOutbox
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reportbodies import operating_state_report
from ven_edge.oadr3.reports import ReportScheduler
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import WebhookReceiver
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore
from vtn_lite.server import RunningVtn, demo_config, running_vtn

from .loopback import webhook_endpoint

# Cheap password hashing keeps each VTN start in milliseconds (the cost is not under test).
SCRYPT_N = 2**4


class Clock:
    """A settable clock shared by the VTN (token expiry) and the client (refresh timing)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def vtn_at(
    tmp_path: Path, port: int = 0, clock: Callable[[], float] = time.time, **overrides: Any
) -> AbstractAsyncContextManager[RunningVtn]:
    config = replace(demo_config(tmp_path, port=port, scrypt_n=SCRYPT_N), **overrides)
    return running_vtn(config, clock=clock)


@pytest.fixture
async def vtn(tmp_path: Path) -> AsyncIterator[RunningVtn]:
    async with vtn_at(tmp_path) as running:
        yield running


def ven_settings(base_url: str, version: str = "3.1.0", **extra: Any) -> VtnSettings:
    return VtnSettings(
        base_url=base_url,
        version=version,  # type: ignore[arg-type]
        client_id="ven_client",
        client_secret="999",
        ven_name="gateway-1",
        resource_name="heater-1",
        **extra,
    )


class Utility:
    """The business-logic side, driving vtn_lite over HTTP like a utility would."""

    def __init__(self, base_url: str) -> None:
        self.client = VtnClient(
            VtnSettings(base_url=base_url, client_id="bl_client", client_secret="1001")
        )
        self.program_id = ""

    async def __aenter__(self) -> Utility:
        existing = await self.client.get_all("/programs")
        if existing:
            self.program_id = str(existing[0]["id"])  # the same database after a VTN restart
            return self
        program = await self.client.request(
            "POST", "/programs", json_body={"programName": "hpwh-tou"}
        )
        self.program_id = program["id"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def event(self, price: float, start: str = "2030-01-01T17:00:00Z", **f: Any) -> str:
        body = {
            "programID": self.program_id,
            "intervalPeriod": {"start": start, "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [price]}]}],
            **f,
        }
        created = await self.client.request("POST", "/events", json_body=body)
        return str(created["id"])


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_registration_is_idempotent_across_restart(vtn: RunningVtn, version: str) -> None:
    base = vtn.base_url if version == "3.1.0" else vtn.base_url_301
    async with VtnClient(ven_settings(base, version)) as first:
        reg1 = await first.register()
        assert reg1 == await first.register()
    async with VtnClient(ven_settings(base, version)) as restarted:
        reg2 = await restarted.register()
    assert reg2 == reg1
    assert reg1.resource_id is not None
    async with Utility(vtn.base_url) as bl:
        vens = await bl.client.get_all("/vens")
        resources = await bl.client.get_all("/resources")
    assert [v["venName"] for v in vens] == ["gateway-1"]
    assert [r["resourceName"] for r in resources] == ["heater-1"]


async def test_token_discovered_and_refreshed_before_expiry(tmp_path: Path) -> None:
    vtn_clock, ven_clock = Clock(), Clock()
    async with vtn_at(tmp_path, clock=vtn_clock, token_lifetime=600) as vtn:
        settings = ven_settings(vtn.base_url, token_refresh_margin_s=60)
        async with VtnClient(settings, clock=ven_clock) as ven:
            await ven.fetch_programs()
            await ven.fetch_programs()
            assert ven.token_fetches == 1
            assert await ven.discover_token_url() == f"{vtn.base_url}/auth/token"
            for clock in (vtn_clock, ven_clock):
                clock.now += 541  # inside the margin: renewed before the VTN would refuse it
            await ven.fetch_programs()
            assert ven.token_fetches == 2
            # The VTN expires the token while the client still trusts it: 401, refetch, retry.
            vtn_clock.now += 10_000
            await ven.fetch_programs()
            assert ven.token_fetches == 3


async def test_wrong_secret_and_unauthenticated_mode(vtn: RunningVtn) -> None:
    settings = replace(ven_settings(vtn.base_url), client_secret="wrong")
    async with VtnClient(settings) as ven:
        with pytest.raises(VtnAuthError, match=r"POST /auth/token -> HTTP 401"):
            await ven.fetch_programs()
    anonymous = VtnSettings(base_url=vtn.base_url)
    assert not anonymous.authenticated
    async with VtnClient(anonymous) as ven:
        assert await ven.ensure_token() is None
        with pytest.raises(VtnAuthError) as info:
            await ven.fetch_programs()
        assert info.value.status == 401
        assert ven.token_fetches == 0  # no credentials: never asks for a token


async def test_secrets_never_logged_nor_in_repr(
    vtn: RunningVtn, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(ven_settings(vtn.base_url), client_secret="s3cr3t-Pa55")
    assert "s3cr3t" not in repr(settings)
    async with Utility(vtn.base_url) as bl:
        await bl.client.request(
            "POST",
            "/vens",
            json_body={
                "objectType": "BL_VEN_REQUEST",
                "clientID": "ven_client",
                "venName": "gateway-1",
            },
        )
    with caplog.at_level(logging.DEBUG):
        async with VtnClient(ven_settings(vtn.base_url)) as ven:
            await ven.register()
            await ven.poll_once()
            token = await ven.ensure_token()
            assert token is not None
            assert token not in repr(ven._token)
    text = caplog.text
    assert text
    # The secret as a word of its own: "999" also turns up inside port numbers and ids.
    assert not re.search(r"\b999\b", text), text
    assert token not in text


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_polling_pages_and_reports_changes(vtn: RunningVtn, version: str) -> None:
    base = vtn.base_url if version == "3.1.0" else vtn.base_url_301
    settings = ven_settings(base, version, page_size=4)
    async with Utility(vtn.base_url) as bl, VtnClient(settings) as ven:
        ids = [await bl.event(0.1 * i, start=f"2030-01-01T{i:02d}:00:00Z") for i in range(10)]
        first = await ven.poll_once()
        assert sorted(first.added) == sorted(ids)
        assert len(ven.timeline) == 10
        assert not (await ven.poll_once()).changed
        await bl.client.request(
            "PUT",
            f"/events/{ids[3]}",
            json_body={
                "programID": bl.program_id,
                "intervalPeriod": {"start": "2030-01-01T03:00:00Z", "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [9.0]}]}],
            },
        )
        await bl.client.request("DELETE", f"/events/{ids[5]}")
        result = await ven.poll_once()
        assert (result.added, result.modified, result.removed) == ((), (ids[3],), (ids[5],))
        assert len(ven.timeline) == 9
        assert {i.values for i in ven.timeline.intervals if i.event_id == ids[3]} == {(9.0,)}


async def test_unreachable_vtn_keeps_last_good_timeline(tmp_path: Path) -> None:
    port = free_port()
    async with vtn_at(tmp_path, port) as vtn, Utility(vtn.base_url) as bl:
        await bl.event(0.42)
        ven = VtnClient(ven_settings(vtn.base_url))
        await ven.poll_once()
    good = ven.timeline
    assert len(good) == 1
    with pytest.raises(VtnUnreachableError, match=r"GET /programs"):
        await ven.poll_once()
    assert ven.timeline is good
    await ven.close()


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_webhook_push_end_to_end(vtn: RunningVtn, version: str) -> None:
    base = vtn.base_url if version == "3.1.0" else vtn.base_url_301
    async with VtnClient(ven_settings(base, version)) as ven, Utility(vtn.base_url) as bl:
        await ven.register()
        receiver = WebhookReceiver(client=ven)
        async with webhook_endpoint(receiver) as callback:
            sub_id = await ven.ensure_subscription(callback, receiver.bearer_token)
            assert await ven.ensure_subscription(callback, receiver.bearer_token) == sub_id
            event_id = await bl.event(0.77)
            async with asyncio.timeout(10):  # nothing polls here: only the push can wake it
                await receiver.wait()
            assert [i.event_id for i in ven.timeline.intervals] == [event_id]
            await bl.client.request("DELETE", f"/events/{event_id}")
            async with asyncio.timeout(10):
                await receiver.wait()
            assert len(ven.timeline) == 0
            subs = await bl.client.get_all("/subscriptions")
            assert len(subs) == 1


async def test_outbox_exactly_once_with_vtn_down_then_up(tmp_path: Path) -> None:
    port = free_port()
    store = StateStore(tmp_path / "state")
    outbox = ReportOutbox(store)
    settings = ven_settings(f"http://127.0.0.1:{port}/openadr3/3.1.0")
    ven = VtnClient(settings)
    async with vtn_at(tmp_path, port) as vtn, Utility(vtn.base_url) as bl:
        event_id = await bl.event(0.3)
        await ven.register()

    def report(n: int) -> dict[str, Any]:
        return operating_state_report(
            state="IDLE_CURTAILED",
            at=datetime.now(UTC),
            event_id=event_id,
            client_name="gateway-1",
            resource_name="heater-1",
            name=f"gateway-1/{event_id}/OPERATING_STATE/{n}",
        )

    # VTN down: reports wait on disk (0600), also across a gateway restart.
    for n in range(3):
        assert outbox.add(report(n))
    assert not outbox.add(report(0))  # same name: not queued twice
    assert await outbox.flush(ven) == 0
    assert len(outbox.pending) == 3
    await outbox.durable()
    assert (outbox.path.stat().st_mode & 0o777) == 0o600
    # Simulate a crash right after the first POST reached the VTN (response lost): the journal
    # says it was tried, and the VTN already has it once we are back.
    async with vtn_at(tmp_path, port) as vtn:
        await ven.create_report(report(0))
        restarted = ReportOutbox(store)
        assert await restarted.flush(ven) == 3
        assert await restarted.flush(ven) == 0
        assert not restarted.add(report(1))  # already delivered: still not duplicated
        async with Utility(vtn.base_url) as bl:
            names = [r["reportName"] for r in await bl.client.get_all("/reports")]
    await ven.close()
    assert sorted(names) == [f"gateway-1/{event_id}/OPERATING_STATE/{n}" for n in range(3)]


async def test_link_push_replan_and_reports(tmp_path: Path) -> None:
    """VtnLink end to end: push wakes the control side within a second, reports are delivered."""
    timelines: list[SignalTimeline] = []
    woke = asyncio.Event()

    def on_timeline(timeline: SignalTimeline) -> None:
        timelines.append(timeline)
        woke.set()

    receiver = WebhookReceiver()
    store = StateStore(tmp_path / "state")
    async with (
        vtn_at(tmp_path) as vtn,
        Utility(vtn.base_url) as bl,
        webhook_endpoint(receiver) as callback,
        VtnClient(ven_settings(vtn.base_url)) as client,
    ):
        link = VtnLink(
            client,
            on_timeline=on_timeline,
            receiver=receiver,
            callback_url=callback,
            outbox=ReportOutbox(store),
            scheduler=ReportScheduler("gateway-1", cadence=timedelta(hours=1)),
            readings=lambda: DeviceReadings(operating_state="RUNNING_CURTAILED"),
            store=store,
            timing=LinkTiming(poll_s=30, poll_when_subscribed_s=30),
        )
        await link.cycle()  # registers and subscribes
        assert link.health.subscribed
        woke.clear()
        task = asyncio.create_task(link.run())
        try:
            event_id = await bl.event(
                0.5, reportDescriptors=[{"payloadType": "OPERATING_STATE", "frequency": 0}]
            )
            async with asyncio.timeout(10):  # well before the 30 s poll: woken by the push
                await woke.wait()
            assert [i.event_id for i in timelines[-1].intervals] == [event_id]
            # The next cycle (here: a forced one) queues and delivers the requested report.
            await link.cycle()
            reports = await bl.client.get_all("/reports")
            assert [r["reportName"] for r in reports] == [f"gateway-1/{event_id}/OPERATING_STATE/1"]
            assert link.health.pending_reports == 0
            assert store.load("oadr3_link")["registration"]["ven_id"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_targeted_events_need_the_granted_target(vtn: RunningVtn) -> None:
    settings = ven_settings(vtn.base_url, targets=("feeder-7",))
    async with Utility(vtn.base_url) as bl, VtnClient(settings) as ven:
        registration = await ven.register()
        await bl.event(0.1)  # untargeted: everyone sees it
        targeted = await bl.event(0.9, start="2030-01-02T17:00:00Z", targets=["feeder-7"])
        assert len((await ven.poll_once()).added) == 1  # target not granted yet
        await bl.client.request(
            "PUT",
            f"/vens/{registration.ven_id}",
            json_body={
                "objectType": "BL_VEN_REQUEST",
                "clientID": "ven_client",
                "venName": "gateway-1",
                "targets": ["feeder-7"],
            },
        )
        assert (await ven.poll_once()).added == (targeted,)


async def test_link_backs_off_while_vtn_down_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    woke = asyncio.Event()
    backoff = Backoff(base=0.01, cap=0.04, rand=lambda: 1.0)
    settings = ven_settings(f"http://127.0.0.1:{port}/openadr3/3.1.0")
    async with VtnClient(settings) as client:
        link = VtnLink(client, on_timeline=lambda _: woke.set(), backoff=backoff)
        task = asyncio.create_task(link.run())
        try:
            await asyncio.sleep(0.2)  # the VTN is down: the link retries with growing delays
            assert not link.health.connected
            assert link.health.consecutive_failures >= 3
            assert "Cannot connect" in (link.health.last_error or "")
            assert backoff.attempts == link.health.consecutive_failures
            async with vtn_at(tmp_path, port) as vtn, Utility(vtn.base_url) as bl:
                event_id = await bl.event(0.25)
                async with asyncio.timeout(2.0):
                    await woke.wait()
                assert link.health.connected
                assert link.health.consecutive_failures == 0
                assert backoff.attempts == 0
                assert [i.event_id for i in client.timeline.intervals] == [event_id]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
