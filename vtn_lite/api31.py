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
    TokenError,
    json_body,
    json_response,
    principal_of,
    problem_response,
    query_bool,
    query_int,
    query_list,
    query_str,
    token_request_credentials,
)
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

RouteHandler = Callable[[web.Request], Awaitable[web.Response]]


def search_params(request: web.Request) -> SearchParams:
    """The query filters of the 3.1.0 YAML for every collection (unknown ones are ignored)."""
    return SearchParams(
        skip=query_int(request, "skip", 0),
        limit=query_int(request, "limit", MAX_LIMIT),
        targets=query_list(request, "targets"),
        program_id=query_str(request, "programID"),
        event_id=query_str(request, "eventID"),
        client_name=query_str(request, "clientName"),
        ven_id=query_str(request, "venID"),
        ven_name=query_str(request, "venName"),
        resource_name=query_str(request, "resourceName"),
        active=query_bool(request, "active"),
        objects=query_list(request, "objects"),
    )


def add_routes(
    app: web.Application,
    vtn: Vtn,
    notifier: WebhookNotifier,
    authenticator: Authenticator,
    public_url: str | None,
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
        # WEBHOOK "currently MUST be true"; vtn_lite offers no MQTT broker.
        return json_response({"WEBHOOK": True})

    @routes.get(f"{BASE_31}/notifiers/mqtt/topics/{{tail:.*}}")
    async def mqtt_topics(request: web.Request) -> web.Response:
        await principal_of(request)
        # No MQTT binding here (GET /notifiers lists only WEBHOOK); 404 is a declared status.
        raise ApiError(404, "this VTN offers no MQTT notifier; use webhooks or polling")

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
        return json_response(await vtn.search(principal, kind, search_params(request)))

    async def create(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        vtn.require(principal, WRITE_SCOPE[kind])
        payload = await json_body(request)
        if kind == "SUBSCRIPTION":
            await vet_subscription(vtn, notifier, principal, payload)
        return json_response(await vtn.create(principal, kind, payload), 201)

    async def get_one(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        targets = query_list(request, "targets")
        return json_response(await vtn.get(principal, kind, request.match_info[id_name], targets))

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
