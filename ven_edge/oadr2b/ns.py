"""XML namespaces of OpenADR 2.0b (oadr_20b.xsd and the schemas it imports)."""

from __future__ import annotations

from typing import Final

OADR: Final = "http://openadr.org/oadr-2.0b/2012/07"
EI: Final = "http://docs.oasis-open.org/ns/energyinterop/201110"
PYLD: Final = "http://docs.oasis-open.org/ns/energyinterop/201110/payloads"
EMIX: Final = "http://docs.oasis-open.org/ns/emix/2011/06"
XCAL: Final = "urn:ietf:params:xml:ns:icalendar-2.0"
STRM: Final = "urn:ietf:params:xml:ns:icalendar-2.0:stream"
POWER: Final = "http://docs.oasis-open.org/ns/emix/2011/06/power"
SCALE: Final = "http://docs.oasis-open.org/ns/emix/2011/06/siscale"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
DSP: Final = "http://openadr.org/oadr-2.0b/2012/07/xmldsig-properties"

#: Prefixes written on the root of every message the gateway builds, so that each namespace is
#: declared once (smaller messages, and canonicalisation for signatures sees one declaration).
NSMAP: Final[dict[str | None, str]] = {
    "oadr": OADR,
    "ei": EI,
    "pyld": PYLD,
    "emix": EMIX,
    "xcal": XCAL,
    "strm": STRM,
    "power": POWER,
    "scale": SCALE,
}


def q(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local``, the form lxml uses for qualified names."""
    return f"{{{namespace}}}{local}"
