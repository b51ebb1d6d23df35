"""The VTN link against a real vtn_lite: whatever a cycle raises, the link goes on; a refused
registration still polls; stale subscriptions go; a returning VTN is seen within one interval."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, wait_for
from ven_edge.oadr3.backoff import Backoff
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.link import LinkTiming, VtnLink
from ven_edge.oadr3.webhook import WebhookReceiver
from vtn_lite.server import RunningVtn

from .loopback import webhook_endpoint
from .test_client_vtn import Utility, ven_settings, vtn_at


@pytest.fixture
async def vtn(tmp_path: Path) -> AsyncIterator[RunningVtn]:
    async with vtn_at(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def running(link: VtnLink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(link.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_event_that_crashes_the_poll_never_ends_the_link(
    vtn: RunningVtn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Any exception a poll raises (here: what an overflowing date did in the timeline code).
    fetch = VtnClient.fetch_events

    async def poisoned(self: VtnClient) -> list[Mapping[str, Any]]:
        events = await fetch(self)
        if any(e.get("eventName") == "poison" for e in events):
            raise OverflowError("date value out of range")
        return events

    monkeypatch.setattr(VtnClient, "fetch_events", poisoned)
    timing = LinkTiming(poll_s=0.05, backoff_base_s=0.01, backoff_cap_s=0.02)
    async with Utility(vtn.base_url) as bl, VtnClient(ven_settings(vtn.base_url)) as client:
        good = await bl.event(0.25)
        link = VtnLink(client, timing=timing)
        async with running(link) as task:
            await wait_for(lambda: link.health.polls >= 1, 30, "a first poll")
            poison = await bl.event(0.5, eventName="poison")
            await wait_for(
                lambda: task.done() or link.health.consecutive_failures >= 4, 30, "failed cycles"
            )
            assert not task.done()
            assert link.health.last_error == "OverflowError: date value out of range"
            # The last good state stays in force.
            assert [i.event_id for i in client.timeline.intervals] == [good]
            await bl.client.request("DELETE", f"/events/{poison}", expect=(200,))
            await wait_for(lambda: link.health.connected, 30, "recovery")
    crashes = [r for r in caplog.records if "VTN cycle crashed" in r.getMessage()]
    assert len(crashes) == 1  # the traceback once per distinct error, not at every retry
    assert crashes[0].exc_info is not None


@pytest.mark.parametrize(("configured", "spoken"), [("3.0.1", "3.1.0"), ("3.1.0", "3.0.1")])
async def test_refused_registration_names_the_version_and_polling_goes_on(
    vtn: RunningVtn, caplog: pytest.LogCaptureFixture, configured: str, spoken: str
) -> None:
    base = vtn.base_url if spoken == "3.1.0" else vtn.base_url_301
    async with Utility(vtn.base_url) as bl, VtnClient(ven_settings(base, configured)) as client:
        event_id = await bl.event(0.25)
        link = VtnLink(client)
        result = await link.cycle()
        await link.cycle()
    assert link.health.registration is None
    fix = f'set vtn.version = "{spoken}" in the configuration'
    assert link.health.registration_problem is not None
    assert fix in link.health.registration_problem
    refusals = [r for r in caplog.records if "registration refused" in r.getMessage()]
    assert len(refusals) == 1  # said once, not at every cycle
    assert fix in refusals[0].getMessage()
    assert link.health.polls == 2
    assert event_id in result.added  # polled without a registration


async def subscription_urls(vtn: RunningVtn) -> list[str]:
    async with VtnClient(ven_settings(vtn.base_url)) as ven:
        found = await ven.get_all("/subscriptions")
    return sorted(op["callbackUrl"] for s in found for op in s["objectOperations"])


async def subscribe(vtn: RunningVtn, ven_name: str, path: str) -> str:
    """Subscribe ``ven_name`` with a callback that answered then, and is gone now."""
    receiver = WebhookReceiver()
    async with (
        webhook_endpoint(receiver, path) as url,
        VtnClient(replace(ven_settings(vtn.base_url), ven_name=ven_name)) as client,
    ):
        await client.ensure_subscription(url, receiver.bearer_token)
    return url


async def test_stale_subscription_is_deleted_when_the_webhook_is_off(vtn: RunningVtn) -> None:
    async with Utility(vtn.base_url):
        old = await subscribe(vtn, "gateway-1", "/old/notify")
    assert await subscription_urls(vtn) == [old]
    async with VtnClient(ven_settings(vtn.base_url)) as restarted:
        await VtnLink(restarted).cycle()  # restarted with the webhook disabled
    assert await subscription_urls(vtn) == []


async def test_moved_webhook_replaces_the_old_subscription(vtn: RunningVtn) -> None:
    async with Utility(vtn.base_url):
        await subscribe(vtn, "gateway-1", "/old/notify")
        # Not ours (another clientName): left alone. vtn_lite shows a client only its own
        # subscriptions, so both gateways use one client here.
        theirs = await subscribe(vtn, "another-gateway", "/theirs")
    receiver = WebhookReceiver()
    async with (
        webhook_endpoint(receiver, "/new/notify") as new_url,
        VtnClient(ven_settings(vtn.base_url)) as restarted,
    ):
        link = VtnLink(restarted, receiver=receiver, callback_url=new_url)
        await link.cycle()
        await link.cycle()
    assert await subscription_urls(vtn) == sorted([new_url, theirs])


def count_calls(target: object, name: str) -> list[int]:
    """Wrap the coroutine method ``name`` of ``target``; the one-item list counts its calls."""
    calls = [0]
    method = getattr(target, name)

    async def counted(*args: Any) -> Any:
        calls[0] += 1
        return await method(*args)

    setattr(target, name, counted)
    return calls


class VirtualTime:
    """The link's clock and sleep: sleeping advances the clock at once (no wall time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[tuple[float, float]] = []  # (at, seconds)
        self.hooks: list[Callable[[], Awaitable[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.now, seconds))
        self.now += seconds
        for hook in self.hooks:
            await hook()
        await asyncio.sleep(0)


POLL_S = 30.0


async def test_returning_vtn_is_polled_within_one_interval(tmp_path: Path) -> None:
    port = free_port()
    outage_s = 20 * 60.0  # long enough for the old 300-s cap to be reached
    clock = VirtualTime()
    returned_at: list[float] = []
    polled_at: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            VtnClient(ven_settings(f"http://127.0.0.1:{port}/openadr3/3.1.0"))
        )
        link = VtnLink(
            client,
            timing=LinkTiming(poll_s=POLL_S),  # backoff 1 s doubling up to 300 s
            backoff=Backoff(1.0, 300.0, rand=random.Random(4).random),
            monotonic=clock,
            sleep=clock.sleep,
        )
        cycles = count_calls(link, "cycle")
        done = asyncio.Event()

        async def world() -> None:
            if not returned_at and clock.now >= outage_s:
                await stack.enter_async_context(vtn_at(tmp_path, port))
                returned_at.append(clock.now)
            if link.health.connected and not polled_at:
                polled_at.append(clock.sleeps[-1][0])
                done.set()
                await asyncio.Event().wait()  # the link is parked; the test ends it

        clock.hooks.append(world)
        async with running(link):
            await asyncio.wait_for(done.wait(), 120)
            down = [seconds for at, seconds in clock.sleeps if at < returned_at[0]]
            failures = link.health.consecutive_failures
    # The VTN came back at returned_at (the first instant past the outage the link looked);
    # it was polled within one poll interval of being up.
    assert polled_at[0] - returned_at[0] <= POLL_S
    # Every wait while it was down was at most one interval, and jittered across it.
    assert max(down) <= POLL_S
    late = down[8:]  # past the doubling from 1 s
    assert min(late) < POLL_S / 3
    assert max(late) > 2 * POLL_S / 3
    # While down, one full cycle, then one cheap probe per attempt.
    assert cycles == [2]
    assert link.health.probes == len(down)
    assert failures == 0


