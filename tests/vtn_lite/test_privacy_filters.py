"""Filters per version and 3.1 object privacy with target hiding (Definition "Object Privacy")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.vtn_lite.conftest import Api, Receiver
from tests.vtn_lite.kinds import INTERVALS, grant, make_world
from ven_edge.oadr3.timefmt import format_datetime


async def test_targeted_events_need_granted_targets(api: Api, receiver: Receiver) -> None:
    world = await make_world(api, receiver)
    targeted = await api.ok(
        "POST",
        "/events",
        body={
            "programID": world.program_id,
            "targets": ["group-a", "secret-b"],
            "intervals": INTERVALS,
        },
    )
    ids = lambda items: [item["id"] for item in items]  # noqa: E731
    # Not granted: only the untargeted world event is visible, and the targeted one is 404.
    assert ids(await api.ok("GET", "/events", "ven")) == [world.event_id]
    assert (await api.call("GET", f"/events/{targeted['id']}", "ven"))[0] == 404
    assert ids(await api.ok("GET", "/events", "ven", params={"targets": "group-a"})) == [
        world.event_id
    ]
    await grant(api, world.ven_id, ["group-a"])
    # Granted: visible with or without targets in the query, and other targets are hidden.
    for params in (None, {"targets": "group-a"}):
        events = await api.ok("GET", "/events", "ven", params=params)
        assert ids(events) == [world.event_id, targeted["id"]]
        assert events[1]["targets"] == ["group-a"]
    # Asking for a target that is not granted reveals nothing.
    assert ids(await api.ok("GET", "/events", "ven", params={"targets": "secret-b"})) == [
        world.event_id
    ]
    # Another VEN without a ven object sees only the untargeted event.
    assert ids(await api.ok("GET", "/events", "ven2")) == [world.event_id]
    # Business logic sees all targets and filters by them.
    bl_view = await api.ok("GET", f"/events/{targeted['id']}", "bl")
    assert bl_view["targets"] == ["group-a", "secret-b"]
    assert ids(await api.ok("GET", "/events", "bl", params={"targets": "secret-b"})) == [
        targeted["id"]
    ]
    assert await api.ok("GET", "/events", "bl", params={"targets": "none-such"}) == []


async def test_resource_targets_are_granted_too(api: Api, receiver: Receiver) -> None:
    world = await make_world(api, receiver)
    await api.ok(
        "POST",
        "/resources",
        "bl",
        {
            "objectType": "BL_RESOURCE_REQUEST",
            "clientID": "ven_client",
            "resourceName": "tank",
            "venID": world.ven_id,
            "targets": ["feeder-7"],
        },
    )
    program = await api.ok(
        "POST", "/programs", body={"programName": "feeder", "targets": ["feeder-7", "other"]}
    )
    seen = await api.ok("GET", f"/programs/{program['id']}", "ven")
    assert seen["targets"] == ["feeder-7"]


async def test_ven_objects_are_private(api: Api, receiver: Receiver) -> None:
    world = await make_world(api, receiver)
    await api.ok("POST", "/vens", "ven2", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-two"})
    report = await api.ok(
        "POST",
        "/reports",
        "ven",
        {
            "eventID": world.event_id,
            "clientName": "ven-one",
            "resources": [{"resourceName": "r", "intervals": INTERVALS}],
        },
    )
    assert report["clientID"] == "ven_client"
    sub = await api.ok(
        "POST",
        "/subscriptions",
        "ven",
        {
            "clientName": "ven-one",
            "objectOperations": [
                {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": receiver.url}
            ],
        },
    )
    for kind, own in (
        ("vens", world.ven_id),
        ("reports", report["id"]),
        ("subscriptions", sub["id"]),
    ):
        assert [item["id"] for item in await api.ok("GET", f"/{kind}", "ven")] == [own]
        assert (await api.call("GET", f"/{kind}/{own}", "ven2"))[0] == 404
        assert (await api.call("DELETE", f"/{kind}/{own}", "ven2"))[0] == 404
        assert own in [item["id"] for item in await api.ok("GET", f"/{kind}", "bl")]
    assert [v["venName"] for v in await api.ok("GET", "/vens", "ven2")] == ["ven-two"]
    # ven2 may not add resources to ven_client's ven.
    status, _ = await api.call(
        "POST",
        "/resources",
        "ven2",
        {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "x", "venID": world.ven_id},
    )
    assert status == 409  # as for a venID naming no ven at all (a foreign key violation)


async def test_filters_31(api: Api, receiver: Receiver) -> None:
    world = await make_world(api, receiver)
    other_program = await api.ok("POST", "/programs", body={"programName": "other"})
    now = datetime.now(UTC)

    async def event_at(start: str, **extra: object) -> dict:
        body = {
            "programID": other_program["id"],
            "intervalPeriod": {"start": start, "duration": "PT1H"},
            "intervals": INTERVALS,
            **extra,
        }
        return dict(await api.ok("POST", "/events", body=body))

    past = await event_at(format_datetime(now - timedelta(days=2)))
    current = await event_at(format_datetime(now - timedelta(minutes=5)))
    forever = await event_at("0001-01-01", duration="P9999Y")
    ids = lambda items: [item["id"] for item in items]  # noqa: E731
    by_program = await api.ok("GET", "/events", params={"programID": other_program["id"]})
    assert ids(by_program) == [past["id"], current["id"], forever["id"]]
    active = await api.ok(
        "GET", "/events", params={"programID": other_program["id"], "active": "true"}
    )
    assert ids(active) == [current["id"], forever["id"]]
    assert (await api.call("GET", "/events", params={"active": "maybe"}))[0] == 400
    assert await api.ok("GET", "/events", params={"programID": "no-such"}) == []

    report = await api.ok(
        "POST",
        "/reports",
        "ven",
        {
            "eventID": world.event_id,
            "clientName": "heater-1",
            "resources": [{"resourceName": "r", "intervals": INTERVALS}],
        },
    )
    assert ids(await api.ok("GET", "/reports", params={"clientName": "heater-1"})) == [report["id"]]
    assert ids(await api.ok("GET", "/reports", params={"eventID": world.event_id})) == [
        report["id"]
    ]
    assert ids(await api.ok("GET", "/reports", params={"programID": world.program_id})) == [
        report["id"]
    ]
    assert await api.ok("GET", "/reports", params={"clientName": "nobody"}) == []

    sub = await api.ok(
        "POST",
        "/subscriptions",
        "bl",
        {
            "clientName": "bl",
            "programID": world.program_id,
            "objectOperations": [
                {"objects": ["REPORT"], "operations": ["CREATE"], "callbackUrl": receiver.url}
            ],
        },
    )
    assert ids(await api.ok("GET", "/subscriptions", params={"objects": "REPORT"})) == [sub["id"]]
    assert await api.ok("GET", "/subscriptions", params={"objects": "PROGRAM"}) == []
    assert ids(await api.ok("GET", "/subscriptions", params={"programID": world.program_id})) == [
        sub["id"]
    ]

    assert ids(await api.ok("GET", "/vens", params={"venName": "ven-one"})) == [world.ven_id]
    assert await api.ok("GET", "/vens", params={"venName": "ven-zero"}) == []
    resource = await api.ok(
        "POST",
        "/resources",
        "ven",
        {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "tank", "venID": world.ven_id},
    )
    assert ids(await api.ok("GET", "/resources", params={"venID": world.ven_id})) == [
        resource["id"]
    ]
    assert ids(await api.ok("GET", "/resources", params={"resourceName": "tank"})) == [
        resource["id"]
    ]
    assert await api.ok("GET", "/resources", params={"venID": "other"}) == []
