"""Typed errors of 2.0b message reading: a response code and the reason, for log and reply."""

from __future__ import annotations

from dataclasses import dataclass

from ven_edge.oadr2b.codes import ResponseCode


@dataclass(frozen=True, slots=True)
class MessageError(Exception):
    """A message (or one part of it) that cannot be used, with the code to answer it by."""

    code: ResponseCode
    reason: str

    def __str__(self) -> str:
        return f"{int(self.code)} {self.code.name}: {self.reason}"
