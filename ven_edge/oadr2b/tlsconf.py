"""Mutual TLS for 2.0b (rules 67, 68) and the VTN certificate fingerprint (digest §3.3)."""

from __future__ import annotations

import hashlib
import hmac
import re
import ssl
from pathlib import Path
from typing import Final

#: Ten colon-separated hex bytes, either case (the form :func:`fingerprint` writes).
_FINGERPRINT: Final = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){9}")


def fingerprint(der: bytes) -> str:
    """The 2.0b fingerprint: the last 10 bytes of SHA-256 over the DER certificate, as
    colon-separated upper-case hex (openleadr's ``certificate_fingerprint``)."""
    digest = hashlib.sha256(der).digest()[-10:]
    return ":".join(f"{b:02X}" for b in digest)


def is_fingerprint(text: str) -> bool:
    """Whether ``text`` (surrounding blanks aside) has the form of a 2.0b fingerprint."""
    return _FINGERPRINT.fullmatch(text.strip()) is not None


def same_fingerprint(a: str, b: str) -> bool:
    return hmac.compare_digest(a.strip().upper(), b.strip().upper())


class FingerprintMismatch(ssl.SSLCertVerificationError):
    """The VTN's certificate chains to the CA but is not the pinned one."""


def client_context(
    ca_file: Path, cert_file: Path, key_file: Path, vtn_fingerprint: str
) -> ssl.SSLContext:
    """TLS 1.2 or later, the server verified against ``ca_file`` (hostname included) and pinned
    by its 2.0b fingerprint, this VEN presenting its certificate.

    The pin is checked inside the handshake (an :class:`ssl.SSLObject` subclass), so no request
    byte reaches a server that the CA signed but that is not the VTN."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    context.sslobject_class = _pinned(vtn_fingerprint)
    return context


def _pinned(expected: str) -> type[ssl.SSLObject]:
    class PinnedObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()  # raises SSLWantReadError until the handshake is done
            der = self.getpeercert(binary_form=True)
            seen = "none" if der is None else fingerprint(der)
            if der is None or not same_fingerprint(seen, expected):
                raise FingerprintMismatch(
                    f"VTN certificate fingerprint {seen} is not the configured one"
                )

    return PinnedObject
