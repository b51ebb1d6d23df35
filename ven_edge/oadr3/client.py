"""The VEN's OpenADR 3 client: registration, polling, subscriptions, diagnostics, reports.

One :class:`VtnClient` talks to one VTN in 3.1.0 or 3.0.1 mode. It keeps the last good programs,
events and :class:`~ven_edge.signals.SignalTimeline`; a malformed response or object is logged
with the JSON path of the bad field and never replaces good data (COMMON "bad input" rule).
HTTP, auth and paging are :class:`~ven_edge.oadr3.vtnhttp.VtnHttp`; the events are
:class:`~ven_edge.oadr3.eventstore.EventStore`'s. Interop quirks tolerated here are numbered as in
docs/openadr3.md §10.1.

Errors reach the caller as :mod:`ven_edge.oadr3.errors` exceptions; retry timing is the caller's
(see :class:`ven_edge.oadr3.backoff.Backoff`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from ven_edge.oadr3.errors import Oadr3Error, PayloadError, VtnHttpError
from ven_edge.oadr3.eventparse import Event
from ven_edge.oadr3.eventstore import EventStore, PollResult
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.oadr3.vtnhttp import Params, Version, VtnHttp, VtnSettings, decode_json
from ven_edge.redact import redact_url
from ven_edge.signals import SignalTimeline

LOG = logging.getLogger(__name__)

#: Operations subscribed to; 3.0.1 (Alliance file) spells them as HTTP verbs (§8.1).
SUBSCRIBED_OPERATIONS: dict[str, tuple[str, ...]] = {
    "3.1.0": ("CREATE", "UPDATE", "DELETE"),
    "3.0.1": ("POST", "PUT", "DELETE"),
}
#: Fetches of one poll when pushes keep landing during them (then pushes are replayed on top).
POLL_ATTEMPTS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Registration:
    """The VTN's ids for this gateway, worth persisting (the daemon stores them)."""

    ven_id: str
    resource_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"ven_id": self.ven_id, "resource_id": self.resource_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Registration:
        resource = data.get("resource_id")
        return cls(str(data["ven_id"]), str(resource) if resource is not None else None)


