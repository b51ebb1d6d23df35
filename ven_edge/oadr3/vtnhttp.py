"""HTTP to one OpenADR 3 VTN (aiohttp): transport, bearer-token auth and paging.

:class:`VtnHttp` owns the session, the access token (OAuth 2.0 client credentials, refreshed
ahead of expiry and once on 401/403) and the size limits on every response; what is asked of the
VTN (registration, polling, subscriptions) is :class:`~ven_edge.oadr3.client.VtnClient`.
Interop quirks tolerated here are numbered as in docs/openadr3.md §10.1.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Self
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
from ven_edge.redact import redact_text, redact_url

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
_ERROR_BODY_LIMIT = 4096
#: Search pages remembered with their ETag for If-None-Match (one per path, query and page).
_MAX_CACHED_PAGES = 32


class _Reply(NamedTuple):
    status: int
    body: bytes
    etag: str | None


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


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float  # on the injected monotonic clock


class VtnHttp:
    """Transport and auth for one VTN. Use as ``async with VtnHttp(settings) as h:``."""

    def __init__(
        self, settings: VtnSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._token_url: str | None = settings.token_url
        self.token_fetches = 0  # observable for tests and the status page
        # (path, query) -> (ETag, body) of the last 200 of a search page.
        self._pages: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, bytes]] = (
            OrderedDict()
        )
        self.not_modified = 0  # polls answered 304: nothing changed (observable for tests)

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
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
        if_none_match: str | None = None,
    ) -> _Reply:
        session = self._ensure_session()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
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
                return _Reply(resp.status, body, resp.headers.get("ETag"))
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
        status, body, _ = await self._call(method, path, params=params, json_body=json_body)
        if status not in set(expect):
            raise _http_error(method, path, status, body)
        if not body:
            return None
        return decode_json(body, path)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        if_none_match: str | None = None,
    ) -> _Reply:
        url = self.url(path)
        for attempt in range(2):
            token = await self.ensure_token()
            reply = await self._raw(
                method,
                url,
                path,
                params=params,
                json_body=json_body,
                token=token,
                if_none_match=if_none_match,
            )
            if attempt or reply.status not in (401, 403) or not self.settings.authenticated:
                break
            # Quirk 7: without expires_in the lifetime is a guess; a refused token is refreshed.
            self._token = None
        return reply

    async def _get_page(self, path: str, query: Params) -> Any:
        """One search page, conditional on the ETag of the last time it was read.

        A VTN that sends ETags answers 304 when the caller's view is unchanged (RFC 9110
        §13.1.2): the page read then is still current and nothing is transferred. The body is
        kept as bytes and decoded afresh, so callers never share (or alter) a cached object.
        """
        key = (path, tuple(query))
        cached = self._pages.get(key)
        status, body, etag = await self._call(
            "GET", path, params=query, if_none_match=cached[0] if cached else None
        )
        if status == 304 and cached is not None:
            self._pages.move_to_end(key)
            self.not_modified += 1
            body = cached[1]
        elif status != 200:
            raise _http_error("GET", path, status, body)
        elif etag:
            self._pages[key] = (etag, body)
            self._pages.move_to_end(key)
            while len(self._pages) > _MAX_CACHED_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.pop(key, None)
        return decode_json(body, path) if body else None

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
            status, body, _ = await self._raw("GET", self.url("/auth/server"), "/auth/server")
            if status == 200:
                data = decode_json(body, "/auth/server")
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
        status, body, _ = await self._raw("POST", url, "/auth/token", form=form)
        self.token_fetches += 1
        if status != 200:
            error = _http_error("POST", "/auth/token", status, body)
            raise VtnAuthError("POST", "/auth/token", status, error.title, error.detail)
        data = decode_json(body, "/auth/token")
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
    async def get_all(self, path: str, params: Params | None = None) -> list[Mapping[str, Any]]:
        """Every object of a search, paging with skip/limit until a short page (§4)."""
        out: list[Mapping[str, Any]] = []
        limit = self.settings.page_size
        for page in range(MAX_PAGES):
            query = [*(params or []), ("skip", str(page * limit)), ("limit", str(limit))]
            data = await self._get_page(path, query)
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


def decode_json(body: bytes, path: str) -> Any:
    """The JSON of a response body already read within its limit; PayloadError when not JSON."""
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
