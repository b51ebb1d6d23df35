"""Price import through a running VTN's 3.1.0 API, as a business-logic client.

Unlike the offline import (:func:`vtn_lite.prices.import_prices`, straight into the SQLite
file), every write goes through ``POST``/``PUT`` on the server, so its webhook subscribers are
notified as for any other business-logic change. Works against any OpenADR 3.1.0 VTN.
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from vtn_lite.api31 import BASE_31
from vtn_lite.prices import ImportPlan, ImportResult, PriceImportError
from vtn_lite.service import MAX_LIMIT

# Error bodies quoted in messages are cut to this many characters.
_QUOTE_CHARS = 300
REQUEST_TIMEOUT_S = 30.0


def api_base(url: str) -> str:
    """The 3.1.0 base URL; a bare server URL (no path) gets ``/openadr3/3.1.0`` appended."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PriceImportError(f"--url must be an http(s) URL, not {url!r}")
    if parts.path in ("", "/"):
        return url.rstrip("/") + BASE_31
    return url.rstrip("/")


async def import_prices_remote(
    plan: ImportPlan,
    url: str,
    client_id: str,
    secret: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> ImportResult:
    base = api_base(url)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # TLS verification stays on (the system store, or the given context's CA file).
    connector = aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        api = _Api(session, base)
        await api.login(client_id, secret)
        program_id, created = await _ensure_program(api, plan)
        event_ids = []
        for path, body in plan.events:
            event = await api.send("POST", "/events", plan.event_for(body, program_id), str(path))
            event_ids.append(str(event["id"]))
    return ImportResult(program_id, created, tuple(event_ids))


async def _ensure_program(api: _Api, plan: ImportPlan) -> tuple[str, bool]:
    name = plan.program_name
    where = f"program {name!r}"
    existing = await api.find_program(name)
    if existing is not None and plan.program_body is None:
        return existing, False
    if existing is not None:
        await api.send("PUT", f"/programs/{existing}", plan.program_body, where)
        return existing, False
    body = plan.program_body if plan.program_body is not None else plan.default_program_body
    created = await api.send("POST", "/programs", body, where)
    return str(created["id"]), True


class _Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._base = base
        self._headers: dict[str, str] = {}

    async def login(self, client_id: str, secret: str) -> None:
        form = {"grant_type": "client_credentials"}
        auth = aiohttp.BasicAuth(client_id, secret)
        data = await self._request("POST", "/auth/token", "login", data=form, auth=auth)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise PriceImportError(f"{self._base}/auth/token returned no access_token")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def find_program(self, name: str) -> str | None:
        # 3.1.0 has no programName filter: page through (limit at most 50, YAML).
        skip = 0
        while True:
            page = await self._request(
                "GET", "/programs", "program lookup", params={"skip": skip, "limit": MAX_LIMIT}
            )
            if not isinstance(page, list):
                raise PriceImportError(f"{self._base}/programs did not return a list")
            for program in page:
                if isinstance(program, dict) and program.get("programName") == name:
                    return str(program["id"])
            if len(page) < MAX_LIMIT:
                return None
            skip += len(page)

    async def send(self, method: str, path: str, body: Any, where: str) -> Any:
        data = await self._request(method, path, where, json=body)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise PriceImportError(f"{where}: {method} {path} returned no object with an id")
        return data

    async def _request(self, method: str, path: str, where: str, **kwargs: Any) -> Any:
        url = self._base + path
        try:
            async with self._session.request(
                method, url, headers=self._headers, allow_redirects=False, **kwargs
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise PriceImportError(f"{where}: cannot reach {url}: {reason}") from None
        if status >= 300:
            raise PriceImportError(f"{where}: {method} {url} answered {status}: {_reason(text)}")
        try:
            return json.loads(text)
        except ValueError:
            raise PriceImportError(f"{where}: {method} {url} did not answer JSON") from None


def _reason(text: str) -> str:
    """The problem's detail (RFC 7807) or the OAuth error (RFC 6749 §5.2), else the body."""
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_QUOTE_CHARS] or "(empty body)"
    if isinstance(data, dict):
        for key in ("detail", "error_description", "error", "title"):
            if isinstance(data.get(key), str):
                return str(data[key])[:_QUOTE_CHARS]
    return text[:_QUOTE_CHARS]
