"""The VTN's object semantics, independent of HTTP: CRUD per role, names, privacy, notifications.

Objects are stored in their canonical 3.1.0 form. The 3.0.1 API translates to and from it
(:mod:`vtn_lite.api301`), so both versions share one store.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ven_edge.oadr3.timefmt import TimeFormatError, format_datetime, parse_datetime
from vtn_lite import bodytext, jsonstrict
from vtn_lite.auth import Principal
from vtn_lite.errors import (
    ApiError,
    bad_request,
    conflict,
    forbidden,
    missing_reference,
    not_found,
)
from vtn_lite.storage import Change, IndexFields, NameTaken, Query, Storage, StoredObject
from vtn_lite.viewcache import View, ViewCache
from vtn_lite.wire import models
from vtn_lite.wire.timing import event_span

log = logging.getLogger(__name__)

KINDS = ("PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE")
# Scopes per operation, from the 3.1.0 YAML security requirements (docs/openadr3.md §1.2).
READ_SCOPE = {
    "PROGRAM": "read_targets",
    "EVENT": "read_targets",
    "REPORT": "read_ven_objects",
    "SUBSCRIPTION": "read_ven_objects",
    "VEN": "read_ven_objects",
    "RESOURCE": "read_ven_objects",
}
WRITE_SCOPE = {
    "PROGRAM": "write_programs",
    "EVENT": "write_events",
    "REPORT": "write_reports",
    "SUBSCRIPTION": "write_subscriptions",
    "VEN": "write_vens",
    "RESOURCE": "write_vens",
}
# Objects a VEN creates carry its clientID and only it sees them (Definition "Object Privacy").
CLIENT_OWNED = frozenset({"REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"})
# Programs and events are visible by targets; their responses hide other targets.
TARGETED = frozenset({"PROGRAM", "EVENT"})
# YAML: "limit ... maximum: 50".
MAX_LIMIT = 50

ChangeListener = Callable[[str, StoredObject], Awaitable[None]]
#: Reads a report before it is stored: (its event, the report body, the sending client id);
#: raises ApiError to refuse it (the fleet planner's inputs, docs/fleet-planner.md).
ReportCheck = Callable[[StoredObject, dict[str, Any], str], Awaitable[None]]

_VEN_REQUEST: TypeAdapter[models.VenVenRequest | models.BlVenRequest] = TypeAdapter(
    models.VenRequest
)
_RESOURCE_REQUEST: TypeAdapter[models.VenResourceRequest | models.BlResourceRequest] = TypeAdapter(
    models.ResourceRequest
)


@dataclass(frozen=True, slots=True)
class SearchParams:
    skip: int = 0
    limit: int = MAX_LIMIT
    targets: tuple[str, ...] | None = None
    program_id: str | None = None
    event_id: str | None = None
    client_name: str | None = None
    ven_id: str | None = None
    ven_name: str | None = None
    resource_name: str | None = None
    active: bool | None = None
    objects: tuple[str, ...] | None = None
    with_program: bool = False
    # 3.0.1 "read_all": a VEN's requested targets count whether or not they are granted.
    read_all: bool = False


def servable(stored: StoredObject) -> bool:
    """False, with an error in the log, for an object stored with NaN or Infinity (by a vtn_lite
    from before they were refused): one bad object must not break every VEN's poll."""
    if bodytext.is_strict(stored.body_text):
        return True
    log.error("%s %s holds NaN or Infinity; left out of responses", stored.kind, stored.id)
    return False


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(loc) for loc in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _validate(model: type[BaseModel] | TypeAdapter[Any], payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise bad_request("the request body must be a JSON object")
    # Bodies built in Python (price import, tools) can hold NaN or infinity, which strict JSON
    # cannot carry (vtn_lite.jsonstrict); the HTTP APIs already refuse them when parsing.
    where = jsonstrict.non_finite_path(payload)
    if where is not None:
        raise bad_request(f"{where}: NaN and infinite numbers are not JSON numbers")
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(payload)
        return model.model_validate(payload)
    except ValidationError as exc:
        raise bad_request(describe_validation_error(exc)) from None


class Vtn:
    """Object store semantics; ``listeners`` hear (operation, stored object) after changes.

    Call :meth:`refresh_derived` once the storage is open, before serving.
    """

    def __init__(self, store: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self.listeners: list[ChangeListener] = []
        self.report_checks: list[ReportCheck] = []
        self._grants: dict[str, tuple[str, ...] | None] = {}
        # Bumped whenever the grants are forgotten: a lookup that awaited the storage while a
        # change came in (from another worker) must not cache what it read before the change.
        self._grants_epoch = 0
        self._generation = 0  # bumped by every write through this service
        self._seen_version: int | None = None
        self._views = ViewCache()

    async def changed_elsewhere(self, change: Change) -> None:
        """Another worker wrote ``change``: drop what this one derived from the old state."""
        self._generation += 1
        if change.kind in ("VEN", "RESOURCE"):
            self._forget_grants()

    async def refresh_derived(self) -> None:
        """Recompute stored derived columns whose rule changed since they were written."""
        if "event_ends" not in await self.store.pending_refresh():
            return
        updates = []
        for stored in await self.store.all_of_kind("EVENT"):
            body = stored.body
            try:
                request = models.EventRequest.model_validate(body)
                # A "now" start meant the time of the write, as when it was first computed.
                written = parse_datetime(body["modificationDateTime"])
            except (ValidationError, TimeFormatError, KeyError):
                continue  # stored by this VTN, so valid; keep the old value if not
            updates.append((event_ends_at(request, written), stored.seq))
        await self.store.set_ends_at(updates, "event_ends")

    # --- privacy --------------------------------------------------------------------------

    async def granted_targets(self, client_id: str) -> tuple[str, ...] | None:
        """Targets granted to a client's ven objects and their resources; None: no ven object."""
        if client_id in self._grants:
            return self._grants[client_id]
        epoch = self._grants_epoch
        vens = await self.store.search(Query(kind="VEN", client_id=client_id, limit=10**9))
        if not vens:
            granted: tuple[str, ...] | None = None
        else:
            collected: list[str] = []
            for ven in vens:
                collected.extend(ven.targets)
                for resource in await self.store.children("RESOURCE", "ven_id", ven.id):
                    collected.extend(resource.targets)
            granted = tuple(sorted(set(collected)))
        if epoch == self._grants_epoch:
            self._grants[client_id] = granted
        return granted

    def _forget_grants(self) -> None:
        self._grants.clear()
        self._grants_epoch += 1

    async def effective_targets(
        self, principal: Principal, requested: tuple[str, ...] | None, *, read_all: bool = False
    ) -> tuple[str, ...]:
        """The targets a VEN may match on: requested ∩ granted (granted if none requested).

        UG §8.13 says a VEN need not send targets, the Definition says it must; both work.
        With ``read_all`` (the 3.0.1 scope: "VENs and BL can read all resources") the requested
        targets count as asked, granted or not.
        """
        granted = await self.granted_targets(principal.client_id) or ()
        if requested is None:
            return granted
        if read_all:
            return requested
        allowed = set(granted)
        return tuple(target for target in requested if target in allowed)

    async def visible(
        self,
        principal: Principal,
        stored: StoredObject,
        requested: Sequence[str] | None,
        *,
        read_all: bool = False,
    ) -> bool:
        if principal.is_bl:
            return True
        if stored.kind in CLIENT_OWNED:
            return stored.client_id == principal.client_id
        if not stored.targets:
            return True
        effective = await self.effective_targets(
            principal, tuple(requested) if requested else None, read_all=read_all
        )
        return bool(set(effective) & set(stored.targets))

    async def view_key(
        self,
        principal: Principal,
        stored: StoredObject,
        requested: Sequence[str] | None,
        *,
        read_all: bool = False,
    ) -> Hashable:
        """Equal for principals to whom :meth:`render` shows ``stored`` identically."""
        return await self.shown_targets(principal, stored, requested, read_all=read_all)

    async def shown_targets(
        self,
        principal: Principal,
        stored: StoredObject,
        requested: Sequence[str] | None,
        *,
        read_all: bool = False,
    ) -> tuple[str, ...] | None:
        """The targets :meth:`render` keeps in ``stored``'s list (None: the whole list)."""
        if self._shown_whole(principal, stored):
            return None
        return await self.effective_targets(
            principal, tuple(requested) if requested else None, read_all=read_all
        )

    @staticmethod
    def _shown_whole(principal: Principal, stored: StoredObject) -> bool:
        return principal.is_bl or stored.kind not in TARGETED or not stored.targets

    async def render(
        self,
        principal: Principal,
        stored: StoredObject,
        requested: Sequence[str] | None,
        *,
        read_all: bool = False,
    ) -> dict[str, Any]:
        """The object as this principal may see it (3.1 target hiding for VENs)."""
        body = stored.body
        if self._shown_whole(principal, stored):
            return body
        effective = set(
            await self.effective_targets(
                principal, tuple(requested) if requested else None, read_all=read_all
            )
        )
        body["targets"] = [target for target in body.get("targets", []) if target in effective]
        return body

    # --- generic operations ---------------------------------------------------------------

    def require(self, principal: Principal, scope: str) -> None:
        if scope not in principal.scopes:
            raise forbidden(f"the {principal.role.upper()} role lacks the {scope} scope")

    async def search(
        self, principal: Principal, kind: str, params: SearchParams
    ) -> list[dict[str, Any]]:
        return [body for _, body in await self.search_objects(principal, kind, params)]

    async def search_objects(
        self, principal: Principal, kind: str, params: SearchParams
    ) -> list[tuple[StoredObject, dict[str, Any]]]:
        return await self.rendered(
            principal, await self.search_rows(principal, kind, params), params
        )

    async def search_rows(
        self, principal: Principal, kind: str, params: SearchParams
    ) -> list[StoredObject]:
        """The stored objects a search finds for ``principal`` (not yet rendered)."""
        return await self.store.search(await self._query(principal, kind, params))

    async def rendered(
        self, principal: Principal, rows: list[StoredObject], params: SearchParams
    ) -> list[tuple[StoredObject, dict[str, Any]]]:
        """Each row found by a search with its body as the principal sees it; rows stored with
        NaN are left out (see :meth:`render_text`)."""
        return [
            (obj, await self.render(principal, obj, params.targets, read_all=params.read_all))
            for obj in rows
            if servable(obj)
        ]

    async def search_texts(
        self, principal: Principal, kind: str, params: SearchParams
    ) -> list[str]:
        """The JSON text of each object a search finds, as :meth:`search` would serialise it,
        taken from the stored text without parsing it (docs/vtn-lite.md "Cheap polls")."""
        return await self._texts(principal, await self.search_rows(principal, kind, params), params)

    async def _texts(
        self, principal: Principal, rows: list[StoredObject], params: SearchParams
    ) -> list[str]:
        texts = []
        for obj in rows:
            text = await self.render_text(principal, obj, params.targets, read_all=params.read_all)
            if text is not None:
                texts.append(text)
        return texts

    async def search_view(self, principal: Principal, kind: str, params: SearchParams) -> View:
        """:meth:`search_texts` as one JSON array, from the view cache when unchanged."""

        async def serialise(rows: list[StoredObject]) -> bytes:
            return bodytext.json_array(await self._texts(principal, rows, params))

        return await self.view(principal, kind, params, "3.1.0", serialise)

    async def view(
        self,
        principal: Principal,
        kind: str,
        params: SearchParams,
        variant: str,
        serialise: Callable[[list[StoredObject]], Awaitable[bytes]],
    ) -> View:
        """The response body of a search as ``serialise`` writes the rows found, reused while
        nothing it depends on changed (:mod:`vtn_lite.viewcache`).

        The key holds everything a view depends on besides the store: the API ``variant``, the
        kind and filters, and who asks as far as it matters: business logic sees all; a VEN's
        targeted objects depend on its effective targets (VENs of one group share the view),
        its own objects on its clientID.
        """
        self.require(principal, READ_SCOPE[kind])
        stamp = await self._stamp()
        who: tuple[str, ...]
        if principal.is_bl:
            who = ("bl",)
        elif kind in TARGETED:
            who = await self.effective_targets(principal, params.targets, read_all=params.read_all)
            who = ("targets", *who)
        else:
            who = ("client", principal.client_id)
        key = (variant, kind, params, who)
        now = self._clock()
        cached = self._views.get(key, stamp, now)
        if cached is not None:
            return cached
        query = await self._query(principal, kind, params)
        rows = await self.store.search(replace(query, active_at=now) if params.active else query)
        valid_until = (
            await self.store.next_end([r.seq for r in rows], now) if params.active else None
        )
        return self._views.put(key, stamp, valid_until, await serialise(rows))

    async def _stamp(self) -> tuple[int, int]:
        """Changes with every write: this service's own, and other connections' (another
        worker's on PostgreSQL, an offline import's on either backend)."""
        stamp = (self._generation, await self.store.data_version())
        if stamp[1] != self._seen_version:
            # Another connection wrote: the grants read from vens and resources may be stale.
            self._seen_version = stamp[1]
            self._forget_grants()
        return stamp

    async def render_text(
        self,
        principal: Principal,
        stored: StoredObject,
        requested: Sequence[str] | None,
        *,
        read_all: bool = False,
    ) -> str | None:
        """:meth:`render` as JSON text, spliced from the stored text; None: leave it out.

        An object whose stored text is not strict JSON (NaN stored before it was refused) is
        left out with an error in the log, so one bad object does not break every VEN's poll.
        """
        text = stored.body_text
        if not servable(stored):
            return None
        if self._shown_whole(principal, stored):
            return text
        shown = await self.effective_targets(
            principal, tuple(requested) if requested else None, read_all=read_all
        )
        spliced = bodytext.with_targets(text, frozenset(shown))
        if spliced is not None:
            return spliced
        return jsonstrict.dumps(await self.render(principal, stored, requested, read_all=read_all))

    async def _query(self, principal: Principal, kind: str, params: SearchParams) -> Query:
        self.require(principal, READ_SCOPE[kind])
        if not 0 <= params.limit <= MAX_LIMIT:
            raise bad_request(f"limit must be between 0 and {MAX_LIMIT}")
        if params.skip < 0:
            raise bad_request("skip must not be negative")
        query = Query(
            kind=kind,
            program_id=params.program_id,
            event_id=params.event_id,
            client_name=params.client_name,
            ven_id=params.ven_id,
            name=params.ven_name if kind == "VEN" else params.resource_name,
            skip=params.skip,
            limit=params.limit,
            object_kinds=params.objects,
            with_program=params.with_program,
            active_at=self._clock() if params.active else None,
        )
        if kind in TARGETED and not principal.is_bl:
            query = replace(
                query,
                visible_targets=await self.effective_targets(
                    principal, params.targets, read_all=params.read_all
                ),
            )
        elif params.targets is not None:
            query = replace(query, any_targets=params.targets)
        if kind in CLIENT_OWNED and not principal.is_bl:
            query = replace(query, client_id=principal.client_id)
        return query

    async def get(
        self,
        principal: Principal,
        kind: str,
        object_id: str,
        targets: tuple[str, ...] | None = None,
        *,
        read_all: bool = False,
    ) -> dict[str, Any]:
        self.require(principal, READ_SCOPE[kind])
        stored = await self._visible_or_404(principal, kind, object_id, targets, read_all=read_all)
        return await self.render(principal, stored, targets, read_all=read_all)

    async def get_text(
        self, principal: Principal, kind: str, object_id: str, targets: tuple[str, ...] | None
    ) -> str:
        """:meth:`get` as JSON text, spliced from the stored text (see :meth:`render_text`)."""
        self.require(principal, READ_SCOPE[kind])
        stored = await self._visible_or_404(principal, kind, object_id, targets)
        text = await self.render_text(principal, stored, targets)
        if text is None:
            raise ApiError(500, f"{kind.lower()} {object_id} is stored with a non-JSON number")
        return text

    async def create(
        self, principal: Principal, kind: str, payload: Any, *, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.require(principal, WRITE_SCOPE[kind])
        body, index = await self._prepare(principal, kind, payload, existing=None)
        now = format_datetime(self._now())
        object_id = str(uuid.uuid4())
        # targets last: per-VEN views splice that list (vtn_lite.bodytext).
        full = bodytext.targets_last(
            {
                "id": object_id,
                "createdDateTime": now,
                "modificationDateTime": now,
                "objectType": kind,
                **body,
            }
        )
        try:
            stored = await self.store.insert(kind, object_id, index, full, extra)
        except NameTaken as exc:
            raise conflict(str(exc)) from None
        await self._changed("CREATE", stored)
        return stored.body

    async def update(
        self,
        principal: Principal,
        kind: str,
        object_id: str,
        payload: Any,
        *,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.require(principal, WRITE_SCOPE[kind])
        existing = await self._visible_or_404(principal, kind, object_id, None)
        body, index = await self._prepare(principal, kind, payload, existing=existing)
        old = existing.body
        full = bodytext.targets_last(
            {
                "id": existing.id,
                "createdDateTime": old["createdDateTime"],
                "modificationDateTime": format_datetime(self._now()),
                "objectType": kind,
                **body,
            }
        )
        try:
            stored = await self.store.replace(existing, index, full, extra)
        except NameTaken as exc:
            raise conflict(str(exc)) from None
        await self._changed("UPDATE", stored)
        return stored.body

    async def delete(self, principal: Principal, kind: str, object_id: str) -> dict[str, Any]:
        self.require(principal, WRITE_SCOPE[kind])
        existing = await self._visible_or_404(principal, kind, object_id, None)
        # Children go with their parent: events of a program, resources of a ven.
        child = {"PROGRAM": ("EVENT", "program_id"), "VEN": ("RESOURCE", "ven_id")}.get(kind)
        if child is not None:
            for obj in await self.store.children(child[0], child[1], existing.id):
                await self.store.delete(obj)
                await self._changed("DELETE", obj)
        await self.store.delete(existing)
        await self._changed("DELETE", existing)
        return existing.body

    async def check_subscription(self, principal: Principal, payload: Any) -> None:
        """Validate a subscription body before its callbacks are challenged."""
        await self._subscription(principal, payload, None)

    async def stored(self, kind: str, object_id: str) -> StoredObject | None:
        return await self.store.get(kind, object_id)

    # --- operator console (docs/console.md) -------------------------------------------------

    async def operator_objects(
        self, kind: str, *, client_id: str | None = None
    ) -> list[StoredObject]:
        """Every object of a kind (or one client's), in creation order, for the console."""
        if client_id is None:
            return await self.store.all_of_kind(kind)
        return await self.store.search(Query(kind=kind, client_id=client_id, limit=sys.maxsize))

    async def operator_event(self, event_id: str) -> dict[str, Any] | None:
        stored = await self.store.get("EVENT", event_id)
        return None if stored is None else stored.body

    async def events_for_client(self, client_id: str) -> list[dict[str, Any]]:
        """The events a VEN client may see (3.1 object privacy), as it would see them."""
        principal = Principal(client_id, "ven")
        return [
            await self.render(principal, stored, None)
            for stored in await self.store.all_of_kind("EVENT")
            if await self.visible(principal, stored, None)
        ]

    async def grant_targets(
        self, principal: Principal, ven_id: str, targets: Sequence[str]
    ) -> None:
        """Replace a ven's granted targets, keeping its name and attributes (business logic)."""
        existing = await self._visible_or_404(principal, "VEN", ven_id, None)
        body = existing.body
        payload = {
            "objectType": "BL_VEN_REQUEST",
            "clientID": existing.client_id,
            "venName": body["venName"],
            "targets": list(dict.fromkeys(targets)),
        }
        if body.get("attributes"):
            payload["attributes"] = body["attributes"]
        await self.update(principal, "VEN", ven_id, payload)

    async def load_checkins(self) -> dict[str, float]:
        return await self.store.load_checkins()

    async def save_checkins(self, rows: Sequence[tuple[str, float]]) -> None:
        await self.store.save_checkins(rows)

    # --- per kind -------------------------------------------------------------------------

    async def _prepare(
        self, principal: Principal, kind: str, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        return await _PREPARERS[kind](self, principal, payload, existing)

    async def _program(
        self, principal: Principal, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        request: models.ProgramRequest = _validate(models.ProgramRequest, payload)
        if await self.store.name_taken(
            "PROGRAM", request.program_name, except_id=existing.id if existing else None
        ):
            raise conflict(f"a program named {request.program_name!r} exists")
        index = IndexFields(name=request.program_name, targets=tuple(request.targets or ()))
        return models.dump(request), index

    async def _event(
        self, principal: Principal, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        request: models.EventRequest = _validate(models.EventRequest, payload)
        if await self.store.get("PROGRAM", request.program_id) is None:
            raise missing_reference(f"programID {request.program_id!r} names no program")
        index = IndexFields(
            name=request.event_name,
            program_id=request.program_id,
            targets=tuple(request.targets or ()),
            ends_at=event_ends_at(request, self._now()),
        )
        return models.dump(request), index

    async def _report(
        self, principal: Principal, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        request: models.ReportRequest = _validate(models.ReportRequest, payload)
        event = await self.store.get("EVENT", request.event_id)
        # A VEN reports only on events it can read, and an event it cannot read answers as one
        # that does not exist: no existence oracle, no reports polluting another group's data
        # (Definition "Object Privacy"). The status is the YAML's for a missing reference (409
        # on 3.1.0, 400 on 3.0.1): neither version declares 404 for POST /reports.
        if event is None or not await self.visible(principal, event, None):
            raise missing_reference(
                f"eventID {request.event_id!r} names no event this client can read"
            )
        client_id = existing.client_id if existing else principal.client_id
        body = {**models.dump(request), "clientID": client_id}
        for check in self.report_checks:
            await check(event, body, client_id or "")
        index = IndexFields(
            name=request.report_name,
            program_id=event.program_id,
            event_id=request.event_id,
            client_id=client_id,
            client_name=request.client_name,
        )
        return body, index

    async def _subscription(
        self, principal: Principal, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        request: models.SubscriptionRequest = _validate(models.SubscriptionRequest, payload)
        if (
            request.program_id is not None
            and await self.store.get("PROGRAM", request.program_id) is None
        ):
            raise missing_reference(f"programID {request.program_id!r} names no program")
        client_id = existing.client_id if existing else principal.client_id
        body = {**models.dump(request), "clientID": client_id}
        index = IndexFields(
            program_id=request.program_id,
            client_id=client_id,
            client_name=request.client_name,
            targets=tuple(request.targets or ()),
        )
        return body, index

    async def _ven(
        self, principal: Principal, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        if isinstance(payload, dict) and payload.get("objectType") is None:
            # Lenient: infer the request kind from the caller's role.
            kind = "BL_VEN_REQUEST" if principal.is_bl else "VEN_VEN_REQUEST"
            payload = {**payload, "objectType": kind}
        request = _validate(_VEN_REQUEST, payload)
        if isinstance(request, models.BlVenRequest):
            if not principal.is_bl:
                raise forbidden("only business logic may send BL_VEN_REQUEST (it grants targets)")
            client_id = request.client_id
            targets = tuple(request.targets or ())
        else:
            # A VEN_VEN_REQUEST carries no clientID. From a VEN it is the caller's; business
            # logic may send one too (the YAML allows either kind), naming a ven whose client
            # is the venName, as on the 3.0.1 API, which has no clientID at all.
            if existing and existing.client_id:
                client_id = existing.client_id
            else:
                client_id = request.ven_name if principal.is_bl else principal.client_id
            # Only business logic grants targets (Definition "Object Privacy").
            targets = existing.targets if existing else ()
        except_id = existing.id if existing else None
        if await self.store.name_taken("VEN", request.ven_name, except_id=except_id):
            raise conflict(f"a ven named {request.ven_name!r} exists")
        others = [
            ven
            for ven in await self.store.search(Query(kind="VEN", client_id=client_id, limit=1))
            if ven.id != except_id
        ]
        if others:
            raise conflict(f"client {client_id!r} already has a ven object ({others[0].id})")
        body: dict[str, Any] = {"clientID": client_id, "venName": request.ven_name}
        if targets:
            body["targets"] = list(targets)
        if request.attributes:
            body["attributes"] = [models.dump(item) for item in request.attributes]
        self._forget_grants()
        index = IndexFields(name=request.ven_name, client_id=client_id, targets=targets)
        return body, index

    async def _resource(
        self, principal: Principal, payload: Any, existing: StoredObject | None
    ) -> tuple[dict[str, Any], IndexFields]:
        if isinstance(payload, dict) and payload.get("objectType") is None:
            kind = "BL_RESOURCE_REQUEST" if principal.is_bl else "VEN_RESOURCE_REQUEST"
            payload = {**payload, "objectType": kind}
        if isinstance(payload, dict) and principal.is_bl and payload.get("clientID") is None:
            ven_id = payload.get("venID")
            ven = await self.store.get("VEN", ven_id) if isinstance(ven_id, str) else None
            if ven is not None and payload.get("objectType") == "BL_RESOURCE_REQUEST":
                payload = {**payload, "clientID": ven.client_id}
        request = _validate(_RESOURCE_REQUEST, payload)
        ven = await self.store.get("VEN", request.ven_id)
        if ven is None or not await self.visible(principal, ven, None):
            raise missing_reference(f"venID {request.ven_id!r} names no ven of this client")
        if isinstance(request, models.BlResourceRequest):
            if not principal.is_bl:
                raise forbidden("only business logic may send BL_RESOURCE_REQUEST")
            client_id = request.client_id
            targets = tuple(request.targets or ())
        else:
            if principal.is_bl:
                raise bad_request("business logic must send a BL_RESOURCE_REQUEST")
            client_id = principal.client_id
            targets = existing.targets if existing else ()
        if await self.store.name_taken(
            "RESOURCE",
            request.resource_name,
            ven_id=request.ven_id,
            except_id=existing.id if existing else None,
        ):
            raise conflict(f"ven {request.ven_id} has a resource named {request.resource_name!r}")
        body: dict[str, Any] = {
            "clientID": client_id,
            "resourceName": request.resource_name,
            "venID": request.ven_id,
        }
        if targets:
            body["targets"] = list(targets)
        if request.attributes:
            body["attributes"] = [models.dump(item) for item in request.attributes]
        self._forget_grants()
        index = IndexFields(
            name=request.resource_name, ven_id=request.ven_id, client_id=client_id, targets=targets
        )
        return body, index

    # --- helpers --------------------------------------------------------------------------

    async def _visible_or_404(
        self,
        principal: Principal,
        kind: str,
        object_id: str,
        targets: tuple[str, ...] | None,
        *,
        read_all: bool = False,
    ) -> StoredObject:
        stored = await self.store.get(kind, object_id)
        if stored is None or not await self.visible(principal, stored, targets, read_all=read_all):
            raise not_found(kind, object_id)
        return stored

    async def _changed(self, operation: str, stored: StoredObject) -> None:
        self._generation += 1
        if stored.kind in ("VEN", "RESOURCE"):
            self._forget_grants()
        for listener in self.listeners:
            await listener(operation, stored)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)


def event_ends_at(request: models.EventRequest, now: datetime) -> float | None:
    """When the event has transpired for every VEN, for ``active`` ("ignore events that have
    transpired", 3.1.0 YAML); ``None``: never (``P9999Y``) or no timing at all.

    ``randomizeStart`` shifts a VEN's start by up to its magnitude either way (User Guide §7.3),
    so the latest VEN finishes that much after the nominal end. A zero-length event (``PT0S``,
    3.0.1's "instantaneous") has transpired once its start has passed; the §7.9 cancellation
    form (start "now", ``PT0S``) is therefore over as soon as it is stored.
    """
    span = event_span(request, now)
    if span is None or span.end is None:
        return None
    end: datetime | None = span.end
    periods = [request.interval_period, *(i.interval_period for i in request.intervals or ())]
    shifts = [p.randomize_start for p in periods if p is not None and p.randomize_start]
    for shift in shifts:
        shifted = replace(shift, negative=False).end_from(span.end)
        if shifted is None:
            return None
        end = max(end, shifted) if end is not None else shifted
    return end.timestamp() if end is not None else None


def event_bounds(body: dict[str, Any], now: datetime) -> tuple[datetime, datetime | None] | None:
    """(start, end) of a stored event body, "now" starts at ``now``; end ``None``: open-ended;
    ``None``: no timing, or a body the event model refuses (the console's timeline and overlap
    warnings)."""
    try:
        span = event_span(models.EventRequest.model_validate(body), now)
    except ValidationError:
        return None
    return None if span is None else (span.start, span.end)


_PREPARERS: dict[
    str,
    Callable[
        [Vtn, Principal, Any, StoredObject | None],
        Awaitable[tuple[dict[str, Any], IndexFields]],
    ],
] = {
    "PROGRAM": Vtn._program,
    "EVENT": Vtn._event,
    "REPORT": Vtn._report,
    "SUBSCRIPTION": Vtn._subscription,
    "VEN": Vtn._ven,
    "RESOURCE": Vtn._resource,
}
