"""A gateway's VTN link with MQTT push, run against a test VTN, and the event bodies the tests
create: shared by the MQTT link tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.vtn_lite.conftest import CLIENTS
from ven_edge.oadr3.client import VtnClient, VtnSettings
from ven_edge.oadr3.link import LinkTiming, VtnLink
from ven_edge.oadr3.mqttpush import MqttPush
from vtn_lite.server import RunningVtn

# Polls only when asked: on start, and at once when a push asks for one.
SLOW = LinkTiming(poll_s=3600, poll_when_subscribed_s=3600, forced_poll_gap_s=0)


@asynccontextmanager
async def running_link(
    vtn: RunningVtn,
    *,
    mqtt: MqttPush | None = None,
    credentials: tuple[str, str] | None = None,
    timing: LinkTiming = SLOW,
) -> AsyncIterator[tuple[VtnLink, MqttPush]]:
    """The link of a gateway logged in as ``credentials`` (default: the test VEN client)."""
    cid, secret = credentials or CLIENTS["ven"][:2]
    settings = VtnSettings(
        base_url=vtn.base_url, client_id=cid, client_secret=secret, ven_name=f"gw-{cid}"
    )
    client = VtnClient(settings)
    push = mqtt or MqttPush()
    link = VtnLink(client, mqtt=push, timing=timing)
    task = asyncio.create_task(link.run())
    try:
        yield link, push
        assert not task.done()  # nothing ended the link
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        push.stop()
        await client.close()


def event_body(program_id: str, name: str) -> dict[str, Any]:
    return {
        "programID": program_id,
        "eventName": name,
        "intervalPeriod": {"start": "2030-01-01T10:00:00Z", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
    }
