"""Both spellings of an object operation meet in one table (3.1.0 names, 3.0.1 HTTP verbs)."""

from __future__ import annotations

import pytest

from ven_edge.oadr3.operations import (
    OPERATIONS,
    VERB_OF_OPERATION,
    operation_name,
)


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("POST", "CREATE"),
        ("post", "CREATE"),
        ("PUT", "UPDATE"),
        ("GET", "READ"),
        ("DELETE", "DELETE"),
        ("create", "CREATE"),
        ("Update", "UPDATE"),
        ("PATCH", "PATCH"),  # neither spelling: upper-cased, for the caller to refuse
    ],
)
def test_operation_name_reads_either_spelling(given: str, name: str) -> None:
    assert operation_name(given) == name


def test_every_operation_has_a_verb_that_maps_back() -> None:
    assert sorted(VERB_OF_OPERATION) == sorted(OPERATIONS)
    for operation, verb in VERB_OF_OPERATION.items():
        assert operation_name(verb) == operation
