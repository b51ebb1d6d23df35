"""OpenADR 3.0.1 routes (base path ``/openadr3/3.0.1``): the same store seen through 3.0.1 shapes.

Differences from 3.1.0 (docs/openadr3.md §9): typed targets and ``targetType``/``targetValues``
queries, resources nested under ``/vens/{venID}``, ven bodies without ``objectType`` and with
embedded resources, ``programID`` required on reports and subscriptions, ``intervals`` required
on events, subscription operations as HTTP verbs. Object privacy of 3.1 applies here too, so a
3.0.1 client cannot read what 3.1 hides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from vtn_lite import api31, bodytext, compat301, jsonstrict
from vtn_lite.api31 import issue_token
from vtn_lite.auth import Authenticator, Principal
from vtn_lite.errors import MissingReference, bad_request, not_found
from vtn_lite.http import (
    json_body,
    json_response,
    principal_of,
    query_id,
    query_int,
    query_list,
    query_object_types,
    query_str,
    read_response,
)
from vtn_lite.notifier import WebhookNotifier
from vtn_lite.service import (
    MAX_LIMIT,
    TARGETED,
    WRITE_SCOPE,
    SearchParams,
    Vtn,
    describe_validation_error,
    servable,
)
from vtn_lite.storage import StoredObject
from vtn_lite.wire import models301
from vtn_lite.wire.models import OadrModel

BASE_301 = "/openadr3/3.0.1"

# 3.0.1 nests resources under their ven (routes below).
COLLECTIONS = {name: kind for name, kind in api31.COLLECTIONS.items() if name != "resources"}


MODELS_301: dict[str, type[OadrModel]] = {
    "PROGRAM": models301.Program301,
    "EVENT": models301.Event301,
    "REPORT": models301.Report301,
    "SUBSCRIPTION": models301.Subscription301,
    "VEN": models301.Ven301,
    "RESOURCE": models301.Resource301,
}


def search_params(request: web.Request, kind: str, *, ven_id: str | None = None) -> SearchParams:
    # 3.0.1 query style: targetType + targetValues (the values are what 3.1 strings hold).
    return SearchParams(
        skip=query_int(request, "skip", 0),
        limit=query_int(request, "limit", MAX_LIMIT),
        targets=query_list(request, "targetValues"),
        program_id=query_id(request, "programID"),
        event_id=query_id(request, "eventID"),
        client_name=query_str(request, "clientName"),
        ven_id=ven_id,
        ven_name=query_str(request, "venName"),
        resource_name=query_str(request, "resourceName"),
        objects=query_object_types(request),
        # 3.0.1 subscriptions require a programID; those created through 3.1 without one
        # cannot be expressed in 3.0.1 and are left out of 3.0.1 views.
        with_program=kind == "SUBSCRIPTION",
        read_all=True,
    )


class Api301:
    def __init__(self, vtn: Vtn, notifier: WebhookNotifier) -> None:
        self.vtn = vtn
        self.notifier = notifier
        self._texts = compat301.Texts301()

    # --- body translation -----------------------------------------------------------------

    def body_in(
        self, principal: Principal, kind: str, body: Any, *, ven_id: str | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        body = {key: value for key, value in body.items() if value is not None}
        try:
            # The 3.0.1 schema's own requirements (intervals, programID, intervalPeriod.start).
            MODELS_301[kind].model_validate(body)
        except ValidationError as exc:
            raise bad_request(f"OpenADR 3.0.1: {describe_validation_error(exc)}") from None
        if kind == "PROGRAM":
            return compat301.program_in(body)
        if kind == "REPORT":
            body.pop("programID")  # 3.1 derives it from the event (#253)
        out, extra = compat301.generic_in(body)
        if kind == "VEN":
            out.pop("resources", None)
            out["objectType"] = "BL_VEN_REQUEST" if principal.is_bl else "VEN_VEN_REQUEST"
            if principal.is_bl:
                # 3.0.1 has no clientID; business logic may name one, else the venName is used.
                out.setdefault("clientID", body.get("clientID") or body.get("venName"))
        if kind == "RESOURCE":
            out["venID"] = ven_id
            out["objectType"] = "BL_RESOURCE_REQUEST" if principal.is_bl else "VEN_RESOURCE_REQUEST"
        return out, extra

    async def body_out(
        self, principal: Principal, stored: StoredObject, body: dict[str, Any]
    ) -> Any:
        if stored.kind != "VEN":
            return compat301.object_out(stored, body)
        resources = [
            await self.body_out(principal, obj, rendered)
            for obj, rendered in await self.vtn.search_objects(
                principal, "RESOURCE", SearchParams(ven_id=stored.id)
            )
        ]
        return compat301.ven_out(body, stored.extra, resources)

    async def text_out(
        self, principal: Principal, stored: StoredObject, params: SearchParams
    ) -> str:
        """A program or event as :meth:`body_out` of its rendered body would serialise it,
        spliced from its translation kept per stored version (:class:`compat301.Texts301`)."""
        visible = await self.vtn.shown_targets(
            principal, stored, params.targets, read_all=params.read_all
        )
        return compat301.shown_text(self._texts.get(stored), visible)

    async def out_by_id(self, principal: Principal, kind: str, body: dict[str, Any]) -> Any:
        stored = await self.vtn.stored(kind, body["id"])
        if stored is None:  # deleted: translate from the body alone
            stored = StoredObject(0, body["id"], kind, "{}", None, None, body.get("venID"), None)
        return await self.body_out(principal, stored, body)

    # --- handlers -------------------------------------------------------------------------

    async def search(
        self, request: web.Request, kind: str, ven_id: str | None = None
    ) -> web.Response:
        principal = await principal_of(request)
        if ven_id is not None:
            await self.vtn.get(principal, "VEN", ven_id)
        params = search_params(request, kind, ven_id=ven_id)

        async def serialise(rows: list[StoredObject]) -> bytes:
            if kind in TARGETED:
                return bodytext.json_array(
                    [await self.text_out(principal, obj, params) for obj in rows if servable(obj)]
                )
            shown = [
                await self.body_out(principal, obj, body)
                for obj, body in await self.vtn.rendered(principal, rows, params)
            ]
            return jsonstrict.dumps(shown).encode()

        view = await self.vtn.view(principal, kind, params, "3.0.1", serialise)
        return read_response(request, view.body, view.etag)

    async def create(
        self, request: web.Request, kind: str, ven_id: str | None = None
    ) -> web.Response:
        principal = await principal_of(request)
        self.vtn.require(principal, WRITE_SCOPE[kind])
        if ven_id is not None:
            await self.vtn.get(principal, "VEN", ven_id)  # 404 for a ven not there (or not visible)
        raw = await json_body(request)
        payload, extra = self.body_in(principal, kind, raw, ven_id=ven_id)
        if kind == "SUBSCRIPTION":
            await self._vet_subscription(principal, payload)
            extra["apiVersion"] = "3.0.1"  # its notifications use 3.0.1 shapes
        created = await self.vtn.create(principal, kind, payload, extra=extra or None)
        if kind == "VEN" and isinstance(raw.get("resources"), list):
            for resource in raw["resources"]:
                body, rextra = self.body_in(principal, "RESOURCE", resource, ven_id=created["id"])
                await self.vtn.create(principal, "RESOURCE", body, extra=rextra or None)
        return json_response(await self.out_by_id(principal, kind, created), 201)

    async def get_one(
        self, request: web.Request, kind: str, object_id: str, ven_id: str | None = None
    ) -> web.Response:
        principal = await principal_of(request)
        body = await self.vtn.get(
            principal, kind, object_id, query_list(request, "targetValues"), read_all=True
        )
        self._check_parent(kind, body, ven_id)
        if kind == "SUBSCRIPTION" and "programID" not in body:
            raise not_found(kind, object_id)  # not expressible in 3.0.1 (see search_params)
        shown = await self.out_by_id(principal, kind, body)
        return read_response(request, jsonstrict.dumps(shown).encode())

    async def update(
        self, request: web.Request, kind: str, object_id: str, ven_id: str | None = None
    ) -> web.Response:
        principal = await principal_of(request)
        self.vtn.require(principal, WRITE_SCOPE[kind])
        self._check_parent(kind, await self.vtn.get(principal, kind, object_id), ven_id)
        payload, extra = self.body_in(principal, kind, await json_body(request), ven_id=ven_id)
        if kind == "SUBSCRIPTION":
            await self._vet_subscription(principal, payload)
            extra["apiVersion"] = "3.0.1"  # its notifications use 3.0.1 shapes
        updated = await self.vtn.update(principal, kind, object_id, payload, extra=extra or None)
        return json_response(await self.out_by_id(principal, kind, updated))

    async def delete(
        self, request: web.Request, kind: str, object_id: str, ven_id: str | None = None
    ) -> web.Response:
        principal = await principal_of(request)
        self.vtn.require(principal, WRITE_SCOPE[kind])
        self._check_parent(kind, await self.vtn.get(principal, kind, object_id), ven_id)
        stored = await self.vtn.stored(kind, object_id)
        resources: list[Any] = []
        if kind == "VEN":
            resources = [
                await self.body_out(principal, obj, body)
                for obj, body in await self.vtn.search_objects(
                    principal, "RESOURCE", SearchParams(ven_id=object_id)
                )
            ]
        deleted = await self.vtn.delete(principal, kind, object_id)
        assert stored is not None
        if kind == "VEN":
            return json_response(compat301.ven_out(deleted, stored.extra, resources))
        return json_response(await self.body_out(principal, stored, deleted))

    async def _vet_subscription(self, principal: Principal, payload: Any) -> None:
        # 3.0.1 defines no echo challenge (3.1.0 added it), so a 3.0.1 callback that answers
        # 200 without the echo is accepted; the address checks apply all the same.
        await self.vtn.check_subscription(principal, payload)
        self.notifier.check_callbacks(payload)

    @staticmethod
    def _check_parent(kind: str, body: dict[str, Any], ven_id: str | None) -> None:
        if kind == "RESOURCE" and body.get("venID") != ven_id:
            raise not_found(kind, body["id"])


Handler301 = Callable[[web.Request], Awaitable[web.Response]]


def _errors_301(handler: Handler301) -> Handler301:
    """3.0.1 status codes where they differ from the canonical 3.1.0 ones."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except MissingReference as exc:
            # 3.0.1's 409 names duplicates only; a missing programID is a bad request there.
            raise bad_request(exc.detail) from None

    return wrapped


