"""OpenADR 3.1.0 routes (base path ``/openadr3/3.1.0``), one store with :mod:`vtn_lite.api301`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from vtn_lite.auth import Authenticator, Principal
from vtn_lite.errors import ApiError
from vtn_lite.http import (
    AUTH_LIMITER_KEY,
    NAME_MAX,
    TokenError,
    json_body,
    json_response,
    principal_of,
    problem_response,
    query_bool,
    query_id,
    query_int,
    query_list,
    query_object_types,
    query_str,
    read_response,
    record_checkin,
    token_request_credentials,
)
from vtn_lite.mqtt_notifier import MqttNotifier
from vtn_lite.mqtt_topics import TopicDirectory
from vtn_lite.notifier import WebhookNotifier
from vtn_lite.service import MAX_LIMIT, WRITE_SCOPE, SearchParams, Vtn

BASE_31 = "/openadr3/3.1.0"

# Collection path per object type (3.1: resources are top level).
COLLECTIONS = {
    "programs": ("PROGRAM", "programID"),
    "events": ("EVENT", "eventID"),
    "reports": ("REPORT", "reportID"),
    "subscriptions": ("SUBSCRIPTION", "subscriptionID"),
    "vens": ("VEN", "venID"),
    "resources": ("RESOURCE", "resourceID"),
}

# The 3.1.0 YAML declares no 409 for POST /vens (PUT /vens/{venID} has one): a duplicate
# venName or clientID is answered 400 there, the declared status for a refused body.
_POST_WITHOUT_409 = frozenset({"VEN"})

RouteHandler = Callable[[web.Request], Awaitable[web.Response]]


def search_params(request: web.Request) -> SearchParams:
    """The query filters of the 3.1.0 YAML for every collection (unknown ones are ignored)."""
    return SearchParams(
        skip=query_int(request, "skip", 0),
        limit=query_int(request, "limit", MAX_LIMIT),
        targets=query_list(request, "targets", max_length=NAME_MAX),
        program_id=query_id(request, "programID"),
        event_id=query_id(request, "eventID"),
        client_name=query_str(request, "clientName", max_length=NAME_MAX),
        ven_id=query_id(request, "venID"),
        ven_name=query_str(request, "venName", max_length=NAME_MAX),
        resource_name=query_str(request, "resourceName", max_length=NAME_MAX),
        active=query_bool(request, "active"),
        objects=query_object_types(request),
    )


def add_routes(
    app: web.Application,
    vtn: Vtn,
    notifier: WebhookNotifier,
    authenticator: Authenticator,
    public_url: str | None,
    mqtt: MqttNotifier | None = None,
) -> None:
    routes = web.RouteTableDef()
    for collection, (kind, id_name) in COLLECTIONS.items():
        _collection_routes(routes, vtn, notifier, collection, kind, id_name)

    @routes.get(f"{BASE_31}/auth/server")
    async def auth_server(request: web.Request) -> web.Response:
        # Definition "Token endpoint discovery": required and unauthenticated.
        origin = public_url.rstrip("/") if public_url else f"{request.scheme}://{request.host}"
        return json_response({"tokenURL": f"{origin}{BASE_31}/auth/token"})

    @routes.post(f"{BASE_31}/auth/token")
    async def auth_token(request: web.Request) -> web.Response:
        return await issue_token(request, authenticator)

    @routes.get(f"{BASE_31}/notifiers")
    async def notifiers(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        vtn.require(principal, "read_all")
        # WEBHOOK "currently MUST be true"; MQTT only with an [mqtt] table.
        if mqtt is None:
            return json_response({"WEBHOOK": True})
        return json_response({"WEBHOOK": True, "MQTT": mqtt.binding(principal)})

    @routes.get(f"{BASE_31}/notifiers/mqtt/topics/{{tail:.*}}")
    async def mqtt_topics(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        if mqtt is None:
            # No MQTT binding (GET /notifiers lists only WEBHOOK); 404 is a declared status.
            raise ApiError(404, "this VTN offers no MQTT notifier; use webhooks or polling")
        directory = TopicDirectory(vtn, mqtt.config.topic_prefix)
        return json_response(await directory.answer(principal, request.match_info["tail"]))

    app.add_routes(routes)


async def vet_subscription(
    vtn: Vtn, notifier: WebhookNotifier, principal: Principal, payload: Any
) -> None:
    """Validate a subscription body, then challenge its callbacks, before it is stored."""
    await vtn.check_subscription(principal, payload)
    await notifier.verify_subscription(payload)


async def issue_token(request: web.Request, authenticator: Authenticator) -> web.Response:
    try:
        client_id, secret = await token_request_credentials(request)
    except TokenError as exc:
        return exc.response()
    limiter = request.app[AUTH_LIMITER_KEY]
    address = request.remote or "unknown"
    refusal = limiter.admit(address, client_id, authenticator.now())
    if refusal is not None:
        # Refused before the scrypt check, so a flood costs no hashing.
        response = problem_response(ApiError(429, refusal.reason), request)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response
    # scrypt takes tens of milliseconds by design: keep it off the event loop.
    client = await asyncio.to_thread(authenticator.check_secret, client_id, secret)
    if client is None:
        limiter.failed(address, client_id, authenticator.now())
        return TokenError(401, "invalid_client", "unknown client or wrong secret").response()
    limiter.succeeded(client_id)
    record_checkin(request, client.client_id)
    issued = await authenticator.issue_for(client)
    response = json_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            # toadr3 reads expires_in unconditionally (docs/openadr3.md §10.2 #11).
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _collection_routes(
    routes: web.RouteTableDef,
    vtn: Vtn,
    notifier: WebhookNotifier,
    collection: str,
    kind: str,
    id_name: str,
) -> None:
    path = f"{BASE_31}/{collection}"

    async def search(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        view = await vtn.search_view(principal, kind, search_params(request))
        return read_response(request, view.body, view.etag)

    async def create(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        vtn.require(principal, WRITE_SCOPE[kind])
        payload = await json_body(request)
        if kind == "SUBSCRIPTION":
            await vet_subscription(vtn, notifier, principal, payload)
        try:
            return json_response(await vtn.create(principal, kind, payload), 201)
        except ApiError as exc:
            if exc.status == 409 and kind in _POST_WITHOUT_409:
                raise ApiError(400, exc.detail) from None
            raise

    async def get_one(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        targets = query_list(request, "targets")
        text = await vtn.get_text(principal, kind, request.match_info[id_name], targets)
        return read_response(request, text.encode())

    async def update(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        vtn.require(principal, WRITE_SCOPE[kind])
        object_id = request.match_info[id_name]
        await vtn.get(principal, kind, object_id)
        payload = await json_body(request)
        if kind == "SUBSCRIPTION":
            await vet_subscription(vtn, notifier, principal, payload)
        return json_response(await vtn.update(principal, kind, object_id, payload))

    async def delete(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        return json_response(await vtn.delete(principal, kind, request.match_info[id_name]))

    routes.get(path)(search)
    routes.post(path)(create)
    routes.get(f"{path}/{{{id_name}}}")(get_one)
    routes.put(f"{path}/{{{id_name}}}")(update)
    routes.delete(f"{path}/{{{id_name}}}")(delete)
