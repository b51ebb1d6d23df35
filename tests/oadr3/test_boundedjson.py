"""The bounded JSON decoder: depth measured without recursion, as json itself nests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.boundedjson import (
    BodyTooLargeError,
    JsonLimitError,
    TooDeepError,
    loads,
    nesting_depth,
)

# Strings full of brackets, quotes and backslashes: they must not count as nesting.
tricky_text = st.text(alphabet='[]{}"\\\n ab\u00e9', max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=20,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=150)
@given(json_values, st.booleans())
def test_depth_is_the_nesting_json_sees(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert nesting_depth(body) == depth_of(value)
    assert loads(body, max_bytes=len(body), max_depth=depth_of(value)) == value
    if depth_of(value):
        with pytest.raises(TooDeepError):
            loads(body, max_bytes=len(body), max_depth=depth_of(value) - 1)


@pytest.mark.parametrize("depth", [50_000, 200_000])
def test_deep_bodies_are_refused_without_recursion(depth: int) -> None:
    for body in (b"[" * depth + b"]" * depth, b"[" * depth, b'{"a":' * depth):
        with pytest.raises(TooDeepError):
            loads(body, max_bytes=10**8)


def test_size_and_syntax() -> None:
    with pytest.raises(BodyTooLargeError):
        loads(b"[1, 2]", max_bytes=5)
    with pytest.raises(JsonLimitError, match="is not JSON"):
        loads(b'{"a": ', max_bytes=100)
    with pytest.raises(JsonLimitError, match="is not JSON"):
        loads(b"\xff\xfe", max_bytes=100)
    assert loads('"[[[["', max_bytes=100, max_depth=0) == "[[[["
