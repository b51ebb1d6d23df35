"""Webhook subscriptions: echo challenge, notifications, retries (Definition "Webhooks").

A change to an object is matched against every subscription (object type, operation, programID,
targets) and against the subscriber's privacy (the subscription's clientID sees what it could
read). Deliveries to one callback of one subscription go out in order, one at a time, each with
bounded retries and exponential backoff (owned worker tasks, cancelled on close); the
outcome per subscription (OK / FAILING / FAILED) is stored and shown at
``GET /vtn-lite/deliveries``.

With several workers (docs/vtn-lite.md "Several workers") each worker hears every change (its
own, and the others' through the storage) and notifies only the subscriptions it owns, a fixed
share by subscription id: the work is spread and each subscription is served by one worker, so
its notifications stay in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

import aiohttp

from vtn_lite import compat301
from vtn_lite.auth import Principal
from vtn_lite.config import Role
from vtn_lite.errors import bad_request
from vtn_lite.netguard import CallbackRefused, GuardedResolver, check_callback_url, describe
from vtn_lite.service import Vtn
from vtn_lite.storage import StoredObject

log = logging.getLogger(__name__)

# Definition "Webhooks": "the VTN SHALL not follow redirects".
_NO_REDIRECTS = False
_MAX_CONCURRENT_DELIVERIES = 32
_ECHO_BYTES = 16
_MAX_ECHO_RESPONSE = 4096
# Per subscription and callback; beyond it the oldest notification is dropped (and counted).
_MAX_QUEUED = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    subscription_id: str
    url: str
    bearer_token: str | None
    body: bytes


class WebhookNotifier:
    def __init__(
        self,
        vtn: Vtn,
        role_of: Callable[[str], Role | None],
        *,
        allow_local: bool,
        timeout: float,
        attempts: int,
        backoff: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        share: tuple[int, int] = (0, 1),
    ) -> None:
        self._vtn = vtn
        self._share = share
        self._role_of = role_of
        self._allow_local = allow_local
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._queues: dict[tuple[str, str], deque[Delivery]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(_MAX_CONCURRENT_DELIVERIES)
        # subscription id -> (body text, parsed body), from the last change's matching.
        self._parsed: dict[str, tuple[str, dict[str, Any]]] = {}
        vtn.listeners.append(self.on_change)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_local=self._allow_local))
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def idle(self) -> None:
        """Wait until every queued delivery has finished (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- echo challenge -------------------------------------------------------------------

    async def verify_subscription(self, payload: Any) -> None:
        """Challenge every distinct callbackUrl of a subscription body before it is stored."""
        for url, token in _callbacks(payload).items():
            await self.challenge(url, token)

    def check_callbacks(self, payload: Any) -> None:
        """Refuse (400) callbacks the VTN will not call, without a challenge: the 3.0.1 API,
        which defines no echo challenge (docs/vtn-lite.md "3.0.1 and 3.1.0")."""
        for url in _callbacks(payload):
            try:
                check_callback_url(url, allow_local=self._allow_local)
            except CallbackRefused as exc:
                raise bad_request(str(exc)) from None

    async def challenge(self, url: str, bearer_token: str | None) -> None:
        try:
            check_callback_url(url, allow_local=self._allow_local)
        except CallbackRefused as exc:
            raise bad_request(str(exc)) from None
        assert self._session is not None, "notifier not started"
        echo = secrets.token_urlsafe(_ECHO_BYTES)
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        try:
            async with self._session.get(
                url, params={"echo": echo}, headers=headers, allow_redirects=_NO_REDIRECTS
            ) as response:
                text = (await response.content.read(_MAX_ECHO_RESPONSE)).decode(errors="replace")
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise bad_request(f"callbackUrl {url} is unreachable: {describe(exc)}") from None
        if status != 200 or _echoed(text) != echo:
            raise bad_request(
                f"callbackUrl {url} failed the echo challenge (status {status});"
                " it must answer 200 with the echo query value as the body"
            )

    # --- notifications --------------------------------------------------------------------

    async def on_change(self, operation: str, stored: StoredObject) -> None:
        # Subscriptions are read from the shared storage, so one made on another worker counts.
        # Subscribers with the same view of the object share one encoded notification.
        encoded: dict[tuple[bool, Hashable], bytes] = {}
        subscriptions = await self._vtn.store.all_of_kind("SUBSCRIPTION")
        parsed: dict[str, tuple[str, dict[str, Any]]] = {}
        for subscription in subscriptions:
            if not self.owns(subscription.id):
                continue
            # Parsed once per stored version: the same text parses to the same body.
            known = self._parsed.get(subscription.id)
            if known is None or known[0] != subscription.body_text:
                known = (subscription.body_text, subscription.body)
            parsed[subscription.id] = known
            await self._match(subscription, known[1], operation, stored, encoded)
        self._parsed = parsed

    def owns(self, subscription_id: str) -> bool:
        """Whether this worker notifies ``subscription_id`` (always, with one worker)."""
        index, count = self._share
        return count == 1 or zlib.crc32(subscription_id.encode()) % count == index

    async def _match(
        self,
        subscription: StoredObject,
        sub: dict[str, Any],
        operation: str,
        stored: StoredObject,
        encoded: dict[tuple[bool, Hashable], bytes],
    ) -> None:
        callbacks: dict[tuple[str, str | None], None] = {}
        for entry in sub.get("objectOperations", []):
            if stored.kind in entry["objects"] and operation in entry["operations"]:
                callbacks[(entry["callbackUrl"], entry.get("bearerToken"))] = None
        if not callbacks:
            return
        if not self._program_matches(sub.get("programID"), stored):
            return
        sub_targets = sub.get("targets")
        if sub_targets and stored.targets and not set(sub_targets) & set(stored.targets):
            return
        role = self._role_of(sub["clientID"]) or "ven"
        principal = Principal(sub["clientID"], role)
        # A 3.0.1 subscriber reads as a 3.0.1 poller does (read_all: its targets count).
        v301 = (subscription.extra or {}).get("apiVersion") == "3.0.1"
        if not await self._vtn.visible(principal, stored, sub_targets, read_all=v301):
            return
        view = (v301, await self._vtn.view_key(principal, stored, sub_targets, read_all=v301))
        body = encoded.get(view)
        if body is None:
            shown = await self._vtn.render(principal, stored, sub_targets, read_all=v301)
            if v301:
                # A 3.0.1 subscriber gets 3.0.1 shapes and the Alliance file's operation verbs.
                note = compat301.notification_out(operation, stored, shown)
            else:
                note = {"objectType": stored.kind, "operation": operation, "object": shown}
                if shown.get("targets"):
                    note["targets"] = shown["targets"]
            body = encoded[view] = json.dumps(note, separators=(",", ":")).encode()
        for url, token in callbacks:
            await self._spawn(Delivery(sub["id"], url, token, body))

    def _program_matches(self, program_id: str | None, stored: StoredObject) -> bool:
        if program_id is None:
            return True
        if stored.kind == "PROGRAM":
            return stored.id == program_id
        if stored.kind in ("EVENT", "REPORT"):
            return stored.program_id == program_id
        return True

    async def _spawn(self, delivery: Delivery) -> None:
        """Queue a delivery; one worker per (subscription, callback) keeps them in order."""
        key = (delivery.subscription_id, delivery.url)
        queue = self._queues.setdefault(key, deque())
        dropped = queue.popleft() if len(queue) >= _MAX_QUEUED else None
        queue.append(delivery)
        if key not in self._workers:
            task = asyncio.get_running_loop().create_task(self._drain(key))
            self._workers[key] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Recorded only now: an await before the append could see the queue drained and gone.
        if dropped is not None:
            await self._vtn.store.record_delivery(
                dropped.subscription_id, ok=False, error="dropped: too many queued notifications"
            )

    async def _drain(self, key: tuple[str, str]) -> None:
        queue = self._queues[key]
        try:
            while queue:
                await self._deliver(queue.popleft())
        finally:
            # No await between the empty check and here: nothing can be queued in between.
            del self._workers[key]
            del self._queues[key]

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if delivery.bearer_token:
            headers["Authorization"] = f"Bearer {delivery.bearer_token}"
        error = "not attempted"
        for attempt in range(self._attempts):
            if attempt:
                await self._sleep(self._backoff * 2 ** (attempt - 1))
                if await self._vtn.store.get("SUBSCRIPTION", delivery.subscription_id) is None:
                    return  # deleted meanwhile: stop retrying for it
            try:
                check_callback_url(delivery.url, allow_local=self._allow_local)
                async with (
                    self._limit,
                    self._session.post(
                        delivery.url,
                        data=delivery.body,
                        headers=headers,
                        allow_redirects=_NO_REDIRECTS,
                    ) as response,
                ):
                    if 200 <= response.status < 300:
                        await self._vtn.store.record_delivery(
                            delivery.subscription_id, ok=True, error=None
                        )
                        return
                    error = f"callback answered {response.status}"
            except (aiohttp.ClientError, OSError, TimeoutError, CallbackRefused) as exc:
                error = describe(exc)
            await self._vtn.store.record_delivery(delivery.subscription_id, ok=False, error=error)
            log.info(
                "notification to subscription %s failed (attempt %d/%d): %s",
                delivery.subscription_id,
                attempt + 1,
                self._attempts,
                error,
            )
        await self._vtn.store.mark_delivery_failed(delivery.subscription_id, error)
        log.warning(
            "giving up on a notification for subscription %s after %d attempts: %s",
            delivery.subscription_id,
            self._attempts,
            error,
        )


def _callbacks(payload: Any) -> dict[str, str | None]:
    """Each distinct callbackUrl of a subscription body and the first bearerToken given for it."""
    urls: dict[str, str | None] = {}
    if isinstance(payload, dict):
        for operation in payload.get("objectOperations") or []:
            if isinstance(operation, dict) and isinstance(operation.get("callbackUrl"), str):
                token = operation.get("bearerToken")
                urls.setdefault(operation["callbackUrl"], token if isinstance(token, str) else None)
    return urls


def _echoed(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    return text