def add_routes(
    app: web.Application, vtn: Vtn, notifier: WebhookNotifier, authenticator: Authenticator
) -> None:
    api = Api301(vtn, notifier)
    router = app.router
    for collection, (kind, id_name) in COLLECTIONS.items():
        _collection(router, api, f"{BASE_301}/{collection}", kind, id_name)

    async def resources(request: web.Request) -> web.Response:
        ven_id = request.match_info["venID"]
        if request.method == "GET":
            return await api.search(request, "RESOURCE", ven_id)
        return await api.create(request, "RESOURCE", ven_id)

    async def resource(request: web.Request) -> web.Response:
        ven_id = request.match_info["venID"]
        resource_id = request.match_info["resourceID"]
        if request.method == "GET":
            return await api.get_one(request, "RESOURCE", resource_id, ven_id)
        if request.method == "PUT":
            return await api.update(request, "RESOURCE", resource_id, ven_id)
        return await api.delete(request, "RESOURCE", resource_id, ven_id)

    path = f"{BASE_301}/vens/{{venID}}/resources"
    router.add_get(path, _errors_301(resources), allow_head=False)
    router.add_post(path, _errors_301(resources))
    for method in ("GET", "PUT", "DELETE"):
        router.add_route(method, f"{path}/{{resourceID}}", _errors_301(resource))

    async def token(request: web.Request) -> web.Response:
        return await issue_token(request, authenticator)

    router.add_post(f"{BASE_301}/auth/token", token)


def _collection(router: web.UrlDispatcher, api: Api301, path: str, kind: str, id_name: str) -> None:
    async def collection(request: web.Request) -> web.Response:
        if request.method == "GET":
            return await api.search(request, kind)
        return await api.create(request, kind)

    async def item(request: web.Request) -> web.Response:
        object_id = request.match_info[id_name]
        if request.method == "GET":
            return await api.get_one(request, kind, object_id)
        if request.method == "PUT":
            return await api.update(request, kind, object_id)
        return await api.delete(request, kind, object_id)

    router.add_get(path, _errors_301(collection), allow_head=False)
    router.add_post(path, _errors_301(collection))
    for method in ("GET", "PUT", "DELETE"):
        router.add_route(method, f"{path}/{{{id_name}}}", _errors_301(item))
