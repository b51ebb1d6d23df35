"""Object operations of OpenADR 3 subscriptions and notifications, in both spellings.

3.1.0 names them CREATE/READ/UPDATE/DELETE; the 3.0.1 Alliance file spells them as the HTTP
verbs GET/POST/PUT/DELETE (quirk 6 of docs/openadr3.md §10.1). Everything that reads an
operation maps it here, so the two spellings meet in one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: The operations in 3.1.0 spelling.
OPERATIONS: tuple[str, ...] = ("CREATE", "READ", "UPDATE", "DELETE")

#: HTTP verb (3.0.1) -> operation (3.1.0).
OPERATION_OF_VERB: Mapping[str, str] = MappingProxyType(
    {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}
)

#: Operation (3.1.0) -> HTTP verb (3.0.1).
VERB_OF_OPERATION: Mapping[str, str] = MappingProxyType(
    {operation: verb for verb, operation in OPERATION_OF_VERB.items()}
)


def operation_name(value: str) -> str:
    """``value`` in 3.1.0 spelling, upper-cased; a value that is neither spelling comes back
    upper-cased for the caller to refuse."""
    upper = value.upper()
    return OPERATION_OF_VERB.get(upper, upper)
