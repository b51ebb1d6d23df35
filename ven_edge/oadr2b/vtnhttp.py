"""The thin simpleHttp transport: POST a message to ``{vtn_url}/{service}``, read the answer.

Only I/O and checks on it: TLS (the context of :func:`ven_edge.oadr2b.tlsconf.client_context`
verifies the CA and pins the VTN's fingerprint in the handshake), the body's size, the hardened
parse, and the XML signature when one is required. What a message means is the engine's
business.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import aiohttp
from lxml import etree

from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.envelope import Envelope, open_payload
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.xmlsafe import MAX_BYTES, XmlRejected, parse_xml
from ven_edge.redact import redact_text

LOG = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/xml"

#: Signs a payload and returns the bytes to send.
Signer = Callable[[etree._Element], bytes]
#: Checks the signature of a received payload; raises :class:`SignatureError` when it fails.
Verifier = Callable[[etree._Element], None]


@dataclass(frozen=True, slots=True)
class ExchangeError(Exception):
    """A request that brought no usable answer; ``vtn_down`` when the VTN is not there (or
    overloaded) rather than refusing what was sent."""

    reason: str
    vtn_down: bool = True
    #: The VTN answered (an HTTP status, a body): it is there, and refused or failed this one.
    answered: bool = False

    def __str__(self) -> str:
        return self.reason


class VtnTransport:
    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        signer: Signer | None = None,
        verifier: Verifier | None = None,
        timeout_s: float = 20.0,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else False
        self._signer = signer
        self._verifier = verifier
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    @property
    def signs(self) -> bool:
        """Whether messages go out signed (announced in oadrCreatePartyRegistration)."""
        return self._signer is not None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def post(self, service: str, payload: etree._Element) -> Envelope | None:
        """Send ``payload`` to ``service``; the answer's envelope (None for an empty 200 answer,
        which VTNs give to an oadrResponse), or :class:`ExchangeError`."""
        body = self._signer(payload) if self._signer is not None else to_bytes(payload)
        url = f"{self.base_url}/{service}"
        try:
            async with self._client().post(
                url, data=body, headers={"Content-Type": CONTENT_TYPE}, ssl=self._ssl
            ) as response:
                raw = await response.content.read(self._max_bytes + 1)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ExchangeError(
                redact_text(f"{service}: {type(exc).__name__}: {exc}") or service
            ) from None
        if status != 200:
            raise ExchangeError(
                f"{service}: HTTP {status}", vtn_down=status >= 500 or status == 429, answered=True
            )
        if not raw.strip():
            return None
        if len(raw) > self._max_bytes:
            raise ExchangeError(
                f"{service}: answer over {self._max_bytes} bytes", vtn_down=False, answered=True
            )
        try:
            envelope = open_payload(parse_xml(raw))
        except (XmlRejected, MessageError) as exc:
            raise ExchangeError(f"{service}: {exc}", vtn_down=False, answered=True) from None
        if self._verifier is not None:
            try:
                self._verifier(envelope.payload)
            except ValueError as exc:
                raise ExchangeError(
                    f"{service}: signature refused: {exc}", vtn_down=False
                ) from None
        return envelope
