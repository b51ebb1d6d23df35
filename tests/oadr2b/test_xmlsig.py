"""XML signatures: ours verify with openleadr (signxml) and openleadr's with ours; tampering,
another signer, replays, stale timestamps and wrapped copies are refused with the reason."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from openleadr.messaging import create_message, validate_xml_signature

from tests.oadr2b.peer import fingerprint_of, make_pki
from tests.oadr2b.samples import distribute, simple_event
from tests.oadr2b.schema import assert_valid
from ven_edge.oadr2b.distribute import build_distribute
from ven_edge.oadr2b.ns import DS, EI, OADR, q
from ven_edge.oadr2b.replies import build_poll
from ven_edge.oadr2b.xmlsafe import parse_xml
from ven_edge.oadr2b.xmlsig import MessageSigner, SignatureChecker, SignatureError


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _now() -> datetime:
    return datetime.now(UTC)


def _signed(pki: Path, name: str = "vtn") -> bytes:
    signer = MessageSigner.from_files(pki / f"{name}.crt", pki / f"{name}.key", _now)
    return signer.sign(build_distribute(distribute(simple_event())))


def test_our_signature_is_schema_valid_and_verifies(pki: Path) -> None:
    body = _signed(pki)
    assert_valid(body)
    SignatureChecker(fingerprint_of(pki / "vtn.crt"), _now).verify(parse_xml(body))


def test_openleadr_accepts_our_signature(pki: Path) -> None:
    signer = MessageSigner.from_files(pki / "ven.crt", pki / "ven.key", _now)
    body = signer.sign(build_poll("VEN_WH_1"))
    validate_xml_signature(etree.fromstring(body))  # signxml underneath; raises on failure


def test_we_accept_openleadrs_signature(pki: Path) -> None:
    text = create_message(
        "oadrPoll",
        ven_id="VEN_WH_1",
        cert=(pki / "vtn.crt").read_bytes(),
        key=(pki / "vtn.key").read_bytes(),
    )
    SignatureChecker(fingerprint_of(pki / "vtn.crt"), _now).verify(parse_xml(text.encode()))


def _refused(body: bytes, pki: Path, match: str, clock: object = _now) -> None:
    checker = SignatureChecker(fingerprint_of(pki / "vtn.crt"), clock)  # type: ignore[arg-type]
    with pytest.raises(SignatureError, match=match):
        checker.verify(parse_xml(body))


def test_changed_content_is_refused(pki: Path) -> None:
    body = _signed(pki).replace(b"<ei:value>1.0</ei:value>", b"<ei:value>3.0</ei:value>")
    _refused(body, pki, "digest of #oadrSignedObject does not match")


def test_another_signer_is_refused(pki: Path) -> None:
    _refused(_signed(pki, "rogue"), pki, "not the VTN's")


def test_unsigned_message_is_refused(pki: Path) -> None:
    body = etree.tostring(build_distribute(distribute(simple_event())))
    _refused(body, pki, "not signed")


def test_replay_is_refused(pki: Path) -> None:
    body = _signed(pki)
    checker = SignatureChecker(fingerprint_of(pki / "vtn.crt"), _now)
    checker.verify(parse_xml(body))
    with pytest.raises(SignatureError, match="replay"):
        checker.verify(parse_xml(body))


def test_stale_signature_is_refused(pki: Path) -> None:
    body = _signed(pki)
    _refused(body, pki, "outside", clock=lambda: _now() + timedelta(minutes=10))


def test_signature_over_a_wrapped_copy_is_refused(pki: Path) -> None:
    """The signed object moved aside and a forged one put in its place."""
    root = parse_xml(_signed(pki))
    signed = root.find(q(OADR, "oadrSignedObject"))
    assert signed is not None
    forged = copy.deepcopy(signed)
    del forged.attrib[q(OADR, "Id")]
    forged.find(f".//{q(EI, 'value')}").text = "3.0"  # type: ignore[union-attr]
    root.find(f".//{q(DS, 'Object')}").append(signed)  # type: ignore[union-attr]
    root.append(forged)
    with pytest.raises(SignatureError, match="does not cover the message"):
        SignatureChecker(fingerprint_of(pki / "vtn.crt"), _now).verify(root)


def test_duplicate_ids_are_refused(pki: Path) -> None:
    root = parse_xml(_signed(pki))
    signed = root.find(q(OADR, "oadrSignedObject"))
    root.find(f".//{q(DS, 'Object')}").append(copy.deepcopy(signed))  # type: ignore[union-attr]
    with pytest.raises(SignatureError, match="2 elements with id"):
        SignatureChecker(fingerprint_of(pki / "vtn.crt"), _now).verify(root)
