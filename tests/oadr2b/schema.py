"""Validation against the OpenADR 2.0b XSD bundled with openleadr (its schema/ directory)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import openleadr
from lxml import etree

SCHEMA_DIR = Path(openleadr.__file__).parent / "schema"


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "oadr_20b.xsd")))


def assert_valid(payload: etree._Element | bytes) -> None:
    """Fail with the schema's own error log unless ``payload`` is a valid oadrPayload."""
    tree = etree.fromstring(payload) if isinstance(payload, bytes) else payload
    schema = _schema()
    if not schema.validate(tree):
        raise AssertionError(str(schema.error_log))
