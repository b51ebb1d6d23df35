"""XML signatures of 2.0b messages (profile §1.7, digest §1.7 and §3.2), on cryptography and
lxml's canonicalisation: Debian packages both (python3-cryptography, python3-lxml), unlike signxml.

Signing: a detached ``ds:Signature`` before ``oadr:oadrSignedObject`` with two references, the
signed object (``#oadrSignedObject``) and the ``dsp:ReplayProtect`` signature property (a fresh
timestamp and nonce), exclusive canonicalisation throughout, RSA-SHA256 or ECDSA-SHA256 by the
key's type, the certificate in ``ds:KeyInfo`` (what openleadr and signxml expect). The key is
loaded once (loading an RSA key validates it: ≈ 30 ms each time, digest §3.5).

Checking (the VTN's messages): only SHA-256 digests, RSA/ECDSA-SHA256 signatures and the
canonicalisations of XMLDSig 1.0; the signing certificate must have the configured VTN
fingerprint; one reference must be the envelope's own signed object (found by identity, so a
signature over a copy elsewhere in the document does not count); the replay protection must be
signed, recent and not seen before.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from ven_edge.oadr2b.build import sub
from ven_edge.oadr2b.build import to_bytes as _to_bytes
from ven_edge.oadr2b.ns import DS, DSP, OADR, q
from ven_edge.oadr2b.timevalues import TimeFormatError, format_dt, read_dt
from ven_edge.oadr2b.tlsconf import fingerprint, same_fingerprint

C14N: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS: Final = C14N + "#WithComments"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS: Final = EXC_C14N + "WithComments"
ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
_CANONICAL: Final = {C14N, C14N_COMMENTS, EXC_C14N, EXC_C14N_COMMENTS}

#: How old (or how far ahead, clocks differ) a signed message's timestamp may be. openleadr
#: allows 5 s; a gateway on NTP sees more jitter than that behind a slow link.
REPLAY_WINDOW: Final = timedelta(seconds=60)
#: Nonces remembered to refuse a replay inside the window.
MAX_NONCES: Final = 4096
_ID_ATTRIBUTES: Final = ("Id", "ID", "id")


class SignatureError(ValueError):
    """A signature that is missing, malformed or does not verify; the message says which."""


def _c14n(node: etree._Element, algorithm: str) -> bytes:
    if algorithm not in _CANONICAL:
        raise SignatureError(f"canonicalisation {algorithm[:80]} not supported")
    return bytes(
        etree.tostring(
            node,
            method="c14n",
            exclusive=algorithm.startswith(EXC_C14N),
            with_comments=algorithm.endswith("WithComments"),
        )
    )


def _digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class MessageSigner:
    def __init__(self, cert_der: bytes, key: PrivateKey, clock: Callable[[], datetime]) -> None:
        self._cert_b64 = base64.b64encode(cert_der).decode("ascii")
        self._key = key
        self._clock = clock

    @classmethod
    def from_files(
        cls, cert_file: Path, key_file: Path, clock: Callable[[], datetime]
    ) -> MessageSigner:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file}: only RSA and EC keys sign 2.0b messages (rule 68)")
        return cls(cert.public_bytes(serialization.Encoding.DER), key, clock)

    @property
    def algorithm(self) -> str:
        return RSA_SHA256 if isinstance(self._key, rsa.RSAPrivateKey) else ECDSA_SHA256

    def sign(self, payload: etree._Element) -> bytes:
        """Sign ``payload`` (an oadrPayload) in place; its bytes to send."""
        signed = payload.find(q(OADR, "oadrSignedObject"))
        if signed is None:
            raise SignatureError("no oadrSignedObject to sign")
        old = payload.find(q(DS, "Signature"))
        if old is not None:
            payload.remove(old)
        nonce = uuid.uuid4().hex
        signature = etree.Element(q(DS, "Signature"), nsmap={"ds": DS, "dsp": DSP})
        signature.set("Id", f"sig-{nonce}")
        payload.insert(0, signature)
        info = sub(signature, q(DS, "SignedInfo"))
        sub(info, q(DS, "CanonicalizationMethod")).set("Algorithm", EXC_C14N)
        sub(info, q(DS, "SignatureMethod")).set("Algorithm", self.algorithm)
        value = sub(signature, q(DS, "SignatureValue"))
        key_info = sub(signature, q(DS, "KeyInfo"))
        sub(sub(key_info, q(DS, "X509Data")), q(DS, "X509Certificate"), self._cert_b64)
        props = sub(sub(signature, q(DS, "Object")), q(DS, "SignatureProperties"))
        props.set("Id", f"props-{nonce}")
        prop = sub(props, q(DS, "SignatureProperty"))
        prop.set("Target", f"#sig-{nonce}")
        replay = sub(prop, q(DSP, "ReplayProtect"))
        sub(replay, q(DSP, "timestamp"), format_dt(self._clock()))
        sub(replay, q(DSP, "nonce"), nonce)
        for uri, node in ((f"#{signed.get(q(OADR, 'Id'))}", signed), (f"#props-{nonce}", props)):
            ref = sub(info, q(DS, "Reference"))
            ref.set("URI", uri)
            sub(sub(ref, q(DS, "Transforms")), q(DS, "Transform")).set("Algorithm", EXC_C14N)
            sub(ref, q(DS, "DigestMethod")).set("Algorithm", SHA256)
            sub(ref, q(DS, "DigestValue"), _digest(_c14n(node, EXC_C14N)))
        value.text = base64.b64encode(self._sign(_c14n(info, EXC_C14N))).decode("ascii")
        return _to_bytes(payload)

    def _sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


class SignatureChecker:
    def __init__(self, vtn_fingerprint: str, clock: Callable[[], datetime]) -> None:
        self._fingerprint = vtn_fingerprint
        self._clock = clock
        self._nonces: OrderedDict[str, datetime] = OrderedDict()

    def verify(self, payload: etree._Element) -> None:
        """Accept ``payload`` (an oadrPayload) or raise :class:`SignatureError` with the reason."""
        signature = payload.find(q(DS, "Signature"))
        if signature is None:
            raise SignatureError("the message is not signed")
        info = _need(signature, q(DS, "SignedInfo"))
        c14n_alg = _need(info, q(DS, "CanonicalizationMethod")).get("Algorithm", "")
        sig_alg = _need(info, q(DS, "SignatureMethod")).get("Algorithm", "")
        covered = [self._check_reference(payload, ref) for ref in info.iterfind(q(DS, "Reference"))]
        signed = payload.find(q(OADR, "oadrSignedObject"))
        if signed is None or not any(node is signed for node in covered):
            raise SignatureError("the signature does not cover the message")
        replay = signature.find(f".//{q(DSP, 'ReplayProtect')}")
        if replay is None or not any(node is replay or replay in node.iter() for node in covered):
            raise SignatureError("no signed ReplayProtect")
        cert_text = signature.findtext(
            f"{q(DS, 'KeyInfo')}/{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}"
        )
        if not cert_text:
            raise SignatureError("no signing certificate in KeyInfo")
        try:
            der = base64.b64decode("".join(cert_text.split()), validate=True)
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise SignatureError(f"unreadable signing certificate ({exc})") from None
        seen = fingerprint(der)
        if not same_fingerprint(seen, self._fingerprint):
            raise SignatureError(f"signed by certificate {seen}, not the VTN's")
        value_text = signature.findtext(q(DS, "SignatureValue")) or ""
        try:
            value = base64.b64decode("".join(value_text.split()), validate=True)
        except ValueError:
            raise SignatureError("SignatureValue is not base64") from None
        _check_value(cert, sig_alg, value, _c14n(info, c14n_alg))
        self._check_replay(replay)

    def _check_reference(self, payload: etree._Element, ref: etree._Element) -> etree._Element:
        uri = ref.get("URI", "")
        if not uri.startswith("#") or len(uri) > 200:
            raise SignatureError(f"reference {uri[:60]!r} is not a same-document id")
        target = _by_id(payload, uri[1:])
        method = _need(ref, q(DS, "DigestMethod")).get("Algorithm", "")
        if method != SHA256:
            raise SignatureError(f"digest {method[:80]} not accepted (SHA-256 only)")
        algorithm = C14N
        for transform in ref.iterfind(f"{q(DS, 'Transforms')}/{q(DS, 'Transform')}"):
            name = transform.get("Algorithm", "")
            if name == ENVELOPED:
                continue  # detached here: the signature is not inside what it signs
            if name not in _CANONICAL:
                raise SignatureError(f"transform {name[:80]} not supported")
            algorithm = name
        expected = "".join((ref.findtext(q(DS, "DigestValue")) or "").split())
        if _digest(_c14n(target, algorithm)) != expected:
            raise SignatureError(f"digest of {uri[:60]} does not match: content changed")
        return target

    def _check_replay(self, replay: etree._Element) -> None:
        stamp = replay.findtext(q(DSP, "timestamp")) or ""
        nonce = (replay.findtext(q(DSP, "nonce")) or "")[:200]
        try:
            when = read_dt(stamp)
        except TimeFormatError as exc:
            raise SignatureError(f"ReplayProtect timestamp: {exc}") from None
        now = self._clock()
        if abs(now - when) > REPLAY_WINDOW:
            raise SignatureError(f"signed at {stamp[:40]}, outside {REPLAY_WINDOW} of now")
        if not nonce:
            raise SignatureError("ReplayProtect without a nonce")
        for old, at in list(self._nonces.items()):
            if now - at > 2 * REPLAY_WINDOW:
                del self._nonces[old]
        if nonce in self._nonces:
            raise SignatureError("ReplayProtect nonce seen before: a replay")
        self._nonces[nonce] = now
        while len(self._nonces) > MAX_NONCES:
            self._nonces.popitem(last=False)


def _need(parent: etree._Element, tag: str) -> etree._Element:
    node = parent.find(tag)
    if node is None:
        raise SignatureError(f"no {etree.QName(tag).localname} in the signature")
    return node


def _by_id(root: etree._Element, wanted: str) -> etree._Element:
    """The one element whose Id attribute (any namespace) is ``wanted``; two are refused, so a
    wrapped copy cannot stand in for the real element."""
    found: list[etree._Element] = []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for name, value in node.attrib.items():
            if etree.QName(name).localname in _ID_ATTRIBUTES and value == wanted:
                found.append(node)
                break
    if len(found) != 1:
        raise SignatureError(f"{len(found)} elements with id {wanted[:60]!r}")
    return found[0]


def _check_value(cert: x509.Certificate, algorithm: str, value: bytes, data: bytes) -> None:
    key = cert.public_key()
    try:
        if algorithm == RSA_SHA256 and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == ECDSA_SHA256 and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                raise SignatureError("ECDSA signature of the wrong length")
            r = int.from_bytes(value[:size], "big")
            s = int.from_bytes(value[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        else:
            raise SignatureError(f"signature method {algorithm[:80]} does not fit the key")
    except InvalidSignature:
        raise SignatureError("signature value does not verify") from None
