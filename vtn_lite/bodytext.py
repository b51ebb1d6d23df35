"""Per-VEN views of stored JSON text, spliced instead of parsed and re-serialised.

Every object's body is stored once as compact JSON text (``vtn_lite.storage``), written with
``targets`` as its last key (:func:`targets_last`). A VEN's view of a targeted program or event
differs from the stored text only in that list (3.1 object privacy shows only the targets the
VEN matched on), so the view is the text up to ``,"targets":`` plus the filtered list. Text
written before this rule (``targets`` elsewhere) or that is not what it should be is answered by
``None``, and the caller takes the parse-and-render path.

The splice gives the same bytes as parsing and re-serialising with the same separators, since
that is how the text was written.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from vtn_lite import jsonstrict

_MARKER = ',"targets":'


def targets_last(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its ``targets`` key moved to the end (stored that way for splicing)."""
    if "targets" not in body:
        return body
    out = {key: value for key, value in body.items() if key != "targets"}
    out["targets"] = body["targets"]
    return out


def with_targets(text: str, shown: Collection[str]) -> str | None:
    """The stored ``text`` showing only the targets in ``shown``; None if it cannot be spliced.

    The last ``,"targets":`` of the text is the top-level key when it is the last key: a
    nested one comes before it, and inside the array of strings a quote is escaped. The tail is
    parsed (a short list) to make sure of it.
    """
    at = text.rfind(_MARKER)
    if at < 0 or not text.endswith("}"):
        return None
    try:
        targets = json.loads(text[at + len(_MARKER) : -1])
    except ValueError:
        return None  # targets is not the last key
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        return None
    kept = [target for target in targets if target in shown]
    return f"{text[:at]}{_MARKER}{jsonstrict.dumps(kept)}}}"


def is_strict(text: str) -> bool:
    """False for text holding NaN or Infinity (written by a vtn_lite before they were refused).

    The substring test is a cheap filter: only text containing one of the words is parsed.
    """
    if "NaN" not in text and "Infinity" not in text:
        return True
    try:
        jsonstrict.loads(text)
    except ValueError:
        return False
    return True


def json_array(texts: list[str]) -> bytes:
    """A JSON array of already serialised elements."""
    return f"[{','.join(texts)}]".encode()
