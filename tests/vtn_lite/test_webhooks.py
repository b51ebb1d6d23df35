"""Webhook subscriptions: echo challenge, delivery with the bearer token, retries, SSRF refusals."""

from __future__ import annotations

import pytest

from tests.vtn_lite.conftest import Api, Receiver, loopback_app, make_config
from tests.vtn_lite.kinds import INTERVALS, make_world
from tests.vtn_lite.schema import validate_component
from vtn_lite.netguard import CallbackRefused, address_allowed, check_callback_url
from vtn_lite.server import RunningVtn, running_vtn


def _subscription(url: str, objects: list[str], operations: list[str], **extra: object) -> dict:
    return {
        "clientName": "listener",
        "objectOperations": [
            {
                "objects": objects,
                "operations": operations,
                "callbackUrl": url,
                "bearerToken": "callback-secret",
            }
        ],
        **extra,
    }


async def test_challenge_and_notifications(
    api: Api, receiver: Receiver, server: RunningVtn
) -> None:
    world = await make_world(api, receiver)
    await api.ok(
        "POST",
        "/subscriptions",
        "ven",
        _subscription(receiver.url, ["EVENT"], ["CREATE", "UPDATE", "DELETE"]),
    )
    assert receiver.challenges == 1
    event = await api.ok(
        "POST", "/events", body={"programID": world.program_id, "intervals": INTERVALS}
    )
    await api.ok(
        "PUT",
        f"/events/{event['id']}",
        body={"programID": world.program_id, "eventName": "x", "intervals": INTERVALS},
    )
    await api.ok("DELETE", f"/events/{event['id']}")
    await receiver.wait_for(3, server)
    assert [auth for auth, _ in receiver.received] == ["Bearer callback-secret"] * 3
    notes = [body for _, body in receiver.received]
    for note in notes:
        validate_component("3.1.0", "notification", note)
    assert [n["operation"] for n in notes] == ["CREATE", "UPDATE", "DELETE"]  # in order
    assert {n["objectType"] for n in notes} == {"EVENT"}
    assert {n["object"]["id"] for n in notes} == {event["id"]}
    # A program change is not subscribed to.
    await api.ok("POST", "/programs", body={"programName": "quiet"})
    await server.notifier.idle()
    assert len(receiver.received) == 3


async def test_failed_echo_creates_nothing(api: Api, receiver: Receiver) -> None:
    receiver.echo_ok = False
    status, problem = await api.call(
        "POST", "/subscriptions", "ven", _subscription(receiver.url, ["EVENT"], ["CREATE"])
    )
    assert status == 400
    assert "echo" in problem["detail"]
    assert await api.ok("GET", "/subscriptions", "ven") == []


async def test_targeted_notifications_respect_privacy(
    api: Api, receiver: Receiver, server: RunningVtn
) -> None:
    world = await make_world(api, receiver)
    await api.ok(
        "POST", "/subscriptions", "ven", _subscription(receiver.url, ["EVENT"], ["CREATE"])
    )
    await api.ok(
        "POST",
        "/events",
        body={"programID": world.program_id, "targets": ["hidden"], "intervals": INTERVALS},
    )
    visible = await api.ok(
        "POST", "/events", body={"programID": world.program_id, "intervals": INTERVALS}
    )
    await server.notifier.idle()
    assert [body["object"]["id"] for _, body in receiver.received] == [visible["id"]]


async def test_retries_then_failure_state(api: Api, receiver: Receiver, server: RunningVtn) -> None:
    world = await make_world(api, receiver)
    sub = await api.ok(
        "POST", "/subscriptions", "bl", _subscription(receiver.url, ["PROGRAM"], ["CREATE"])
    )
    receiver.fail_next = 2  # two 503s, then success on the third and last attempt
    await api.ok("POST", "/programs", body={"programName": "retried"})
    await receiver.wait_for(1, server)
    state = await server.parts.store.delivery_state(sub["id"])
    assert state is not None
    assert (state.state, state.delivered) == ("OK", 1)

    receiver.fail_next = 10
    await api.ok("POST", "/programs", body={"programName": "lost"})
    await server.notifier.idle()
    assert len(receiver.received) == 1
    async with api.session.get(
        server.url + "/vtn-lite/deliveries",
        headers={"Authorization": f"Bearer {api.tokens['bl']}"},
    ) as response:
        states = await response.json()
    assert states == [
        {
            "subscriptionID": sub["id"],
            "state": "FAILED",
            "delivered": 1,
            "consecutiveFailures": 3,
            "lastError": "callback answered 503",
        }
    ]
    assert world.program_id


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/cb",
        "https://127.0.0.1/cb",
        "https://10.1.2.3/cb",
        "https://[::1]/cb",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:192.168.1.1]/cb",
        "https://localhost/cb",
        "ftp://example.org/cb",
        "https://user:pw@example.org/cb",
    ],
)
async def test_ssrf_refusals(session: object, url: str) -> None:
    config = make_config(allow_local_callbacks=False)
    async with running_vtn(config) as server:
        from tests.vtn_lite.conftest import get_token

        token = await get_token(session, server.base_url, "ven")  # type: ignore[arg-type]
        api = Api(session, server.base_url, {"ven": token})  # type: ignore[arg-type]
        status, problem = await api.call(
            "POST", "/subscriptions", "ven", _subscription(url, ["EVENT"], ["CREATE"])
        )
        assert status == 400, problem
        assert await api.ok("GET", "/subscriptions", "ven") == []


