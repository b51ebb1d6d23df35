"""JSON from the network, read and decoded within a size and a nesting-depth limit.

``json.loads`` recurses once per nesting level and raises ``RecursionError`` on a body nested
some thousands deep (50 000 ``[`` are 50 KB); so the depth is measured first, by a linear scan
without recursion, and a body deeper than :data:`MAX_DEPTH` is refused before it is decoded.
OpenADR 3 objects nest less than ten deep (event, intervals, payloads, values).

:func:`read_limited` reads an aiohttp body up to its limit whatever its framing: ``read(n)``
returns only what is buffered, so a large or chunked body needs reading until EOF.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from aiohttp import StreamReader

#: Deepest nesting accepted; far above any OpenADR object, far below the interpreter's stack.
MAX_DEPTH = 64
#: Bytes taken from the stream per read.
_READ_CHUNK = 64 * 1024
# A JSON string, escapes included (the unrolled loop, linear in the input): removed before
# counting, so that brackets inside strings do not count.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Opening brackets step +1, closing ones -1 (0xff read as a signed byte).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class JsonLimitError(ValueError):
    """A body that was not decoded: too large, nested too deep, or not JSON. The message reads
    as a predicate ("is not JSON (...)"), to follow the name of what was read."""


class BodyTooLargeError(JsonLimitError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"exceeds the {limit}-byte limit")


class TooDeepError(JsonLimitError):
    pass


def nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of ``body``, as ``json`` would parse it if it is valid JSON
    (for invalid JSON the count may be off after the first error, where decoding stops anyway).

    Linear and without recursion; the per-byte work runs in C (``re``, ``bytes.translate``,
    ``itertools.accumulate``), so a 2 MB body is scanned in milliseconds.
    """
    if b"[" not in body and b"{" not in body:
        return 0
    steps = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS).translate(_STEPS)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def loads(body: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Decode ``body`` as JSON; raises :class:`JsonLimitError` (a ``ValueError``) when it is
    larger than ``max_bytes``, nested deeper than ``max_depth`` or not JSON."""
    data = body.encode() if isinstance(body, str) else body
    if len(data) > max_bytes:
        raise BodyTooLargeError(max_bytes)
    if nesting_depth(data) > max_depth:
        raise TooDeepError(f"is nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except RecursionError:  # not expected after the depth check; never let it escape
        raise TooDeepError(f"is nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonLimitError(f"is not JSON ({exc})") from None


async def read_limited(stream: StreamReader, limit: int) -> bytes:
    """The whole body of ``stream`` (chunked or not); :class:`BodyTooLargeError` as soon as
    more than ``limit`` bytes arrive, without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:  # EOF
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