class VtnClient(VtnHttp):
    """An OpenADR 3 VEN client for one VTN. Use as ``async with VtnClient(settings) as c:``."""

    def __init__(
        self,
        settings: VtnSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        timeline_builder: TimelineBuilder | None = None,
    ) -> None:
        super().__init__(settings, clock=clock)
        self._wall_clock = wall_clock
        self.timeline_builder = timeline_builder or TimelineBuilder()
        #: The one owner of the events: polls and pushes both apply through it.
        self.event_store = EventStore(self.timeline_builder, wall_clock, settings.version)
        self.registration: Registration | None = None
        self._programs: dict[str, Mapping[str, Any]] = {}

    # -- last good state -------------------------------------------------------------------
    @property
    def timeline(self) -> SignalTimeline:
        """The timeline built from the last good events."""
        return self.event_store.timeline

    @property
    def events(self) -> Mapping[str, Event]:
        return self.event_store.events

    @property
    def programs(self) -> Mapping[str, Mapping[str, Any]]:
        return dict(self._programs)

    # -- paging ----------------------------------------------------------------------------
    def _target_params(self) -> Params:
        if not self.settings.targets:
            return []
        if self.settings.version == "3.0.1":
            return [("targetType", self.settings.target_type)] + [
                ("targetValues", t) for t in self.settings.targets
            ]
        return [("targets", t) for t in self.settings.targets]

    # -- registration ----------------------------------------------------------------------
    async def register(self) -> Registration:
        """Find this gateway's VEN (by name) and resource, creating what is missing.

        Idempotent: after a restart the existing objects are found by ``venName`` /
        ``resourceName`` (quirk 18: some VTNs accept duplicate venNames, so never POST blindly).
        """
        ven_id = await self._find_or_create_ven()
        resource_id = await self._find_or_create_resource(ven_id)
        self.registration = Registration(ven_id, resource_id)
        LOG.info("registered as VEN %s, resource %s", ven_id, resource_id)
        return self.registration

    async def _find_by(
        self, path: str, params: Params, key: str, value: str
    ) -> Mapping[str, Any] | None:
        for item in await self.get_all(path, params):
            # Filter client-side too (quirk 11: some VTNs ignore query filters).
            if item.get(key) == value and isinstance(item.get("id"), str):
                return item
        return None

    async def _find_or_create_ven(self) -> str:
        name = self.settings.ven_name
        body: dict[str, Any] = {"venName": name}
        if self.settings.version == "3.1.0":
            body["objectType"] = "VEN_VEN_REQUEST"
        else:
            body["resources"] = []
        return await self._find_or_create("VEN", "/vens", [("venName", name)], "venName", body)

    async def _find_or_create_resource(self, ven_id: str) -> str:
        name = self.settings.resource_name
        if self.settings.version == "3.1.0":
            path = "/resources"
            params: Params = [("venID", ven_id), ("resourceName", name)]
            body: dict[str, Any] = {
                "objectType": "VEN_RESOURCE_REQUEST",
                "resourceName": name,
                "venID": ven_id,
            }
        else:  # 3.0.1 nests resources under their VEN
            path = f"/vens/{ven_id}/resources"
            params = [("resourceName", name)]
            body = {"resourceName": name, "venID": ven_id}
        return await self._find_or_create("resource", path, params, "resourceName", body)

    async def _find_or_create(
        self, what: str, path: str, params: Params, key: str, body: dict[str, Any]
    ) -> str:
        """The id of the object whose ``key`` is ``body[key]``, created if the VTN has none.

        A 409 on create means another request created it meanwhile: look it up again."""
        name: str = body[key]
        found = await self._find_by(path, params, key, name)
        if found is None:
            try:
                created = await self.request("POST", path, json_body=body, expect=(201, 200))
            except VtnHttpError as exc:
                if exc.status != 409:
                    raise
                created = await self._find_by(path, params, key, name)
            found = created if isinstance(created, Mapping) else None
        object_id = found.get("id") if found is not None else None
        if not isinstance(object_id, str):
            raise PayloadError("id", f"{what} {name!r}: the VTN returned no id")
        return object_id

    # -- polling ---------------------------------------------------------------------------
    async def fetch_programs(self) -> list[Mapping[str, Any]]:
        return await self.get_all("/programs", self._target_params())

    async def fetch_events(self) -> list[Mapping[str, Any]]:
        params = self._target_params()
        if self.settings.version == "3.1.0":
            params.append(("active", "true"))  # 3.1 #234: skip events that have transpired
        return await self.get_all("/events", params)

    async def poll_once(self) -> PollResult:
        """GET programs and events; update the last good state and say what changed.

        Raises (keeping all previous state) when the VTN is unreachable or a whole response is
        unusable; a single malformed event is logged, reported in ``errors`` and its previous good
        version (if any) kept. A push applied while the snapshot was being fetched makes the
        snapshot stale: it is fetched again (up to :data:`POLL_ATTEMPTS` times), and pushes
        newer than the snapshot finally used are kept over it.
        """
        store = self.event_store
        for _ in range(POLL_ATTEMPTS):
            pushes_before = store.pushes
            programs_raw = await self.fetch_programs()
            events_raw = await self.fetch_events()
            if store.pushes == pushes_before:
                break
            LOG.info("an event notification arrived during the poll: polling again")
        programs_changed = self._update_programs(programs_raw)
        return store.apply_poll(
            events_raw,
            self._wanted_program_ids(),
            programs_changed=programs_changed,
            pushes_before=pushes_before,
        )

    def _update_programs(self, programs_raw: Sequence[Mapping[str, Any]]) -> bool:
        fresh: dict[str, Mapping[str, Any]] = {}
        for item in programs_raw:
            ident, name = item.get("id"), item.get("programName")
            if not isinstance(ident, str) or not isinstance(name, str):
                LOG.error("ignoring malformed program (id %r, programName %r)", ident, name)
                if isinstance(ident, str) and ident in self._programs:
                    fresh[ident] = self._programs[ident]
                continue
            fresh[ident] = item
        changed = fresh != self._programs
        self._programs = fresh
        return changed

    def _wanted_program_ids(self) -> set[str] | None:
        if not self.settings.program_names:
            return None
        names = set(self.settings.program_names)
        return {pid for pid, p in self._programs.items() if p.get("programName") in names}

    def rebuild_timeline(self) -> SignalTimeline:
        """Recompute the timeline from the last good events (e.g. after a clock jump)."""
        return self.event_store.rebuild()

    def apply_event_notification(self, operation: str, obj: Mapping[str, Any]) -> PollResult:
        """Apply a pushed EVENT notification without waiting for the next poll.

        ``operation`` is CREATE/UPDATE/DELETE (or POST/PUT, quirk 6). A malformed object raises
        :class:`PayloadError` and changes nothing.
        """
        return self.event_store.apply_push(operation, obj, self._wanted_program_ids())

    # -- subscriptions (push) --------------------------------------------------------------
    async def ensure_subscription(
        self,
        callback_url: str,
        bearer_token: str,
        objects: Sequence[str] = ("EVENT", "PROGRAM"),
    ) -> str:
        """Create or renew this gateway's webhook subscription; returns its id.

        Looks for our own subscription (by clientName and callbackUrl) first, so restarts and
        periodic renewals never pile up duplicates; a changed token or object list is PUT.
        """
        operation = {
            "objects": list(objects),
            "operations": list(SUBSCRIBED_OPERATIONS[self.settings.version]),
            "callbackUrl": callback_url,
            "bearerToken": bearer_token,
        }
        body: dict[str, Any] = {
            "clientName": self.settings.ven_name,
            "objectOperations": [operation],
        }
        if self.settings.targets and self.settings.version == "3.1.0":
            body["targets"] = list(self.settings.targets)
        if self.settings.version == "3.0.1":
            # 3.0.1 requires programID on a subscription: subscribe to the first known program.
            if not self._programs:
                self._update_programs(await self.fetch_programs())
            if not self._programs:
                raise Oadr3Error("3.0.1 subscriptions need a program, and none is visible")
            body["programID"] = sorted(self._programs)[0]
        params: Params = [("clientName", self.settings.ven_name)]
        for item in await self.get_all("/subscriptions", params):
            ops = item.get("objectOperations")
            if item.get("clientName") != self.settings.ven_name or not isinstance(ops, list):
                continue
            if not any(_calls_back(o, callback_url) for o in ops):
                continue
            ident = str(item.get("id"))
            if ops == [operation] and item.get("programID") == body.get("programID"):
                return ident
            await self.request("PUT", f"/subscriptions/{ident}", json_body=body, expect=(200,))
            LOG.info("updated webhook subscription %s", ident)
            return ident
        created = await self.request("POST", "/subscriptions", json_body=body, expect=(201, 200))
        new_id = created.get("id") if isinstance(created, Mapping) else None
        if not isinstance(new_id, str):
            raise PayloadError("id", "subscription created without an id")
        LOG.info("created webhook subscription %s", new_id)
        return new_id

    async def delete_subscription(self, subscription_id: str) -> None:
        await self.request("DELETE", f"/subscriptions/{subscription_id}", expect=(200, 204, 404))

    async def delete_stale_subscriptions(
        self, keep_callback: str | None, objects: Sequence[str] = ("EVENT", "PROGRAM")
    ) -> list[str]:
        """Delete this gateway's subscriptions (by clientName) to ``objects`` that do not call
        back ``keep_callback`` (all of them when None: the webhook is off); returns their ids.

        A VTN keeps calling a subscription's callback until it is deleted; after the webhook
        was disabled or moved the old endpoint is dead and every write on the VTN waits on it.
        """
        deleted: list[str] = []
        wanted = set(objects)
        params: Params = [("clientName", self.settings.ven_name)]
        for item in await self.get_all("/subscriptions", params):
            ops = item.get("objectOperations")
            ident = item.get("id")
            if item.get("clientName") != self.settings.ven_name or not isinstance(ident, str):
                continue
            if item.get("objectType", "SUBSCRIPTION") != "SUBSCRIPTION" or not isinstance(
                ops, list
            ):
                continue
            if keep_callback is not None and any(_calls_back(o, keep_callback) for o in ops):
                continue
            if not any(_subscribes_to(o, wanted) for o in ops):
                continue
            await self.delete_subscription(ident)
            callbacks = sorted(
                {redact_url(o.get("callbackUrl")) or "?" for o in ops if isinstance(o, Mapping)}
            )
            LOG.info(
                "deleted stale webhook subscription %s (it called %s)", ident, ", ".join(callbacks)
            )
            deleted.append(ident)
        return deleted

    # -- diagnostics -----------------------------------------------------------------------
    async def probe(self) -> str | None:
        """One cheap request: None when the VTN answers (not 5xx, not 429), else why not.

        GET /programs?limit=1 with the current token if any (none is fetched: a refused or
        missing token still proves the VTN is back, and the cycle that follows gets one)."""
        token = self._token
        usable = token.value if token is not None and self._clock() < token.expires_at else None
        try:
            status = await self._first_of("/programs", usable)
        except Oadr3Error as exc:
            return str(exc)
        if status >= 500 or status == 429:
            return f"GET /programs -> HTTP {status}"
        return None

    async def _first_of(self, path: str, token: str | None) -> int:
        """The status of a search for one object at ``path`` (small whatever the VTN holds)."""
        query: Params = [("skip", "0"), ("limit", "1")]
        status, _, _ = await self._raw("GET", self.url(path), path, params=query, token=token)
        return status

    async def detect_version(self) -> Version | None:
        """The OpenADR 3 version the VTN speaks, when its endpoints tell; None when unknown.

        3.1.0 requires ``GET /auth/server`` (unauthenticated) and has top-level ``/resources``;
        3.0.1 has neither (resources are nested under ``/vens/{venID}``, docs/openadr3.md
        §9). A VTN with both missing is taken for 3.0.1; the base path's conventional
        ``/openadr3/<version>`` decides when the probes cannot."""
        status, body, _ = await self._raw("GET", self.url("/auth/server"), "/auth/server")
        if status == 200:
            try:
                data = decode_json(body, "/auth/server")
            except PayloadError:
                data = None
            if isinstance(data, Mapping) and isinstance(data.get("tokenURL"), str):
                return "3.1.0"
        resources = await self._first_of("/resources", await self.ensure_token())
        if resources == 200:
            return "3.1.0"
        if status in (404, 405) and resources in (404, 405):
            return "3.0.1"
        last = URL(self.settings.base_url).path.rstrip("/").rsplit("/", 1)[-1]
        if last == "3.0.1":
            return "3.0.1"
        return "3.1.0" if last == "3.1.0" else None

    # -- reports ---------------------------------------------------------------------------
    async def create_report(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        created = await self.request("POST", "/reports", json_body=dict(body), expect=(201, 200))
        if not isinstance(created, Mapping):
            raise PayloadError("", "POST /reports returned no object")
        return created

    async def find_reports(self, event_id: str | None = None) -> list[Mapping[str, Any]]:
        """Our own reports (3.1: the VTN shows a VEN only its own), optionally for one event."""
        params: Params = [("clientName", self.settings.ven_name)]
        if event_id is not None:
            params.append(("eventID", event_id))
        return await self.get_all("/reports", params)


def version_mismatch(configured: Version, spoken: Version | None) -> str | None:
    """What to tell the installer when the VTN speaks another version; None when it does not."""
    if spoken is None or spoken == configured:
        return None
    return (
        f"the VTN speaks OpenADR {spoken} but vtn.version is {configured!r}: "
        f'set vtn.version = "{spoken}" in the configuration'
    )


def _calls_back(operation: object, callback_url: str) -> bool:
    return isinstance(operation, Mapping) and operation.get("callbackUrl") == callback_url


def _subscribes_to(operation: object, objects: set[str]) -> bool:
    if not isinstance(operation, Mapping):
        return False
    listed = operation.get("objects")
    return isinstance(listed, list) and any(o in objects for o in listed)
