"""The VEN's OpenADR 3 client (aiohttp): auth, registration, polling, subscriptions, reports.

One :class:`VtnClient` talks to one VTN in 3.1.0 or 3.0.1 mode. It keeps the last good programs,
events and :class:`~ven_edge.signals.SignalTimeline`; a malformed response or object is logged
with the JSON path of the bad field and never replaces good data (COMMON "bad input" rule).
Interop quirks tolerated here are numbered as in docs/openadr3.md §10.1.

Errors reach the caller as :mod:`ven_edge.oadr3.errors` exceptions; retry timing is the caller's
(see :class:`ven_edge.oadr3.backoff.Backoff`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin

import aiohttp
from yarl import URL

from ven_edge.oadr3 import boundedjson
from ven_edge.oadr3.errors import (
    Oadr3Error,
    PayloadError,
    ResponseTooLargeError,
    VtnAuthError,
    VtnHttpError,
    VtnUnreachableError,
)
from ven_edge.oadr3.eventparse import Event
from ven_edge.oadr3.eventstore import EventStore
from ven_edge.oadr3.eventstore import PollResult as PollResult
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.redact import redact_text, redact_url
from ven_edge.signals import SignalTimeline

LOG = logging.getLogger(__name__)

Version = Literal["3.1.0", "3.0.1"]
Params = list[tuple[str, str]]

#: 3.1.0 YAML: ``limit`` has ``maximum: 50``; the reference VTN answers 400 above it (quirk 12).
MAX_PAGE_SIZE = 50
#: Stop paging after this many pages even if the VTN keeps returning full pages (no ordering is
#: defined, so a buggy VTN could loop forever).
MAX_PAGES = 200
#: Token lifetime assumed when the token response has no ``expires_in`` (quirk 7).
DEFAULT_TOKEN_LIFETIME_S = 3600.0
#: Operations subscribed to; 3.0.1 (Alliance file) spells them as HTTP verbs (§8.1).
SUBSCRIBED_OPERATIONS: dict[str, tuple[str, ...]] = {
    "3.1.0": ("CREATE", "UPDATE", "DELETE"),
    "3.0.1": ("POST", "PUT", "DELETE"),
}
_ERROR_BODY_LIMIT = 4096
#: Fetches of one poll when pushes keep landing during them (then pushes are replayed on top).
POLL_ATTEMPTS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class VtnSettings:
    """How to reach one VTN. ``client_secret`` is never shown by ``repr`` nor logged."""

    base_url: str
    version: Version = "3.1.0"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    ven_name: str = "ven-edge"
    resource_name: str = "water-heater"
    targets: tuple[str, ...] = ()
    #: 3.0.1 only: the ``targetType`` sent with the targets (3.0.1 targets are typed valuesMaps).
    target_type: str = "GROUP"
    #: Only events of programs with these names are used; empty means every visible program.
    program_names: tuple[str, ...] = ()
    #: Token endpoint; None discovers it with GET /auth/server, then falls back to /auth/token.
    token_url: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 30.0
    page_size: int = MAX_PAGE_SIZE
    max_response_bytes: int = 4 * 1024 * 1024
    token_refresh_margin_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.version not in ("3.1.0", "3.0.1"):
            raise ValueError(f"version must be '3.1.0' or '3.0.1', got {self.version!r}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {self.page_size}")
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret must be given together (or neither)")
        if self.max_response_bytes < 1024:
            raise ValueError("max_response_bytes must be at least 1024")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "program_names", tuple(self.program_names))

    @property
    def authenticated(self) -> bool:
        """False for a VTN that publishes without credentials (Def "Non-authenticating VTNs")."""
        return self.client_id is not None


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


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float  # on the injected monotonic clock


class VtnClient:
    """An OpenADR 3 VEN client for one VTN. Use as ``async with VtnClient(settings) as c:``."""

    def __init__(
        self,
        settings: VtnSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        timeline_builder: TimelineBuilder | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self.timeline_builder = timeline_builder or TimelineBuilder()
        #: The one owner of the events: polls and pushes both apply through it.
        self.event_store = EventStore(self.timeline_builder, wall_clock, settings.version)
        self._session: aiohttp.ClientSession | None = None
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._token_url: str | None = settings.token_url
        self.registration: Registration | None = None
        self._programs: dict[str, Mapping[str, Any]] = {}
        self.token_fetches = 0  # observable for tests and the status page

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> VtnClient:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.settings.verify_tls:
            return False
        if self.settings.ca_file:
            return ssl.create_default_context(cafile=self.settings.ca_file)
        return True

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self.settings.request_timeout_s, connect=self.settings.connect_timeout_s
            )
            self._session = aiohttp.ClientSession(
                timeout=timeout,
                connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=4),
                headers={"Accept": "application/json"},
            )
        return self._session

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

    # -- HTTP ------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """The URL of the API ``path`` (``/events``) under the base URL.

        Built from the base URL's path: a query on the base URL (an API key some VTNs want on
        every request) stays the query, instead of ending up in front of the path."""
        base = URL(self.settings.base_url)
        return str(base.with_path(base.path.rstrip("/") + path).with_query(base.query))

    async def _read_limited(self, resp: aiohttp.ClientResponse, path: str, limit: int) -> bytes:
        if resp.content_length is not None and resp.content_length > limit:
            raise ResponseTooLargeError(path, limit)
        try:
            return await boundedjson.read_limited(resp.content, limit)
        except boundedjson.BodyTooLargeError:
            raise ResponseTooLargeError(path, limit) from None

    async def _raw(
        self,
        method: str,
        url: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> tuple[int, bytes]:
        session = self._ensure_session()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            target = URL(url)
            if token and (target.user or target.password):
                # The bearer token is the credential (RFC 6750 §2.1); a user and password in
                # vtn.url are for the token request (and aiohttp refuses both at once).
                target = target.with_user(None)
            async with session.request(
                method,
                target,
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                allow_redirects=False,
            ) as resp:
                limit = self.settings.max_response_bytes if resp.status < 400 else _ERROR_BODY_LIMIT
                try:
                    body = await self._read_limited(resp, path, limit)
                except ResponseTooLargeError:
                    if resp.status < 400:
                        raise
                    body = b""
                return resp.status, body
        except aiohttp.ClientSSLError as exc:
            # Def "HTTPS/TLS": refuse and tell the admin when verification fails.
            raise VtnUnreachableError(f"{method} {path}: TLS verification failed: {exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
            raise VtnUnreachableError(f"{method} {path}: {redact_text(reason)}") from None
        except ValueError as exc:
            # An unusable URL (yarl, aiohttp): the configuration's fault, reported as a VTN
            # error so the link keeps its last good state and retries.
            raise Oadr3Error(f"{method} {path}: {redact_text(str(exc))}") from None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        expect: Iterable[int] = (200, 201),
    ) -> Any:
        """One API call with the bearer token (refreshed once on 401/403); returns parsed JSON."""
        token = await self.ensure_token()
        status, body = await self._raw(
            method, self.url(path), path, params=params, json_body=json_body, token=token
        )
        if status in (401, 403) and self.settings.authenticated:
            # Quirk 7: without expires_in the lifetime is a guess; a refused token is refreshed.
            self._token = None
            token = await self.ensure_token()
            status, body = await self._raw(
                method, self.url(path), path, params=params, json_body=json_body, token=token
            )
        if status not in set(expect):
            raise _http_error(method, path, status, body)
        if not body:
            return None
        return _decode_json(body, path)

    # -- auth ------------------------------------------------------------------------------
    async def ensure_token(self) -> str | None:
        """A valid access token, fetched or refreshed ahead of expiry; None when unauthenticated."""
        if not self.settings.authenticated:
            return None
        async with self._token_lock:
            now = self._clock()
            if self._token is not None and now < self._token.expires_at:
                return self._token.value
            self._token = await self._fetch_token(now)
            return self._token.value

    async def discover_token_url(self) -> str:
        """Def "Token endpoint discovery": GET /auth/server; fall back to {base}/auth/token."""
        if self._token_url is not None:
            return self._token_url
        fallback = self.url("/auth/token")
        found = fallback
        try:
            status, body = await self._raw("GET", self.url("/auth/server"), "/auth/server")
            if status == 200:
                data = _decode_json(body, "/auth/server")
                url = data.get("tokenURL") if isinstance(data, Mapping) else None
                if isinstance(url, str) and url:
                    base = URL(self.settings.base_url).with_query(None).with_fragment(None)
                    found = urljoin(f"{str(base).rstrip('/')}/", url)
                else:
                    LOG.warning("GET /auth/server gave no tokenURL; using %s", redact_url(fallback))
            else:
                LOG.info("GET /auth/server -> HTTP %s; using %s", status, redact_url(fallback))
        except PayloadError as exc:
            LOG.warning("GET /auth/server: %s; using %s", exc, redact_url(fallback))
        self._token_url = found
        return found

    async def _fetch_token(self, now: float) -> _Token:
        url = await self.discover_token_url()
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id or "",
            "client_secret": self.settings.client_secret or "",
        }
        status, body = await self._raw("POST", url, "/auth/token", form=form)
        self.token_fetches += 1
        if status != 200:
            error = _http_error("POST", "/auth/token", status, body)
            raise VtnAuthError("POST", "/auth/token", status, error.title, error.detail)
        data = _decode_json(body, "/auth/token")
        token = data.get("access_token") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise PayloadError("access_token", "token response has no access_token")
        lifetime = data.get("expires_in")
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        # Refresh ahead of expiry, but never sooner than half the lifetime (short-lived tokens).
        margin = min(self.settings.token_refresh_margin_s, float(lifetime) / 2)
        LOG.info("got an access token valid for %ss", lifetime)
        return _Token(token, now + float(lifetime) - margin)

    # -- paging ----------------------------------------------------------------------------
    def _target_params(self) -> Params:
        if not self.settings.targets:
            return []
        if self.settings.version == "3.0.1":
            return [("targetType", self.settings.target_type)] + [
                ("targetValues", t) for t in self.settings.targets
            ]
        return [("targets", t) for t in self.settings.targets]

    async def get_all(self, path: str, params: Params | None = None) -> list[Mapping[str, Any]]:
        """Every object of a search, paging with skip/limit until a short page (§4)."""
        out: list[Mapping[str, Any]] = []
        limit = self.settings.page_size
        for page in range(MAX_PAGES):
            query = [*(params or []), ("skip", str(page * limit)), ("limit", str(limit))]
            data = await self.request("GET", path, params=query, expect=(200,))
            if not isinstance(data, list):
                raise PayloadError("", f"GET {path} returned {type(data).__name__}, not an array")
            for i, item in enumerate(data):
                if isinstance(item, Mapping):
                    out.append(item)
                else:
                    LOG.error("GET %s: item %d is %s, not an object; skipped", path, i, type(item))
            if len(data) < limit:
                return out
        LOG.warning("GET %s: stopped after %d full pages", path, MAX_PAGES)
        return out

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
        status, _ = await self._raw("GET", self.url(path), path, params=query, token=token)
        return status

    async def detect_version(self) -> Version | None:
        """The OpenADR 3 version the VTN speaks, when its endpoints tell; None when unknown.

        3.1.0 requires ``GET /auth/server`` (unauthenticated) and has top-level ``/resources``;
        3.0.1 has neither (resources are nested under ``/vens/{venID}``, docs/openadr3.md
        §9). A VTN with both missing is taken for 3.0.1; the base path's conventional
        ``/openadr3/<version>`` decides when the probes cannot."""
        status, body = await self._raw("GET", self.url("/auth/server"), "/auth/server")
        if status == 200:
            try:
                data = _decode_json(body, "/auth/server")
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


def _decode_json(body: bytes, path: str) -> Any:
    try:
        # Bodies were read within max_response_bytes; the size here only guards the decoder.
        return boundedjson.loads(body, max_bytes=len(body))
    except boundedjson.JsonLimitError as exc:
        raise PayloadError("", f"response to {path} {exc}") from None


def _http_error(method: str, path: str, status: int, body: bytes) -> VtnHttpError:
    """Build the error from a problem object (RFC 7807) or an RFC 6749 authError, if any."""
    title = detail = ""
    try:
        data = boundedjson.loads(body, max_bytes=len(body)) if body else None
    except boundedjson.JsonLimitError:
        data = None
    if isinstance(data, Mapping):
        # The VTN's words end up in the log: a VTN echoing a token or URL must not leak it.
        title = redact_text(str(data.get("title") or data.get("error") or "")[:200]) or ""
        detail = (
            redact_text(str(data.get("detail") or data.get("error_description") or "")[:200]) or ""
        )
    cls = VtnAuthError if status in (401, 403) else VtnHttpError
    return cls(method, path, status, title, detail)
