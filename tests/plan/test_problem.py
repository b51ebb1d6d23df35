"""The problem JSON contract: parsing, defaults, errors that name the key, round trips."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.plan.problem import Problem, ProblemError

EXAMPLE: dict[str, Any] = {
    "step_hours": 1.0,
    "price": [0.12, 0.11],
    "load_kwh": [0.4, 0.9],
    "soc_kwh": 6.0,
    "soc_min_kwh": 1.0,
    "soc_max_kwh": 12.0,
    "soc_end_min_kwh": 6.0,
    "sources": [
        {"name": "heat_pump", "cop": 3.2, "max_kwh": 1.5, "min_kwh": 0.0},
        {"name": "element", "cop": 1.0, "max_kwh": 4.5},
    ],
}


def test_issue_example_parses_with_defaults_and_round_trips() -> None:
    p = Problem.from_json(EXAMPLE)
    assert p.n == 2
    assert p.sources[0].cop == (3.2, 3.2)
    assert p.sources[1].min_kwh == (0.0, 0.0)
    assert Problem.from_json(json.loads(json.dumps(p.to_json()))) == p
    no_end = {k: v for k, v in EXAMPLE.items() if k != "soc_end_min_kwh"}
    assert Problem.from_json(no_end).soc_end_min_kwh == 1.0


def _with(path: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key", "words"),
    [
        ("price", [0.1], "load_kwh", "expected 1 values"),
        ("price", [], "price", "1 to"),
        ("price", [0.1, "x"], "price[1]", "expected a number"),
        ("price", [0.1, float("nan")], "price[1]", "finite"),
        ("load_kwh", [0.4, -1], "load_kwh[1]", ">= 0"),
        ("soc_kwh", True, "soc_kwh", "expected a number"),
        ("soc_kwh", 13.0, "soc_kwh", "outside"),
        ("soc_max_kwh", 0.5, "soc_max_kwh", "below soc_min_kwh"),
        ("soc_end_min_kwh", 20.0, "soc_end_min_kwh", "outside"),
        ("step_hours", 0, "step_hours", "> 0"),
        ("step_hours", KeyError, "step_hours", "missing"),
        ("sources", [], "sources", "non-empty"),
        ("sources.1.name", "heat_pump", "sources[1].name", "duplicate"),
        ("sources.1.cop", [1.0, 0.0], "sources[1].cop[1]", "> 0"),
        ("sources.0.min_kwh", 2.0, "sources[0].max_kwh[0]", "below min_kwh"),
        ("sources.0.max_kwh", [1.0], "sources[0].max_kwh", "expected 2 values"),
        ("sources.0.colour", "red", "sources[0].colour", "unknown key"),
        ("sources.1.max_kwh", KeyError, "sources[1].max_kwh", "missing"),
        ("tariff", 1, "tariff", "unknown key"),
    ],
)
def test_errors_name_the_key(path: str, value: object, key: str, words: str) -> None:
    with pytest.raises(ProblemError, match=words) as info:
        Problem.from_json(_with(path, value))
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_not_an_object() -> None:
    with pytest.raises(ProblemError, match="expected an object"):
        Problem.from_json([1, 2])


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(st.sampled_from(sorted(EXAMPLE)), json_values)
def test_fuzz_any_value_gives_a_problem_or_a_problem_error(key: str, value: object) -> None:
    data = dict(EXAMPLE, **{key: value})
    error: ProblemError | None = None
    try:
        Problem.from_json(data)
    except ProblemError as exc:
        error = exc
    if error is not None:
        assert error.key.split("[")[0].split(".")[0] in EXAMPLE
