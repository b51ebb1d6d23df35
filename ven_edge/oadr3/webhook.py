"""Push: the gateway's webhook endpoint for OpenADR 3 subscriptions (Def "Webhooks", §8.1).

:func:`parse_notification` is the sans-I/O part (tolerant of quirks 4-6 of docs/openadr3.md
§10.1). :class:`WebhookReceiver` adds aiohttp routes to the gateway's own web application:

* ``GET <path>?echo=X`` and ``GET <path>/echo?echo=X`` (quirk 16) answer 200 with ``X``: the VTN's
  ownership check before it stores the subscription;
* ``POST <path>`` takes a notification when ``Authorization: Bearer <token>`` matches the token
  given in the subscription (compared in constant time). The whole body is read, chunked or not,
  up to :attr:`WebhookReceiver.max_body_bytes` (413 beyond it) and decoded within a nesting
  limit (:mod:`ven_edge.oadr3.boundedjson`; 400 for bad JSON or too deep).

Keys are normalised to the spec's camelCase at any depth: the reference VTN writes snake_case
(quirk 5), also inside the object (``{"object": {"interval_period": ...}}``).

A notification sets :attr:`WebhookReceiver.notified` and calls the optional callback at once; an
EVENT notification is also applied to the :class:`~ven_edge.oadr3.client.VtnClient` so the new
timeline is ready before the control loop wakes. Polling stays on as the safety net (quirks 13-14):
a notification from the VTN that cannot be used (refused with a 4xx, or an event object that does
not parse, which is still answered 200 as it was delivered) leaves :attr:`WebhookReceiver.last`
``None``, which tells the link to poll at once instead of waiting for the next poll.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ven_edge.oadr3 import boundedjson
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.operations import OPERATIONS, operation_name
from ven_edge.oadr3.push import Notification, NotificationCallback, NotificationSink

if TYPE_CHECKING:
    from ven_edge.oadr3.client import VtnClient

LOG = logging.getLogger(__name__)

#: Notification bodies carry one object; events with hundreds of intervals stay well below this.
DEFAULT_MAX_BODY_BYTES = 512 * 1024
#: The echo value is reflected verbatim, so it is bounded and sent back as text/plain.
MAX_ECHO_CHARS = 512
#: snake_case words the spec spells otherwise in camelCase (oadr3.1.0.yaml property names:
#: programID, eventID, venID, clientID, objectID, tokenURL).
_CAMEL_WORDS = {"id": "ID"}
_CAMEL_KEYS = {"token_url": "tokenURL"}
_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def camel_key(key: str) -> str:
    """``interval_period`` -> ``intervalPeriod``, ``program_id`` -> ``programID``; keys that are
    not lower snake_case are returned unchanged."""
    if _SNAKE_CASE.fullmatch(key) is None:
        return key
    if key in _CAMEL_KEYS:
        return _CAMEL_KEYS[key]
    head, *rest = key.split("_")
    return head + "".join(_CAMEL_WORDS.get(w, w[:1].upper() + w[1:]) for w in rest)


def camel_case_keys(value: Any, max_depth: int = boundedjson.MAX_DEPTH) -> Any:
    """``value`` with every object key in camelCase, at any depth (quirk 5: the reference VTN
    writes ``{"object_type": ..., "object": {"interval_period": ...}}``). A key the spec
    already writes in camelCase wins over its snake_case twin. Objects nested deeper than
    ``max_depth`` raise :class:`PayloadError` (decoded JSON is bounded well before that)."""
    if max_depth < 0:
        raise PayloadError("", "nested too deep")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = camel_key(key)
            if name != key and name in value:
                continue  # the camelCase spelling is there too: it wins
            out[name] = camel_case_keys(item, max_depth - 1)
        return out
    if isinstance(value, list):
        return [camel_case_keys(item, max_depth - 1) for item in value]
    return value


def parse_notification(body: bytes, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Notification:
    """Read a notification body; raises :class:`PayloadError` naming what is wrong."""
    try:
        data: Any = boundedjson.loads(body, max_bytes=max_bytes)
        if isinstance(data, str):
            # Quirk 4: a JSON string containing the JSON object.
            data = boundedjson.loads(data, max_bytes=max_bytes)
    except boundedjson.JsonLimitError as exc:
        raise PayloadError("", f"notification {exc}") from None
    if not isinstance(data, Mapping):
        raise PayloadError("", f"notification is {type(data).__name__}, not an object")
    data = camel_case_keys(data)
    object_type = data.get("objectType")
    if not isinstance(object_type, str) or not object_type:
        raise PayloadError("objectType", "missing or not a string")
    operation = data.get("operation")
    if not isinstance(operation, str) or not operation:
        raise PayloadError("operation", "missing or not a string")
    # Quirk 6: 3.0.1 and the Definition's example use HTTP verbs for the operation.
    operation = operation_name(operation)
    if operation not in OPERATIONS:
        raise PayloadError("operation", f"unknown operation {operation[:32]!r}")
    obj = data.get("object")
    if obj is None:
        obj = {}
    if not isinstance(obj, Mapping):
        raise PayloadError("object", f"is {type(obj).__name__}, not an object")
    raw_targets = data.get("targets")
    listed = raw_targets if isinstance(raw_targets, list) else []
    targets = tuple(t for t in listed if isinstance(t, str))
    return Notification(object_type.upper(), operation, obj, targets)


class WebhookReceiver(NotificationSink):
    """The webhook endpoint. ``bearer_token`` is what the VTN must send (and what we subscribe
    with); by default a fresh random one, never logged."""

    def __init__(
        self,
        bearer_token: str | None = None,
        *,
        client: VtnClient | None = None,
        on_notification: NotificationCallback | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        super().__init__(client=client, on_notification=on_notification)
        self.bearer_token = bearer_token or secrets.token_urlsafe(32)
        self.max_body_bytes = max_body_bytes

    def __repr__(self) -> str:
        return f"WebhookReceiver(received={self.received}, rejected={self.rejected})"

    def add_routes(self, app: web.Application, path: str = "/oadr3/notify") -> None:
        """Register the echo and notification routes on ``app`` (before it starts)."""
        path = "/" + path.strip("/")
        app.router.add_get(path, self.handle_echo)
        app.router.add_get(f"{path}/echo", self.handle_echo)
        app.router.add_post(path, self.handle_notification)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), self.bearer_token.encode())

    async def handle_echo(self, request: web.Request) -> web.Response:
        """Def "Webhooks": answer the ownership check with 200 and the echo value."""
        echo = request.query.get("echo")
        if echo is None:
            return web.Response(status=400, text="missing echo parameter")
        if "Authorization" in request.headers and not self._authorized(request):
            # Quirk 16: the reference VTN sends the bearer token with the echo; a wrong one is
            # refused. The spec's echo carries no token, so its absence is accepted.
            return web.Response(status=401, text="bad bearer token")
        if len(echo) > MAX_ECHO_CHARS:
            return web.Response(status=400, text="echo value too long")
        return web.Response(status=200, text=echo, content_type="text/plain")

    async def handle_notification(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            self.rejected += 1
            LOG.warning("webhook notification from %s refused: bad bearer token", request.remote)
            return web.Response(status=401, text="bad bearer token")
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._unusable(413, "notification too large", f"Content-Length {length}")
        try:
            body = await boundedjson.read_limited(request.content, self.max_body_bytes)
        except boundedjson.BodyTooLargeError:
            return self._unusable(413, "notification too large", "body")
        try:
            notification = parse_notification(body, self.max_body_bytes)
        except PayloadError as exc:
            return self._unusable(400, f"malformed notification: {exc}")
        self.count_received(notification, "webhook")
        await self.dispatch(notification)
        return web.Response(status=200, text="ok")

    def _unusable(self, status: int, text: str, detail: str = "") -> web.Response:
        """Refuse an authorised notification and have the link poll at once instead: the VTN
        meant to tell us something that we could not read."""
        self.rejected += 1
        if status == 413:
            LOG.error(
                "webhook notification refused: %s over the %d-byte limit; polling instead",
                detail,
                self.max_body_bytes,
            )
        else:
            LOG.error("webhook notification refused: %s; polling instead", text[:300])
        self._wake(None)
        return web.Response(status=status, text=text)
