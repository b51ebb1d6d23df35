"""SSRF protection for webhook callbacks (Definition "Webhooks", security guidelines).

Callbacks must be HTTPS and must not reach loopback, private, link-local or other non-global
addresses, including names that resolve to them, unless the lab switch
``allow_local_callbacks`` is on. The check runs twice: on the URL before any request (for IP
literals, which aiohttp does not resolve) and in the connector's resolver (so a name cannot
re-resolve to a private address between the check and the connection).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver


class CallbackRefused(ValueError):
    """A callback URL the VTN will not call, with the reason."""


def address_allowed(address: str, *, allow_local: bool) -> bool:
    if allow_local:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_callback_url(url: str, *, allow_local: bool) -> str:
    """The host of an acceptable callback URL; raises :class:`CallbackRefused` otherwise."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"callbackUrl {url!r} is not a URL: {exc}") from None
    allowed_schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in allowed_schemes:
        raise CallbackRefused(f"callbackUrl must use https (got {parts.scheme or 'no'} scheme)")
    if not host:
        raise CallbackRefused(f"callbackUrl {url!r} has no host")
    if parts.username or parts.password:
        raise CallbackRefused("callbackUrl must not carry credentials")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    if not address_allowed(host, allow_local=allow_local):
        raise CallbackRefused(f"callbackUrl address {host} is not a public address")
    return host


class GuardedResolver(AbstractResolver):
    """A resolver that drops non-public addresses and fails when none is left."""

    def __init__(self, *, allow_local: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_local = allow_local
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if address_allowed(r["host"], allow_local=self._allow_local)]
        if not allowed:
            refused = ", ".join(sorted({r["host"] for r in results}))
            raise OSError(f"{host} resolves only to non-public addresses ({refused})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
