"""Golden vectors: every byte-exact frame of docs/cta2045.md §10 decodes to its documented meaning,
re-encodes to the same bytes. The vectors and their meanings live in ``vectors.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ven_edge.cta2045.codec import decode, encode
from ven_edge.cta2045.frames import Frame, checksum, parse_frame

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).with_name("vectors.json")).read_text(encoding="utf-8")
)["vectors"]


def _subset(actual: object, expected: object) -> bool:
    """``expected`` is contained in ``actual`` (records compared key by key)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_subset(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual == expected


def test_all_digest_vectors_are_present() -> None:
    assert len(VECTORS) == 77  # docs/cta2045.md §10: "77 vectors"
    assert len({v["hex"] for v in VECTORS}) == 77


@pytest.mark.parametrize("vector", VECTORS, ids=[v["description"] for v in VECTORS])
def test_vector_decodes_to_its_meaning(vector: dict[str, Any]) -> None:
    message = decode(bytes.fromhex(vector["hex"]))
    assert message.name == vector["name"]
    assert message.msg_type == vector["msg_type"]
    assert _subset(dict(message.fields), vector["fields"]), dict(message.fields)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["description"] for v in VECTORS])
def test_vector_reencodes_byte_exact(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"])
    assert encode(decode(raw)) == raw
    # Also from the documented meaning alone (name and fields), not from the decoded object.
    fields = dict(vector["fields"])
    if vector["name"] == "message_type_supported_query":
        fields["msg_type"] = vector["msg_type"]
    assert encode(vector["name"], **fields) == raw


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if len(v["hex"].split()) > 2],
    ids=[v["description"] for v in VECTORS if len(v["hex"].split()) > 2],
)
def test_vector_frame_layer(vector: dict[str, Any]) -> None:
    """Length field and check bytes of each data frame agree with frames.py (§2, §3)."""
    raw = bytes.fromhex(vector["hex"])
    frame, rest = parse_frame(raw)
    assert rest == b""
    assert isinstance(frame, Frame)
    assert int.from_bytes(raw[2:4], "big") == len(raw) - 6
    assert checksum(raw[:-2]) == raw[-2:]
    assert frame.serialize() == raw
