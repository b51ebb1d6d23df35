"""HTTP plumbing shared by both API versions: JSON I/O, problems, bearer auth, query parsing."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from aiohttp import web

from vtn_lite import jsonstrict
from vtn_lite.auth import Authenticator, Principal
from vtn_lite.errors import ApiError, bad_request
from vtn_lite.ratelimit import AuthRateLimiter
from vtn_lite.viewcache import etag_of

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Both YAMLs: skip and limit are "format: int32"; ids are objectID (1-128 of [a-zA-Z0-9_-]);
# 3.1.0 names (venName, resourceName, clientName) and targets are 1-128 characters.
INT32_MAX = 2**31 - 1
OBJECT_ID = re.compile(r"[a-zA-Z0-9_-]{1,128}")
NAME_MAX = 128
OBJECT_TYPES = frozenset({"PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"})
AUTHENTICATOR_KEY: web.AppKey[Authenticator] = web.AppKey("authenticator", Authenticator)
AUTH_LIMITER_KEY: web.AppKey[AuthRateLimiter] = web.AppKey("auth_limiter", AuthRateLimiter)
# Told the client id of every authenticated request (the console's check-ins, docs/console.md).
CHECKIN_KEY: web.AppKey[Callable[[str], None]] = web.AppKey("checkin")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=jsonstrict.dumps(body).encode(),
        status=status,
        content_type="application/json",
    )


def read_response(request: web.Request, body: bytes, etag: str | None = None) -> web.Response:
    """A 200 JSON read with an ETag of exactly these bytes, or 304 when the client has them.

    The ETag hashes the caller's own view (RFC 9110 §8.8.3), so it differs between VENs whose
    views differ and changes with any change to what the caller sees; a poll that finds nothing
    new costs a 304 without a body (§13.1.2). Views are per client, hence ``private``.
    """
    etag = etag or etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: a weak comparison against any listed tag, or ``*``."""
    if not header:
        return False
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def problem_response(error: ApiError, request: web.Request) -> web.Response:
    response = web.Response(
        body=jsonstrict.dumps(error.problem(str(request.url))).encode(),
        status=error.status,
        content_type=problem_content_type(request),
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="openadr3"'
    return response


def problem_content_type(request: web.Request) -> str:
    """``application/json``, which both YAMLs declare for problem responses, unless the client
    asks for RFC 9457's ``application/problem+json`` by name."""
    accept = request.headers.get("Accept", "")
    return PROBLEM_CONTENT_TYPE if PROBLEM_CONTENT_TYPE in accept else "application/json"


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a problem object with the exact status (Definition "General Usage")."""
    try:
        return await handler(request)
    except ApiError as exc:
        return problem_response(exc, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        if exc.status == 405:
            detail = f"{request.method} is not supported on {request.path}"
        elif exc.status == 404:
            detail = f"no resource at {request.path}"
        response = problem_response(ApiError(exc.status, detail), request)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]  # RFC 9110 §15.5.6
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(ApiError(500, "internal error; see the VTN log"), request)


async def principal_of(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required (Authorization: Bearer ...)")
    principal = await request.app[AUTHENTICATOR_KEY].principal(token.strip())
    if principal is None:
        raise ApiError(401, "the bearer token is unknown or has expired")
    record_checkin(request, principal.client_id)
    return principal


def record_checkin(request: web.Request, client_id: str) -> None:
    """Tell the console (when it runs) that this client made an authenticated request."""
    checkin = request.app.get(CHECKIN_KEY)
    if checkin is not None:
        checkin(client_id)


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise bad_request("the request body is empty; a JSON object is required")
    try:
        return jsonstrict.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not JSON: {exc}") from None
    except RecursionError:
        raise bad_request("the request body nests too deeply") from None


def query_int(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {text!r}") from None
    if value > INT32_MAX:
        raise bad_request(f"{name} must be at most {INT32_MAX} (int32)")
    return value


def query_bool(request: web.Request, name: str) -> bool | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false, not {text!r}")


def query_list(
    request: web.Request, name: str, *, max_length: int | None = None
) -> tuple[str, ...] | None:
    values = request.query.getall(name, [])
    if not values:
        return None
    # Repeated parameters (YAML style "form", explode) and, leniently, comma lists.
    parts = tuple(part for value in values for part in value.split(",") if part)
    if max_length is not None:
        for part in parts:
            _check_length(name, part, max_length)
    return parts


def query_str(request: web.Request, name: str, *, max_length: int | None = None) -> str | None:
    """A string filter; with ``max_length`` (3.1.0 names: 1 to 128 characters) a given but
    empty value is refused, else it means no filter."""
    value = request.query.get(name)
    if value is not None and max_length is not None:
        if not value:
            raise bad_request(f"{name} must not be empty")
        _check_length(name, value, max_length)
    return value if value else None


def query_id(request: web.Request, name: str) -> str | None:
    """An objectID filter (programID, eventID, venID); 400 unless it is one."""
    value = request.query.get(name)
    if value is None:
        return None
    if not OBJECT_ID.fullmatch(value):
        raise bad_request(f"{name} must be an objectID (1-128 of A-Z, a-z, 0-9, _ and -)")
    return value


def query_object_types(request: web.Request) -> tuple[str, ...] | None:
    """The ``objects`` filter: object types of the YAML's objectTypes enumeration."""
    kinds = query_list(request, "objects")
    unknown = sorted(set(kinds or ()) - OBJECT_TYPES)
    if unknown:
        raise bad_request(f"objects must be of {sorted(OBJECT_TYPES)}, not {unknown}")
    return kinds


def _check_length(name: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise bad_request(f"{name} must be at most {max_length} characters")


async def token_request_credentials(request: web.Request) -> tuple[str, str]:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1) or the body."""
    raw = await request.read()
    fields: dict[str, str] = {}
    content_type = request.content_type
    if content_type == "application/json" and raw.strip():
        # Non-RFC JSON bodies seen in the wild (oadr30-ven-ud: clientID/clientSecret).
        try:
            data = jsonstrict.loads(raw)
        except (ValueError, RecursionError):
            raise TokenError(400, "invalid_request", "the token request body is not JSON") from None
        if isinstance(data, dict):
            for key, alias in (("client_id", "clientID"), ("client_secret", "clientSecret")):
                value = data.get(key, data.get(alias))
                if isinstance(value, str):
                    fields[key] = value
            if isinstance(data.get("grant_type"), str):
                fields["grant_type"] = data["grant_type"]
    elif raw:
        parsed = parse_qs(raw.decode(errors="replace"), keep_blank_values=True)
        fields = {key: values[0] for key, values in parsed.items() if values}
    grant = fields.get("grant_type")
    if grant is not None and grant != "client_credentials":
        raise TokenError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TokenError(401, "invalid_client", "malformed Basic credentials") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise TokenError(401, "invalid_client", "malformed Basic credentials")
        return unquote_plus(user), unquote_plus(password)
    if "client_id" not in fields or "client_secret" not in fields:
        raise TokenError(400, "invalid_request", "client_id and client_secret are required")
    return fields["client_id"], fields["client_secret"]


class TokenError(Exception):
    """An RFC 6749 §5.2 error (authError in the YAML)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> web.Response:
        response = json_response(
            {"error": self.error, "error_description": self.description}, self.status
        )
        response.headers["Cache-Control"] = "no-store"
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="openadr3"'
        return response
