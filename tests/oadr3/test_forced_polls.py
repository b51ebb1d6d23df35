"""Polls asked for by notifications are coalesced on the link's clock: a VTN flooding the webhook
with notifications the gateway cannot use (or program changes) gets about one poll per
``forced_poll_gap_s``, not one per notification; a single one is still polled at once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.eventstore import PollResult
from ven_edge.oadr3.link import LinkTiming, VtnLink
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import Notification, WebhookReceiver

GAP_S = 5.0


class ManualClock:
    """The link's monotonic clock and sleep; time moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        await future

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in self._sleepers:
            if deadline <= self.now and not future.done():
                future.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def link_with_cycles() -> AsyncIterator[
    tuple[VtnLink, WebhookReceiver, ManualClock, list[float]]
]:
    clock = ManualClock()
    receiver = WebhookReceiver("tok")
    async with VtnClient(VtnSettings(base_url="http://127.0.0.1:9/x")) as client:
        link = VtnLink(
            client,
            receiver=receiver,
            timing=LinkTiming(poll_s=600.0, poll_when_subscribed_s=600.0, forced_poll_gap_s=GAP_S),
            monotonic=clock,
            sleep=clock.sleep,
        )
        cycles: list[float] = []

        async def cycle() -> PollResult:
            cycles.append(clock.now)
            return PollResult()

        link.cycle = cycle  # type: ignore[method-assign]
        task = asyncio.create_task(link.run())
        try:
            await settle()
            yield link, receiver, clock, cycles
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


UNUSABLE_EVENT = Notification("EVENT", "CREATE", {"id": "bad", "intervals": "not a list"})
PROGRAM_CHANGE = Notification("PROGRAM", "UPDATE", {"id": "p1"})


async def test_a_flood_of_unusable_notifications_polls_once_per_gap() -> None:
    async with link_with_cycles() as (_, receiver, clock, cycles):
        assert cycles == [0.0]  # the start-up cycle
        # 30 s of notifications, ten a second, alternating the two kinds that force a poll.
        for n in range(300):
            await receiver.dispatch(UNUSABLE_EVENT if n % 2 else PROGRAM_CHANGE)
            await settle()
            clock.advance(0.1)
        await settle()
    gaps = [b - a for a, b in itertools.pairwise(cycles)]
    assert len(cycles) <= 1 + 30 / GAP_S + 1, cycles
    assert len(cycles) >= 30 / GAP_S, cycles  # still polled: the notifications were not ignored
    assert min(gaps) >= GAP_S - 1e-9, gaps


async def test_one_unusable_notification_after_a_quiet_spell_polls_at_once() -> None:
    async with link_with_cycles() as (_, receiver, clock, cycles):
        clock.advance(60.0)
        await settle()
        assert cycles == [0.0]
        await receiver.dispatch(UNUSABLE_EVENT)
        await settle()
    assert cycles == [0.0, 60.0]


async def test_one_within_the_gap_of_the_last_poll_is_polled_when_the_gap_ends() -> None:
    async with link_with_cycles() as (_, receiver, clock, cycles):
        clock.advance(1.0)
        await receiver.dispatch(PROGRAM_CHANGE)
        await settle()
        assert cycles == [0.0]  # not yet: the last poll is 1 s old
        clock.advance(GAP_S - 1.0)
        await settle()
    assert cycles == [0.0, GAP_S]
