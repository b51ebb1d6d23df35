"""The daemon's own servers stop reading a body they refuse: a sender streaming 50 MB after the
answer is cut off instead of being read on (aiohttp's lingering close reads for 10 s by default,
which at loopback speed is the whole 50 MB and more)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tests.conftest import free_port
from ven_edge.grid_port import WEBHOOK_PATH, VtnGridPort
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import WebhookReceiver
from ven_edge.store import StateStore
from ven_edge.web.app import create_app, start_web

TOKEN = "tok-refused"
FLOOD_BYTES = 50 * 1024 * 1024
BLOCK = b"[" + b" " * (64 * 1024 - 1)


async def stream_flood(port: int, path: str) -> int:
    """POST ``FLOOD_BYTES`` chunked as fast as the server takes them; the bytes it took (as far
    as the sender can tell: what the kernel accepted before the connection was cut)."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    sent = 0
    try:
        async with asyncio.timeout(120):
            while sent < FLOOD_BYTES:
                writer.write(f"{len(BLOCK):x}\r\n".encode() + BLOCK + b"\r\n")
                await writer.drain()
                sent += len(BLOCK)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except ConnectionError:
        pass  # cut off: what we expect
    finally:
        writer.close()
    return sent


async def test_the_webhook_stops_reading_a_refused_50_mb_body(tmp_path: Path) -> None:
    port = free_port()
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/x"))
    receiver = WebhookReceiver(TOKEN, client=client)
    grid = VtnGridPort(
        client,
        StateStore(tmp_path),
        clock=lambda: datetime.now(UTC),
        webhook=receiver,
        callback_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        bind=("127.0.0.1", port),
    )
    await grid.start()
    try:
        sent = await stream_flood(port, WEBHOOK_PATH)

        # An HTTP client that reads while it sends still gets the answer.
        async def flood() -> AsyncIterator[bytes]:
            for _ in range(FLOOD_BYTES // len(BLOCK)):
                yield BLOCK

        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with session.post(url, data=flood(), headers=headers) as resp:
                status = resp.status
    finally:
        await grid.stop()
    assert receiver.rejected == 2
    assert status == 413
    # The server read the 512 KiB it allows, then nothing: what the sender got rid of beyond
    # that sat in the two sockets' buffers (a few MB), far from the 50 MB it tried.
    assert sent < FLOOD_BYTES // 4, sent


async def test_the_status_page_does_not_read_a_body_sent_with_a_request() -> None:
    app = create_app(lambda: None)  # type: ignore[arg-type,return-value]
    runner, _ = await start_web(app, "127.0.0.1", 0)
    try:
        sent = await stream_flood(runner.addresses[0][1], "/")
    finally:
        await runner.cleanup()
    assert sent < FLOOD_BYTES // 4, sent
