"""Request bodies per object type for the conformance tests (3.1.0 shapes)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.vtn_lite.conftest import Api, Receiver

_counter = itertools.count()

INTERVALS = [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.25]}]}]


@dataclass
class World:
    """Parents every object type needs: a program, an event and ven_client's ven."""

    program_id: str
    event_id: str
    ven_id: str
    callback: str


async def make_world(api: Api, receiver: Receiver) -> World:
    program = await api.ok("POST", "/programs", body={"programName": f"world-{next(_counter)}"})
    event = await api.ok(
        "POST",
        "/events",
        body={
            "programID": program["id"],
            "intervalPeriod": {"start": "2026-01-01T00:00:00Z", "duration": "PT1H"},
            "intervals": INTERVALS,
        },
    )
    ven = await api.ok(
        "POST", "/vens", "ven", body={"objectType": "VEN_VEN_REQUEST", "venName": "ven-one"}
    )
    return World(program["id"], event["id"], ven["id"], receiver.url)


async def grant(api: Api, ven_id: str, targets: list[str]) -> None:
    """Business logic grants targets to ven_client's ven (the world's)."""
    await api.ok(
        "PUT",
        f"/vens/{ven_id}",
        "bl",
        {
            "objectType": "BL_VEN_REQUEST",
            "clientID": "ven_client",
            "venName": "ven-one",
            "targets": targets,
        },
    )


def body_for(kind: str, world: World, who: str) -> dict[str, Any]:
    n = next(_counter)
    if kind == "programs":
        return {"programName": f"program-{n}"}
    if kind == "events":
        return {"programID": world.program_id, "eventName": f"e{n}", "intervals": INTERVALS}
    if kind == "reports":
        return {
            "eventID": world.event_id,
            "clientName": "ven-one",
            "reportName": f"r{n}",
            "resources": [{"resourceName": "heater", "intervals": INTERVALS}],
        }
    if kind == "subscriptions":
        return {
            "clientName": "ven-one",
            "objectOperations": [
                {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": world.callback}
            ],
        }
    if kind == "vens":
        if who == "bl":
            return {"objectType": "BL_VEN_REQUEST", "clientID": f"client-{n}", "venName": f"v{n}"}
        raise AssertionError("ven_client already has its ven object")
    if kind == "resources":
        if who == "bl":
            return {
                "objectType": "BL_RESOURCE_REQUEST",
                "clientID": "ven_client",
                "resourceName": f"res-{n}",
                "venID": world.ven_id,
            }
        return {
            "objectType": "VEN_RESOURCE_REQUEST",
            "resourceName": f"res-{n}",
            "venID": world.ven_id,
        }
    raise AssertionError(kind)


# Who may write each type (3.1.0 YAML scopes) and who may not.
WRITERS = {
    "programs": ("bl",),
    "events": ("bl",),
    "reports": ("ven",),
    "subscriptions": ("bl", "ven"),
    "vens": ("bl",),
    "resources": ("bl", "ven"),
}
FORBIDDEN_WRITERS = {"programs": "ven", "events": "ven", "reports": "bl"}
REQUIRED_FIELD = {
    "programs": "programName",
    "events": "programID",
    "reports": "eventID",
    "subscriptions": "objectOperations",
    "vens": "venName",
    "resources": "resourceName",
}
KINDS = tuple(WRITERS)
