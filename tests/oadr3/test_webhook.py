"""The webhook receiver on a real loopback aiohttp server (no VTN needed for these cases)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import Notification, WebhookReceiver, parse_notification

from .loopback import webhook_endpoint

TOKEN = "s3cret-token"
EVENT = {
    "id": "ev9",
    "programID": "p1",
    "modificationDateTime": "2026-11-22 03:53:46",
    "intervalPeriod": {"start": "2030-01-01T10:00:00Z", "duration": "PT1H"},
    "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [2]}]}],
}


class Served:
    def __init__(self, receiver: WebhookReceiver, url: str, session: aiohttp.ClientSession):
        self.receiver = receiver
        self.url = url
        self.session = session

    async def post(self, body: Any, token: str | None = TOKEN) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(self.url, data=data, headers=headers) as resp:
            await resp.read()
            return resp


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/openadr3/3.1.0"))
    seen: list[Notification] = []
    receiver = WebhookReceiver(TOKEN, client=client, on_notification=seen.append)
    receiver.seen = seen  # type: ignore[attr-defined]
    async with webhook_endpoint(receiver) as url, aiohttp.ClientSession() as session:
        yield Served(receiver, url, session)
    await client.close()


async def test_echo_challenge_both_forms(served: Served) -> None:
    async with served.session.get(served.url, params={"echo": "abc123"}) as resp:
        assert (resp.status, await resp.text()) == (200, "abc123")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with served.session.get(
        served.url + "/echo", params={"echo": "test_echo"}, headers=headers
    ) as resp:
        assert (resp.status, await resp.text()) == (200, "test_echo")
    bad = {"Authorization": "Bearer nope"}
    async with served.session.get(served.url, params={"echo": "x"}, headers=bad) as resp:
        assert resp.status == 401
    async with served.session.get(served.url) as resp:
        assert resp.status == 400


async def test_notification_applies_event_and_wakes_the_loop(served: Served) -> None:
    waiter = asyncio.create_task(served.receiver.wait())
    resp = await served.post({"objectType": "EVENT", "operation": "CREATE", "object": EVENT})
    assert resp.status == 200
    async with asyncio.timeout(10):  # nothing polls here: only the notification can wake it
        await waiter
    client = served.receiver.client
    assert client is not None
    assert client.timeline.kinds() == {"SIMPLE"}
    delete = {"object_type": "EVENT", "operation": "DELETE", "object": {"id": "ev9"}}
    resp = await served.post(json.dumps(delete))  # quirks 4 and 5: double-encoded snake_case
    assert resp.status == 200
    assert len(client.timeline) == 0
    assert [n.operation for n in served.receiver.seen] == ["CREATE", "DELETE"]  # type: ignore[attr-defined]


async def test_bad_token_missing_token_and_oversized_body_refused(served: Served) -> None:
    note = {"objectType": "EVENT", "operation": "POST", "object": EVENT}
    assert (await served.post(note, token="wrong")).status == 401
    assert (await served.post(note, token=None)).status == 401
    assert served.receiver.rejected == 2
    assert not served.receiver.notified.is_set()  # a stranger cannot make the gateway poll
    assert (await served.post(b"x" * (served.receiver.max_body_bytes + 10))).status == 413
    assert (await served.post(b"{not json")).status == 400
    assert served.receiver.received == 0
    assert served.receiver.rejected == 4
    # The VTN's unusable notifications wake the link without a notification: it polls at once.
    assert served.receiver.notified.is_set()
    assert served.receiver.last is None


async def test_malformed_event_in_notification_keeps_last_good_timeline(served: Served) -> None:
    await served.post({"objectType": "EVENT", "operation": "CREATE", "object": EVENT})
    client = served.receiver.client
    assert client is not None
    good = client.timeline
    broken = dict(EVENT, intervals=[{"id": 0, "payloads": [{"type": "SIMPLE", "values": [[]]}]}])
    resp = await served.post({"objectType": "EVENT", "operation": "UPDATE", "object": broken})
    assert resp.status == 200  # accepted (the VTN is not to blame for retrying); not applied
    assert client.timeline == good


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"objectType":"PROGRAM","operation":"PUT","object":{"id":"p"}}', ("PROGRAM", "UPDATE")),
        (b'{"object_type":"event","operation":"create"}', ("EVENT", "CREATE")),
    ],
)
def test_parse_notification_variants(body: bytes, expected: tuple[str, str]) -> None:
    note = parse_notification(body)
    assert (note.object_type, note.operation) == expected


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"[]", ""),
        (b'{"operation":"CREATE"}', "objectType"),
        (b'{"objectType":"EVENT"}', "operation"),
        (b'{"objectType":"EVENT","operation":"FROB"}', "operation"),
        (b'{"objectType":"EVENT","operation":"CREATE","object":[1]}', "object"),
    ],
)
def test_parse_notification_errors(body: bytes, where: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_notification(body)
    assert info.value.where == where


def test_receiver_repr_hides_token() -> None:
    receiver = WebhookReceiver(TOKEN)
    assert TOKEN not in repr(receiver)
    assert len(WebhookReceiver().bearer_token) >= 32


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["objectType", "object_type", "operation", "object", "targets", "x"]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=10,
    ).map(lambda doc: json.dumps(doc).encode())
)
def test_parse_notification_fuzz(body: bytes) -> None:
    """Any body gives a Notification or a PayloadError, never another exception."""
    try:
        note = parse_notification(body)
    except PayloadError:
        return  # the precise messages are checked in test_parse_notification_errors
    assert note.operation in {"CREATE", "READ", "UPDATE", "DELETE"}
    assert note.object_type


@pytest.mark.parametrize("drop", ["null", "absent"])
async def test_update_without_intervals_keeps_the_events_signals(
    served: Served, drop: str, caplog: pytest.LogCaptureFixture
) -> None:
    await served.post({"objectType": "EVENT", "operation": "CREATE", "object": EVENT})
    client = served.receiver.client
    assert client is not None
    good = client.timeline
    assert good.intervals
    broken = dict(EVENT, intervals=None)
    if drop == "absent":
        del broken["intervals"]
    with caplog.at_level("WARNING"):
        resp = await served.post({"objectType": "EVENT", "operation": "UPDATE", "object": broken})
    assert resp.status == 200
    assert client.timeline == good
    assert "intervals: missing or null" in caplog.text
