"""SSRF protection for webhook callbacks (Definition "Webhooks", security guidelines).

Callbacks must be HTTPS and must not reach loopback, private, link-local or other non-global
addresses, including names that resolve to them, unless the lab switch
``allow_local_callbacks`` is on.

The host is checked in the form the connection will use: yarl (under aiohttp) folds a URL's
host with IDNA/UTS-46, so full-width digits (``１２７``), circled digits (``①②⑦``) and the
ideographic full stops (``。．｡``) become an ASCII address that aiohttp connects to directly,
without a resolver. So the check normalises first and refuses:

* a host written with such look-alike characters that folds to an IP address (it can only be
  meant to slip past a check; write the address in ASCII);
* an all-digits host that is not a canonical IP address (``127.1``, ``2130706433``,
  ``127.0.0.1.``): the C library would read it as an address;
* an IP address that is not public (unless the lab switch is on).

Any other host is a DNS name, and aiohttp connects only to what the connector's resolver
returns: :class:`GuardedResolver` resolves once, refuses the name if *any* address is not
public (a mixed answer is a rebinding attempt), and aiohttp connects to those checked addresses
with the original name as Host and TLS server name.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.helpers import is_ip_address
from aiohttp.resolver import ThreadedResolver
from yarl import URL

log = logging.getLogger(__name__)


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
    """The host an acceptable callback URL connects to (normalised, ASCII).

    Raises :class:`CallbackRefused` otherwise; refusals of deceptive hosts are also logged.
    """
    try:
        parts = urlsplit(url)
        raw_host = parts.hostname
        _ = parts.port
        # The host as aiohttp will connect to it (IDNA/UTS-46 folded by yarl).
        host = URL(url).host
    except ValueError as exc:
        raise CallbackRefused(f"callbackUrl {url!r} is not a URL: {exc}") from None
    allowed_schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in allowed_schemes:
        raise CallbackRefused(f"callbackUrl must use https (got {parts.scheme or 'no'} scheme)")
    if not host or not raw_host:
        raise CallbackRefused(f"callbackUrl {url!r} has no host")
    if parts.username or parts.password:
        raise CallbackRefused("callbackUrl must not carry credentials")
    if not is_ip_address(host):
        return host  # a DNS name: GuardedResolver checks every address it resolves to
    if not raw_host.isascii():
        log.warning("refused callback host %r: look-alike characters for %s", raw_host, host)
        raise CallbackRefused(
            f"callbackUrl host {raw_host!r} spells the address {host} with look-alike"
            " characters; write the address in ASCII digits and dots"
        )
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        log.warning("refused callback host %r: not a canonical IP address", raw_host)
        raise CallbackRefused(
            f"callbackUrl host {raw_host!r} is neither a DNS name nor a canonical IP address"
        ) from None
    if not address_allowed(host, allow_local=allow_local):
        raise CallbackRefused(f"callbackUrl address {host} is not a public address")
    return host


class GuardedResolver(AbstractResolver):
    """A resolver that refuses a name unless every address it resolves to is public."""

    def __init__(self, *, allow_local: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_local = allow_local
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = sorted(
            {
                r["host"]
                for r in results
                if not address_allowed(r["host"], allow_local=self._allow_local)
            }
        )
        if refused or not results:
            raise OSError(f"{host} resolves to non-public addresses ({', '.join(refused)})")
        return results

    async def close(self) -> None:
        await self._inner.close()


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
