"""Push: the gateway's webhook endpoint for OpenADR 3 subscriptions (Def "Webhooks", §8.1).

:func:`parse_notification` is the sans-I/O part (tolerant of quirks 4-6 of docs/openadr3.md
§10.1). :class:`WebhookReceiver` adds aiohttp routes to the gateway's own web application:

* ``GET <path>?echo=X`` and ``GET <path>/echo?echo=X`` (quirk 16) answer 200 with ``X``: the VTN's
  ownership check before it stores the subscription;
* ``POST <path>`` takes a notification when ``Authorization: Bearer <token>`` matches the token
  given in the subscription (compared in constant time), within a size limit.

A notification sets :attr:`WebhookReceiver.notified` and calls the optional callback at once; an
EVENT notification is also applied to the :class:`~ven_edge.oadr3.client.VtnClient` so the new
timeline is ready before the control loop wakes. Polling stays on as the safety net (quirks 13-14).
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ven_edge.oadr3.errors import PayloadError

if TYPE_CHECKING:
    from ven_edge.oadr3.client import VtnClient

LOG = logging.getLogger(__name__)

#: Notification bodies carry one object; events with hundreds of intervals stay well below this.
DEFAULT_MAX_BODY_BYTES = 512 * 1024
#: The echo value is reflected verbatim, so it is bounded and sent back as text/plain.
MAX_ECHO_CHARS = 512
#: Quirk 6: 3.0.1 and the Definition's example use HTTP verbs for the operation.
_OPERATION_NAMES = {"POST": "CREATE", "PUT": "UPDATE", "GET": "READ"}


@dataclass(frozen=True)
class Notification:
    """A VTN notification: ``operation`` is normalised to CREATE/READ/UPDATE/DELETE."""

    object_type: str
    operation: str
    object: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()


def _pick(data: Mapping[str, Any], camel: str, snake: str) -> Any:
    # Quirk 5: the reference VTN writes snake_case keys (object_type, ...).
    return data[camel] if camel in data else data.get(snake)


def parse_notification(body: bytes) -> Notification:
    """Read a notification body; raises :class:`PayloadError` naming what is wrong."""
    try:
        data: Any = json.loads(body)
        if isinstance(data, str):
            data = json.loads(data)  # quirk 4: a JSON string containing the JSON object
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("", f"notification is not JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise PayloadError("", f"notification is {type(data).__name__}, not an object")
    object_type = _pick(data, "objectType", "object_type")
    if not isinstance(object_type, str) or not object_type:
        raise PayloadError("objectType", "missing or not a string")
    operation = data.get("operation")
    if not isinstance(operation, str) or not operation:
        raise PayloadError("operation", "missing or not a string")
    operation = _OPERATION_NAMES.get(operation.upper(), operation.upper())
    if operation not in ("CREATE", "READ", "UPDATE", "DELETE"):
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


NotificationCallback = Callable[[Notification], Awaitable[None] | None]


class WebhookReceiver:
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
        self.bearer_token = bearer_token or secrets.token_urlsafe(32)
        self.client = client
        self.on_notification = on_notification
        self.max_body_bytes = max_body_bytes
        self.notified = asyncio.Event()
        self.received = 0
        self.rejected = 0
        self.last: Notification | None = None

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
            self.rejected += 1
            return web.Response(status=413, text="notification too large")
        body = await request.content.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            self.rejected += 1
            return web.Response(status=413, text="notification too large")
        try:
            notification = parse_notification(body)
        except PayloadError as exc:
            self.rejected += 1
            LOG.error("malformed webhook notification: %s", exc)
            return web.Response(status=400, text=f"malformed notification: {exc}")
        self.received += 1
        LOG.info(
            "notification %s %s %s",
            notification.operation,
            notification.object_type,
            notification.object.get("id", "?"),
        )
        await self.dispatch(notification)
        return web.Response(status=200, text="ok")

    async def dispatch(self, notification: Notification) -> None:
        """Apply an EVENT notification to the client, then wake the control loop."""
        if self.client is not None and notification.object_type == "EVENT":
            try:
                self.client.apply_event_notification(notification.operation, notification.object)
            except PayloadError as exc:
                # The last good timeline stays; the next poll re-reads the event.
                LOG.error("event notification not applied: %s", exc)
        self.last = notification
        self.notified.set()
        if self.on_notification is not None:
            result = self.on_notification(notification)
            if inspect.isawaitable(result):
                await result

    async def wait(self) -> None:
        """Wait for the next notification and clear the flag (wrap in ``asyncio.timeout``)."""
        await self.notified.wait()
        self.notified.clear()
