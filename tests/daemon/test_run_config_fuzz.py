"""`ven-edge run` with broken configurations (hypothesis): exit status 2 and a message naming
each bad key, before anything starts; never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ven_edge.cli import main

# Printable ASCII keeps the generated TOML itself valid: the key's value is what is wrong.
words = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
    max_size=8,
)
not_a_number = st.one_of(words, st.booleans(), st.lists(st.integers(), max_size=2))
BAD: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("web", "port"): st.one_of(
        st.integers(max_value=0), st.integers(min_value=65536), not_a_number
    ),
    ("heater", "heartbeat_s"): st.one_of(st.floats(min_value=901, max_value=1e9), not_a_number),
    ("vtn", "poll_interval_s"): st.one_of(st.floats(max_value=4.9), not_a_number),
    ("plan", "strategy"): words.filter(lambda s: s not in ("state", "fraction", "percentile")),
    ("plan", "horizon_hours"): st.one_of(st.integers(max_value=0), st.integers(min_value=73)),
    ("log", "level"): words.filter(lambda s: s not in ("debug", "info", "warning", "error")),
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else '"nan"'
    return json.dumps(value)  # ints, strings, lists of ints are valid TOML this way


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.sampled_from(sorted(BAD)), min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_bad_values_are_named_with_their_key(
    picks: list[tuple[str, str]], data: st.DataObject, tmp_path: Path
) -> None:
    sections: dict[str, list[str]] = {}
    for section, key in picks:
        value = data.draw(BAD[(section, key)], label=f"{section}.{key}")
        sections.setdefault(section, []).append(f"{key} = {toml_value(value)}")
    text = "\n".join(f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items())
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n", encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["run", "--config", str(path)])
    assert status == 2, text
    message = err.getvalue()
    assert "Traceback" not in message
    for section, key in picks:
        assert f"{section}.{key}" in message, (text, message)
