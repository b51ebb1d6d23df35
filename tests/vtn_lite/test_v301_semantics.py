"""Where 3.0.1 and 3.1.0 differ, the 3.0.1 API answers as 3.0.1 does: no echo challenge,
``read_all`` (requested targets count), and 400 rather than 409 for a missing programID.
"""

from __future__ import annotations

from tests.vtn_lite.conftest import Api, Receiver
from tests.vtn_lite.kinds import INTERVALS, make_world


def _subscription(url: str, program_id: str) -> dict[str, object]:
    return {
        "programID": program_id,
        "clientName": "listener",
        "objectOperations": [{"objects": ["EVENT"], "operations": ["POST"], "callbackUrl": url}],
    }


async def test_3_0_1_subscriptions_get_no_echo_challenge(
    api: Api, api301: Api, receiver: Receiver
) -> None:
    world = await make_world(api, receiver)
    receiver.echo_ok = False  # answers 200 without the echo, as a 3.0.1 callback may
    created = await api301.ok(
        "POST", "/subscriptions", "ven", _subscription(receiver.url, world.program_id)
    )
    assert receiver.challenges == 0
    await api301.ok(
        "PUT",
        f"/subscriptions/{created['id']}",
        "ven",
        _subscription(receiver.url, world.program_id),
    )
    assert receiver.challenges == 0
    # 3.1.0 defines the challenge, so there the same callback is refused.
    body31 = {**_subscription(receiver.url, world.program_id)}
    body31["objectOperations"] = [
        {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": receiver.url}
    ]
    assert (await api.call("POST", "/subscriptions", "ven", body31))[0] == 400
    assert receiver.challenges == 1
    # The address checks still apply on 3.0.1.
    refused = _subscription("ftp://example.org/cb", world.program_id)
    assert (await api301.call("POST", "/subscriptions", "ven", refused))[0] == 400


async def test_3_0_1_read_all_shows_targeted_programs_asked_for(api: Api, api301: Api) -> None:
    program = await api.ok(
        "POST", "/programs", body={"programName": "grouped", "targets": ["group-1"]}
    )
    event = await api.ok(
        "POST",
        "/events",
        body={"programID": program["id"], "targets": ["group-1"], "intervals": INTERVALS},
    )
    # ven_client has no ven object, so nothing is granted to it.
    asked = {"targetType": "GROUP", "targetValues": "group-1"}
    for path, obj in (("/programs", program), ("/events", event)):
        found = await api301.ok("GET", path, "ven", params=asked)
        assert [item["id"] for item in found] == [obj["id"]]
        assert found[0]["targets"] == [{"type": "TARGET", "values": ["group-1"]}]
        assert (await api301.ok("GET", f"{path}/{obj['id']}", "ven", params=asked))["id"] == obj[
            "id"
        ]
        # Not asked for: not shown; and 3.1.0 keeps its object privacy.
        assert await api301.ok("GET", path, "ven") == []
        assert (await api301.call("GET", f"{path}/{obj['id']}", "ven"))[0] == 404
        assert await api.ok("GET", path, "ven", params={"targets": "group-1"}) == []


async def test_missing_program_is_409_on_3_1_and_400_on_3_0_1(
    api: Api, api301: Api, receiver: Receiver
) -> None:
    event = {
        "programID": "nope",
        "intervalPeriod": {"start": "2026-01-01T00:00:00Z"},
        "intervals": INTERVALS,
    }
    assert (await api.call("POST", "/events", "bl", event))[0] == 409
    assert (await api301.call("POST", "/events", "bl", event))[0] == 400
    sub31 = {
        "programID": "nope",
        "clientName": "x",
        "objectOperations": [
            {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": receiver.url}
        ],
    }
    assert (await api.call("POST", "/subscriptions", "ven", sub31))[0] == 409
    assert (
        await api301.call("POST", "/subscriptions", "ven", _subscription(receiver.url, "nope"))
    )[0] == 400
    assert receiver.challenges == 0  # refused before any callback is called


async def test_3_0_1_report_descriptor_targets_are_value_maps(
    api: Api, api301: Api, receiver: Receiver
) -> None:
    world = await make_world(api, receiver)
    typed = [{"type": "GROUP", "values": ["g1"]}]
    body = {
        "programID": world.program_id,
        "intervalPeriod": {"start": "2026-01-01T00:00:00Z"},
        "intervals": INTERVALS,
        "reportDescriptors": [{"payloadType": "USAGE", "targets": typed}],
    }
    created = await api301.ok("POST", "/events", "bl", body)
    assert created["reportDescriptors"][0]["targets"] == typed
    # 3.1.0 readers get the values as plain targets.
    read31 = await api.ok("GET", f"/events/{created['id']}", "bl")
    assert read31["reportDescriptors"][0]["targets"] == ["g1"]


async def test_3_0_1_resources_of_a_missing_ven_are_404(api301: Api) -> None:
    status, _ = await api301.call(
        "POST", "/vens/no-such-ven/resources", "bl", {"resourceName": "tank"}
    )
    assert status == 404
