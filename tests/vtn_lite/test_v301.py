"""The 3.0.1 API (base /openadr3/3.0.1): 3.0.1 shapes over the same store (reference §9)."""

from __future__ import annotations

import pytest

from tests.vtn_lite.conftest import Api, Receiver
from tests.vtn_lite.schema import validate_response

INTERVALS = [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.2]}]}]
TARGETS = [{"type": "GROUP", "values": ["g1"]}]


async def _program(api301: Api, name: str = "p301", **extra: object) -> dict:
    return await api301.ok(
        "POST",
        "/programs",
        body={
            "programName": name,
            "programLongName": "Long name",
            "retailerName": "PUC",
            "timeZoneOffset": "PT0H",
            **extra,
        },
    )


async def test_program_fields_and_targets_round_trip(api301: Api, api: Api) -> None:
    program = await _program(api301, targets=TARGETS)
    assert program["programLongName"] == "Long name"
    assert program["retailerName"] == "PUC"
    assert program["timeZoneOffset"] == "PT0H"
    assert program["targets"] == TARGETS
    # The same program through 3.1.0: attributes and string targets.
    seen31 = await api.ok("GET", f"/programs/{program['id']}")
    assert {"type": "PROGRAM_LONG_NAME", "values": ["Long name"]} in seen31["attributes"]
    assert seen31["targets"] == ["g1"]
    found = await api301.ok(
        "GET", "/programs", params={"targetType": "GROUP", "targetValues": "g1"}
    )
    assert [p["id"] for p in found] == [program["id"]]
    assert await api301.ok("GET", "/programs", params={"targetValues": "g2"}) == []


async def test_crud_all_types(api301: Api, receiver: Receiver) -> None:
    program = await _program(api301)
    status, problem = await api301.call("POST", "/events", body={"programID": program["id"]})
    assert status == 400
    assert "intervals" in problem["detail"]
    event = await api301.ok(
        "POST", "/events", body={"programID": program["id"], "intervals": INTERVALS}
    )
    updated = await api301.ok(
        "PUT",
        f"/events/{event['id']}",
        body={"programID": program["id"], "eventName": "renamed", "intervals": INTERVALS},
    )
    assert updated["eventName"] == "renamed"

    ven = await api301.ok(
        "POST",
        "/vens",
        "ven",
        {"venName": "ven301", "resources": [{"resourceName": "tank"}]},
    )
    assert [r["resourceName"] for r in ven["resources"]] == ["tank"]
    assert "clientID" not in ven
    resources = await api301.ok("GET", f"/vens/{ven['id']}/resources", "ven")
    resource_id = resources[0]["id"]
    await api301.ok(
        "PUT", f"/vens/{ven['id']}/resources/{resource_id}", "ven", {"resourceName": "tank-2"}
    )
    assert (await api301.ok("GET", f"/vens/{ven['id']}/resources/{resource_id}", "ven"))[
        "resourceName"
    ] == "tank-2"
    created = await api301.ok(
        "POST", f"/vens/{ven['id']}/resources", "ven", {"resourceName": "battery"}
    )
    await api301.ok("DELETE", f"/vens/{ven['id']}/resources/{created['id']}", "ven")
    assert (await api301.call("GET", "/vens/no-such/resources", "ven"))[0] == 404

    status, problem = await api301.call(
        "POST", "/reports", "ven", {"eventID": event["id"], "clientName": "c", "resources": []}
    )
    assert status == 400
    assert "programID" in problem["detail"]
    report = await api301.ok(
        "POST",
        "/reports",
        "ven",
        {
            "programID": program["id"],
            "eventID": event["id"],
            "clientName": "c",
            "resources": [{"resourceName": "tank", "intervals": INTERVALS}],
        },
    )
    assert report["programID"] == program["id"]
    assert (await api301.ok("GET", "/reports", "ven", params={"programID": program["id"]}))[0][
        "id"
    ] == report["id"]

    sub = await api301.ok(
        "POST",
        "/subscriptions",
        "ven",
        {
            "clientName": "c",
            "programID": program["id"],
            "objectOperations": [
                {"objects": ["EVENT"], "operations": ["POST", "PUT"], "callbackUrl": receiver.url}
            ],
        },
    )
    assert sub["objectOperations"][0]["operations"] == ["POST", "PUT"]
    assert (await api301.ok("DELETE", f"/subscriptions/{sub['id']}", "ven"))["id"] == sub["id"]
    deleted = await api301.ok("DELETE", f"/vens/{ven['id']}", "ven")
    assert [r["resourceName"] for r in deleted["resources"]] == ["tank-2"]
    await api301.ok("DELETE", f"/programs/{program['id']}")
    # Deleting a program deletes its events.
    assert (await api301.call("GET", f"/events/{event['id']}"))[0] == 404