def test_address_policy() -> None:
    assert address_allowed("93.184.216.34", allow_local=False)
    for private in (
        "127.0.0.1",
        "10.0.0.1",
        "192.168.0.1",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "224.0.0.1",
    ):
        assert not address_allowed(private, allow_local=False)
        assert address_allowed(private, allow_local=True)
    with pytest.raises(CallbackRefused):
        check_callback_url("http://93.184.216.34/", allow_local=False)
    assert check_callback_url("https://example.org/cb", allow_local=False) == "example.org"


async def test_redirects_are_not_followed(api: Api, receiver: Receiver) -> None:
    from aiohttp import web

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(receiver.url + "?" + request.query_string)

    async with loopback_app("/r", redirect) as url:
        status, _ = await api.call(
            "POST",
            "/subscriptions",
            "ven",
            _subscription(url, ["EVENT"], ["CREATE"]),
        )
        assert status == 400
        assert receiver.challenges == 0


async def test_301_subscribers_get_301_notifications(
    api301: Api, receiver: Receiver, server: RunningVtn
) -> None:
    program = await api301.ok("POST", "/programs", body={"programName": "p301"})
    await api301.ok(
        "POST",
        "/subscriptions",
        "ven",
        {
            "clientName": "c",
            "programID": program["id"],
            "objectOperations": [
                {"objects": ["EVENT"], "operations": ["POST"], "callbackUrl": receiver.url}
            ],
        },
    )
    targets = [{"type": "GROUP", "values": ["everyone"]}]
    await api301.ok(
        "POST",
        "/events",
        body={
            "programID": program["id"],
            "targets": targets,
            "intervalPeriod": {"start": "2026-01-01T00:00:00Z", "duration": "PT1H"},
            "intervals": INTERVALS,
        },
    )
    # The VEN is not granted "everyone": nothing. An untargeted event: one notification.
    await api301.ok("POST", "/events", body={"programID": program["id"], "intervals": INTERVALS})
    await receiver.wait_for(1, server)
    assert len(receiver.received) == 1
    note = receiver.received[0][1]
    validate_component("3.0.1", "notification", note)
    assert note["operation"] == "POST"
    assert note["object"]["intervals"] == INTERVALS


async def test_targeted_subscription_matches_what_polling_shows(
    api: Api, receiver: Receiver, server: RunningVtn
) -> None:
    """docs/openadr3.md §10.1 #14: with targets on both the subscription and the event, and
    none granted to the ven object, the VEN neither polls nor hears the event; once business
    logic grants the target, both agree again."""
    world = await make_world(api, receiver)
    await api.ok(
        "POST",
        "/subscriptions",
        "ven",
        _subscription(receiver.url, ["EVENT"], ["CREATE", "UPDATE"], targets=["group-a"]),
    )
    body = {"programID": world.program_id, "targets": ["group-a"], "intervals": INTERVALS}
    event = await api.ok("POST", "/events", body=body)
    await server.notifier.idle()
    assert receiver.received == []
    polled = await api.ok("GET", "/events", "ven", params={"targets": "group-a"})
    assert event["id"] not in [e["id"] for e in polled]
    await api.ok(
        "PUT",
        f"/vens/{world.ven_id}",
        body={
            "objectType": "BL_VEN_REQUEST",
            "clientID": "ven_client",
            "venName": "ven-one",
            "targets": ["group-a"],
        },
    )
    await api.ok("PUT", f"/events/{event['id']}", body={**body, "eventName": "now-granted"})
    await receiver.wait_for(1, server)
    (note,) = [n for _, n in receiver.received if n["objectType"] == "EVENT"]
    assert note["object"]["id"] == event["id"]
    assert note["targets"] == ["group-a"]
    polled = await api.ok("GET", "/events", "ven", params={"targets": "group-a"})
    assert event["id"] in [e["id"] for e in polled]
