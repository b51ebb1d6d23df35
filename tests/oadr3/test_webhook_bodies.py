"""Webhook bodies on a real loopback server: large, chunked, oversized, deeply nested and
snake_case notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from ven_edge.grid_port import LINGERING_TIME_S
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import (
    DEFAULT_MAX_BODY_BYTES,
    WebhookReceiver,
    camel_key,
    parse_notification,
)

from .loopback import serving, webhook_endpoint

TOKEN = "tok-bodies"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def big_event(intervals: int) -> dict[str, Any]:
    return {
        "id": "big",
        "programID": "p1",
        "intervalPeriod": {"start": "2026-07-01T00:00:00Z", "duration": "PT1M"},
        "intervals": [
            {"id": i, "payloads": [{"type": "PRICE", "values": [0.1 + i / 1e6]}]}
            for i in range(intervals)
        ],
    }


def notification(obj: dict[str, Any]) -> bytes:
    return json.dumps({"objectType": "EVENT", "operation": "CREATE", "object": obj}).encode()


@pytest.fixture
async def hook() -> AsyncIterator[tuple[WebhookReceiver, str, aiohttp.ClientSession]]:
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/x"), wall_clock=lambda: NOW)
    receiver = WebhookReceiver(TOKEN, client=client)
    # The daemon's server does not read on after a refused body (aiohttp would for 10 s).
    endpoint = webhook_endpoint(receiver, lingering_time=LINGERING_TIME_S)
    async with endpoint as url, aiohttp.ClientSession() as session:
        yield receiver, url, session
    await client.close()


async def post(session: aiohttp.ClientSession, url: str, data: Any) -> tuple[int, str]:
    async with session.post(url, data=data, headers=HEADERS) as resp:
        return resp.status, await resp.text()


async def test_a_208_kib_body_in_one_write_is_read_whole() -> None:
    """The headers first, then, once the handler is waiting for it, the body in one write: the
    handler sees it arrive in pieces and must read until all Content-Length bytes are in."""
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/x"), wall_clock=lambda: NOW)
    receiver = WebhookReceiver(TOKEN, client=client)
    entered = asyncio.Event()

    @web.middleware
    async def mark_entered(request: web.Request, handler: Handler) -> web.StreamResponse:
        entered.set()
        return await handler(request)

    app = web.Application(middlewares=[mark_entered])
    receiver.add_routes(app, "/notify")
    body = notification(big_event(2920))
    assert 208 * 1024 < len(body) < DEFAULT_MAX_BODY_BYTES
    async with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST /notify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        async with asyncio.timeout(30):
            await entered.wait()
            writer.write(body)
            await writer.drain()
            answer = await reader.read()
        writer.close()
    await client.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert len(client.timeline) == 2920


async def test_a_chunked_body_of_several_chunks_is_read_whole(
    hook: tuple[WebhookReceiver, str, aiohttp.ClientSession],
) -> None:
    receiver, url, session = hook
    body = notification(big_event(400))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]
            await asyncio.sleep(0)  # separate writes: the server sees several chunks

    assert await post(session, url, chunks()) == (200, "ok")
    assert receiver.client is not None
    assert len(receiver.client.timeline) == 400


async def test_a_50_mb_chunked_body_is_refused_with_413(
    hook: tuple[WebhookReceiver, str, aiohttp.ClientSession],
) -> None:
    receiver, url, session = hook

    async def flood() -> AsyncIterator[bytes]:
        block = b"[" + b" " * (1024 * 1024 - 1)
        for _ in range(50):
            yield block

    status, text = await post(session, url, flood())
    assert (status, text) == (413, "notification too large")
    assert receiver.rejected == 1
    assert receiver.last is None  # and woken: the link polls instead
    assert receiver.notified.is_set()


async def test_a_body_nested_50000_deep_is_a_400_not_a_500(
    hook: tuple[WebhookReceiver, str, aiohttp.ClientSession],
) -> None:
    receiver, url, session = hook
    for body in (b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        status, text = await post(session, url, body)
        assert status == 400
        assert (
            text == "malformed notification: <root>: notification is nested deeper than 64 levels"
        )
    # A JSON string holding the JSON (quirk 4) is bounded the same way.
    status, _ = await post(session, url, json.dumps("[" * 5000 + "]" * 5000).encode())
    assert status == 400
    assert receiver.rejected == 3


async def test_snake_case_keys_at_any_depth_are_read_as_the_spec_names(
    hook: tuple[WebhookReceiver, str, aiohttp.ClientSession],
) -> None:
    """The Alliance's reference VTN writes the object's keys in snake_case too."""
    receiver, url, session = hook
    body = {
        "object_type": "EVENT",
        "operation": "POST",
        "object": {
            "id": "snake",
            "program_id": "p1",
            "event_name": "Snake",
            "created_date_time": "2026-07-01 10:00:00",
            "modification_date_time": "2026-07-01 10:00:00",
            "interval_period": {
                "start": "2026-07-01T13:00:00Z",
                "duration": "PT1H",
                "randomize_start": "PT0S",
            },
            "intervals": [
                {
                    "id": 0,
                    "interval_period": {"start": "2026-07-01T14:00:00Z", "duration": "PT30M"},
                    "payloads": [{"type": "SIMPLE", "values": [2]}],
                }
            ],
            "payload_descriptors": [{"payload_type": "SIMPLE", "units": None}],
        },
    }
    assert await post(session, url, json.dumps(body).encode()) == (200, "ok")
    client = receiver.client
    assert client is not None
    event = client.events["snake"]
    assert (event.program_id, event.name) == ("p1", "Snake")
    assert event.modified == datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert [(i.start.hour, i.end.minute) for i in client.timeline.intervals] == [(14, 30)]
    assert receiver.last is not None
    assert receiver.last.object_type == "EVENT"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("interval_period", "intervalPeriod"),
        ("created_date_time", "createdDateTime"),
        ("program_id", "programID"),
        ("ven_id", "venID"),
        ("callback_url", "callbackUrl"),
        ("token_url", "tokenURL"),
        ("objectType", "objectType"),
        ("id", "id"),
        ("_private", "_private"),
        ("OBJECT_TYPE", "OBJECT_TYPE"),
        ("a__b", "a__b"),
    ],
)
def test_snake_case_keys_map_to_the_yaml_names(key: str, expected: str) -> None:
    assert camel_key(key) == expected


def test_the_camel_case_spelling_wins_over_its_snake_case_twin() -> None:
    body = {"object_type": "PROGRAM", "objectType": "EVENT", "operation": "CREATE"}
    assert parse_notification(json.dumps(body).encode()).object_type == "EVENT"
