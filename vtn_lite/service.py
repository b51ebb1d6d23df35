"""The VTN's object semantics, independent of HTTP: CRUD per role, names, privacy, notifications.

Objects are stored in their canonical 3.1.0 form. The 3.0.1 API translates to and from it
(:mod:`vtn_lite.api301`), so both versions share one store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ven_edge.oadr3 import models
from ven_edge.oadr3.timefmt import TimeFormatError, format_datetime, parse_datetime
from ven_edge.oadr3.timing import event_span
from vtn_lite.auth import Principal
from vtn_lite.errors import bad_request, conflict, forbidden, not_found
from vtn_lite.storage import Change, IndexFields, NameTaken, Query, Storage, StoredObject

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
        self._grants: dict[str, tuple[str, ...] | None] = {}
        # Bumped whenever the grants are forgotten: a lookup that awaited the storage while a
        # change came in (from another worker) must not cache what it read before the change.
        self._grants_epoch = 0

    async def changed_elsewhere(self, change: Change) -> None:
        """Another worker wrote ``change``: drop what this one derived from the old state."""
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
        self, principal: Principal, requested: tuple[str, ...] | None
    ) -> tuple[str, ...]:
        """The targets a VEN may match on: requested ∩ granted (granted if none requested).

        UG §8.13 says a VEN need not send targets, the Definition says it must; both work.
        """
        granted = await self.granted_targets(principal.client_id) or ()
        if requested is None:
            return granted
        allowed = set(granted)
        return tuple(target for target in requested if target in allowed)

    async def visible(
        self, principal: Principal, stored: StoredObject, requested: Sequence[str] | None
    ) -> bool:
        if principal.is_bl:
            return True
        if stored.kind in CLIENT_OWNED:
            return stored.client_id == principal.client_id
        if not stored.targets:
            return True
        effective = await self.effective_targets(principal, tuple(requested) if requested else None)
        return bool(set(effective) & set(stored.targets))

    async def view_key(
        self, principal: Principal, stored: StoredObject, requested: Sequence[str] | None
    ) -> Hashable:
        """Equal for principals to whom :meth:`render` shows ``stored`` identically."""
        if self._shown_whole(principal, stored):
            return None
        return await self.effective_targets(principal, tuple(requested) if requested else None)

    @staticmethod
    def _shown_whole(principal: Principal, stored: StoredObject) -> bool:
        return principal.is_bl or stored.kind not in TARGETED or not stored.targets

    async def render(
        self, principal: Principal, stored: StoredObject, requested: Sequence[str] | None
    ) -> dict[str, Any]:
        """The object as this principal may see it (3.1 target hiding for VENs)."""
        body = stored.body
        if self._shown_whole(principal, stored):
            return body
        effective = set(
            await self.effective_targets(principal, tuple(requested) if requested else None)
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
                query, visible_targets=await self.effective_targets(principal, params.targets)
            )
        elif params.targets is not None:
            query = replace(query, any_targets=params.targets)
        if kind in CLIENT_OWNED and not principal.is_bl:
            query = replace(query, client_id=principal.client_id)
        return [
            (obj, await self.render(principal, obj, params.targets))
            for obj in await self.store.search(query)
        ]

    async def get(
        self,
        principal: Principal,
        kind: str,
        object_id: str,
        targets: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        self.require(principal, READ_SCOPE[kind])
        stored = await self._visible_or_404(principal, kind, object_id, targets)
        return await self.render(principal, stored, targets)

    async def create(
        self, principal: Principal, kind: str, payload: Any, *, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.require(principal, WRITE_SCOPE[kind])
        body, index = await self._prepare(principal, kind, payload, existing=None)
        now = format_datetime(self._now())
        object_id = str(uuid.uuid4())
        full = {
            "id": object_id,
            "createdDateTime": now,
            "modificationDateTime": now,
            "objectType": kind,
            **body,
        }
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
        full = {
            "id": existing.id,
            "createdDateTime": old["createdDateTime"],
            "modificationDateTime": format_datetime(self._now()),
            "objectType": kind,
            **body,
        }
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
            raise bad_request(f"programID {request.program_id!r} names no program")
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
        if event is None:
            raise bad_request(f"eventID {request.event_id!r} names no event")
        client_id = existing.client_id if existing else principal.client_id
        body = {**models.dump(request), "clientID": client_id}
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
            raise bad_request(f"programID {request.program_id!r} names no program")
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
            if principal.is_bl:
                raise bad_request("business logic must send a BL_VEN_REQUEST with a clientID")
            client_id = (
                existing.client_id if existing and existing.client_id else principal.client_id
            )
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
            raise bad_request(f"venID {request.ven_id!r} names no ven of this client")
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
        self, principal: Principal, kind: str, object_id: str, targets: tuple[str, ...] | None
    ) -> StoredObject:
        stored = await self.store.get(kind, object_id)
        if stored is None or not await self.visible(principal, stored, targets):
            raise not_found(kind, object_id)
        return stored

    async def _changed(self, operation: str, stored: StoredObject) -> None:
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
