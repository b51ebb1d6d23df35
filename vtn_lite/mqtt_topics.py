"""MQTT topic names and the ``GET /notifiers`` answers (Definition 3.1.0, "Notifications via
Additional Protocols"; 3.1.0 YAML ``notifiersResponse`` and ``notifierTopicsResponse``).

Two kinds of topics, both under the configured prefix:

* ``<prefix>/<collection>/<operation>``: every object of that type as business logic sees it;
  the YAML gives the "all objects" endpoints the ``read_bl`` scope;
* ``<prefix>/clients/<clientID>/<collection>/<operation>``: what that client may see (programs
  and events by its granted targets, with other targets hidden; its own ven and resources).
  The VTN resolves targets to clients and publishes to each one's topics, as the Definition's
  object privacy asks of an MQTT binding; the broker's ACL keeps each client to its own.

No topic is narrower than a collection: the Definition leaves filtering to the client ("it is
the responsibility of the client to ignore/filter"), so ``programs/{programID}/events`` names the
same topics as the client's events, less nothing. For a single object (``programs/{programID}``,
``vens/{venID}``) CREATE is left out, as ``notifierOperationsTopics`` says.
"""

from __future__ import annotations

from typing import Any

from vtn_lite.auth import Principal
from vtn_lite.errors import ApiError
from vtn_lite.service import Vtn

COLLECTION_OF = {
    "PROGRAM": "programs",
    "EVENT": "events",
    "REPORT": "reports",
    "SUBSCRIPTION": "subscriptions",
    "VEN": "vens",
    "RESOURCE": "resources",
}
# Per-client topics exist for what a VEN can read of its own or by its targets.
CLIENT_KINDS = frozenset({"PROGRAM", "EVENT", "VEN", "RESOURCE"})
# "No READ notifications over MQTT": reads change nothing.
MQTT_OPERATIONS = ("CREATE", "UPDATE", "DELETE")


def bl_base(prefix: str, kind: str) -> str:
    return f"{prefix}/{COLLECTION_OF[kind]}"


def client_base(prefix: str, client_id: str, kind: str) -> str:
    return f"{prefix}/clients/{client_id}/{COLLECTION_OF[kind]}"


def topics_body(base: str, *, single_object: bool) -> dict[str, Any]:
    topics = {op: f"{base}/{op.lower()}" for op in MQTT_OPERATIONS}
    if single_object:
        del topics["CREATE"]
    topics["ALL"] = f"{base}/+"
    return {"topics": topics}


class TopicDirectory:
    """Answers ``GET /notifiers/mqtt/topics/...`` for one principal, with the API's privacy."""

    def __init__(self, vtn: Vtn, prefix: str) -> None:
        self._vtn = vtn
        self._prefix = prefix

    async def answer(self, principal: Principal, tail: str) -> dict[str, Any]:
        parts = [part for part in tail.split("/") if part]
        vtn = self._vtn
        match parts:
            case ["programs"]:
                vtn.require(principal, "read_all")
                return self._audience(principal, "PROGRAM", single=False)
            case ["programs", program_id]:
                vtn.require(principal, "read_all")
                await vtn.get(principal, "PROGRAM", program_id)
                return self._audience(principal, "PROGRAM", single=True)
            case ["programs", program_id, "events"]:
                vtn.require(principal, "read_all")
                await vtn.get(principal, "PROGRAM", program_id)
                return self._audience(principal, "EVENT", single=False)
            case [("events" | "reports" | "subscriptions" | "vens" | "resources") as name]:
                vtn.require(principal, "read_bl")
                return topics_body(f"{self._prefix}/{name}", single_object=False)
            case ["vens", ven_id, *rest] if rest in ([], ["events"], ["programs"], ["resources"]):
                vtn.require(principal, "read_ven_objects")
                ven = await vtn.get(principal, "VEN", ven_id)
                kind = {"events": "EVENT", "programs": "PROGRAM", "resources": "RESOURCE"}
                target = kind[rest[0]] if rest else "VEN"
                base = client_base(self._prefix, ven["clientID"], target)
                return topics_body(base, single_object=not rest)
        raise not_found_path(tail)

    def _audience(self, principal: Principal, kind: str, *, single: bool) -> dict[str, Any]:
        if principal.is_bl:
            base = bl_base(self._prefix, kind)
        else:
            base = client_base(self._prefix, principal.client_id, kind)
        return topics_body(base, single_object=single)


def not_found_path(tail: str) -> ApiError:
    return ApiError(404, f"no MQTT topics at notifiers/mqtt/topics/{tail[:200]}")