@pytest.mark.parametrize("collection", ["programs", "events", "reports", "subscriptions", "vens"])
async def test_errors(api301: Api, collection: str) -> None:
    for method, path in (
        ("GET", f"/{collection}"),
        ("POST", f"/{collection}"),
        ("GET", f"/{collection}/some-id"),
        ("PUT", f"/{collection}/some-id"),
        ("DELETE", f"/{collection}/some-id"),
    ):
        assert (await api301.call(method, path, None, {}))[0] == 401
        assert (await api301.call(method, path, body={}, token="bad"))[0] == 401
    writer = "ven" if collection == "reports" else "bl"
    assert (await api301.call("GET", f"/{collection}/unknown", writer))[0] == 404
    assert (await api301.call("DELETE", f"/{collection}/unknown", writer))[0] == 404
    assert (await api301.call("DELETE", f"/{collection}"))[0] == 405
    assert (await api301.call("POST", f"/{collection}/x", body={}))[0] == 405
    assert (await api301.call("GET", f"/{collection}", params={"limit": 51}))[0] == 400
    assert (await api301.call("POST", f"/{collection}", body=[]))[0] in (400, 403)


async def test_wrong_role_and_pagination(api301: Api) -> None:
    assert (await api301.call("POST", "/programs", "ven", {"programName": "x"}))[0] == 403
    program = await _program(api301)
    event = await api301.ok(
        "POST", "/events", body={"programID": program["id"], "intervals": INTERVALS}
    )
    report = {
        "programID": program["id"],
        "eventID": event["id"],
        "clientName": "c",
        "resources": [],
    }
    assert (await api301.call("POST", "/reports", "bl", report))[0] == 403
    assert (await api301.call("PUT", f"/events/{event['id']}", "ven", {}))[0] == 403
    assert (
        await api301.call(
            "PUT", "/events/unknown", "bl", {"programID": program["id"], "intervals": INTERVALS}
        )
    )[0] == 404
    for n in range(4):
        await _program(api301, f"page-{n}")
    everything = [p["id"] for p in await api301.ok("GET", "/programs")]
    pages = [
        p["id"]
        for skip in range(0, 6, 2)
        for p in await api301.ok("GET", "/programs", params={"skip": skip, "limit": 2})
    ]
    assert pages == everything
    assert len(everything) == 5


async def test_ven_reads_untargeted_granted_and_asked_for(api301: Api) -> None:
    program = await _program(api301)
    targeted = await api301.ok(
        "POST",
        "/events",
        body={"programID": program["id"], "targets": TARGETS, "intervals": INTERVALS},
    )
    plain = await api301.ok(
        "POST", "/events", body={"programID": program["id"], "intervals": INTERVALS}
    )
    # 3.0.1 read_all: the targets a VEN asks for count (docs/vtn-lite.md "3.0.1 and 3.1.0").
    seen = await api301.ok(
        "GET", "/events", "ven", params={"targetType": "GROUP", "targetValues": "g1"}
    )
    assert [e["id"] for e in seen] == [targeted["id"], plain["id"]]
    assert [e["id"] for e in await api301.ok("GET", "/events", "ven")] == [plain["id"]]


def test_validator_rejects_out_of_schema_bodies() -> None:
    with pytest.raises(AssertionError, match="programName"):
        validate_response("3.0.1", "GET", "/programs", 200, [{"id": "x"}])
    with pytest.raises(AssertionError, match="date-time"):
        validate_response(
            "3.1.0",
            "GET",
            "/events/x",
            200,
            {
                "id": "x",
                "createdDateTime": "yesterday",
                "modificationDateTime": "yesterday",
                "objectType": "EVENT",
                "programID": "p",
            },
        )
