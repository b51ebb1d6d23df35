"""Small helpers to build and read 2.0b elements with lxml."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ven_edge.oadr2b.ns import NSMAP


def root(tag: str) -> etree._Element:
    """A new root element declaring every 2.0b prefix once."""
    return etree.Element(tag, nsmap=NSMAP)


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    """Append ``<tag>text</tag>`` to ``parent`` and return it."""
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def to_bytes(element: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration (2.0b rule 53: ``application/xml`` bodies)."""
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


def child(parent: etree._Element, *path: str) -> etree._Element | None:
    """The first element along ``path`` (each step a qualified tag), or ``None``."""
    node: etree._Element | None = parent
    for tag in path:
        if node is None:
            return None
        node = node.find(tag)
    return node


def text(parent: etree._Element, *path: str) -> str | None:
    """Stripped text of the element along ``path``; ``None`` when absent or empty."""
    node = child(parent, *path)
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def children(parent: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Direct children named ``tag``."""
    yield from parent.iterfind(tag)


def local_name(element: etree._Element) -> str:
    """The tag without its namespace."""
    name: str = etree.QName(element).localname
    return name