async def test_refused_registration_is_retried_hourly_not_at_every_poll(vtn: RunningVtn) -> None:
    clock = VirtualTime()
    async with VtnClient(ven_settings(vtn.base_url_301, "3.1.0")) as client:
        attempts = count_calls(client, "register")
        link = VtnLink(client, monotonic=clock)
        for _ in range(3):
            await link.cycle()
            clock.now += link.timing.poll_s
        assert attempts == [1]
        assert link.health.polls == 3
        clock.now += link.timing.subscription_renew_s
        await link.cycle()
        assert attempts == [2]


async def test_a_vtn_in_trouble_during_registration_fails_the_cycle() -> None:
    from aiohttp import web

    from ven_edge.oadr3.errors import VtnHttpError

    from .loopback import serving

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 3600})

    async def busy(request: web.Request) -> web.Response:
        return web.json_response({"title": "Service Unavailable", "status": 503}, status=503)

    app = web.Application()
    app.router.add_post("/auth/token", token)
    app.router.add_route("*", "/{rest:.*}", busy)
    async with serving(app) as origin, VtnClient(ven_settings(origin)) as client:
        link = VtnLink(client)
        with pytest.raises(VtnHttpError, match="HTTP 503"):
            await link.cycle()
    # Not taken for a refusal (which would wait an hour before trying again).
    assert link.health.registration_problem is None
