"""Which CTA-2045 message a load-up goes out as, and the user's set point (sans-I/O).

The richest message the heater supports is used (docs/gateway.md, "Set points"):

1. **Advanced Load Up** (Intermediate 0C 00, docs/cta2045.md §9.2) with the planned energy, when
   the heater answered the Intermediate type query and its Device Information claims capability
   bit 6. It carries a duration, so a gateway that dies leaves the heater to return to normal.
2. **A set-point raise** to ``heater.max_set_point_c``, when a thermostatic mixing valve is
   fitted (``heater.mixing_valve``) and the heater answered Get Set Point (03 03). A set point is
   the user's own and has no duration: the gateway keeps the user's value and restores it.
3. **Basic Load Up** (0x17, §8.1) otherwise.

A heater that refuses Advanced Load Up or a set point ("not implemented", "not enabled", "bad
value" for Advanced Load Up, or link NAK 0x06 for the Intermediate type) gets Basic messages for
the rest of the session. A set point answered with "bad value" narrows the range instead: the
ceiling halves the distance to the user's set point, and only when no raise is left does the
heater fall back to Basic.

Both are what the heater is, not what the session was: the narrowed ceiling and the fallback are
kept (:class:`HeaterLimits`, persisted with the user's set point) for the heater with that serial
number (Device Information, docs/cta2045.md §9.2), so a restart does not try again what the
heater refused. A heater with another serial number starts afresh.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Final

from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.encodings import Capability, ResponseCode
from ven_edge.cta2045.frames import MessageType, NakReason
from ven_edge.units import c_to_f, f_to_c

#: Intermediate response codes that mean the heater will not take the message (§9.1).
REFUSAL_CODES: Final = frozenset(
    {ResponseCode.NOT_IMPLEMENTED, ResponseCode.BAD_VALUE, ResponseCode.COMMAND_NOT_ENABLED}
)
#: Link NAK reasons that mean the message type (or request) is not taken (§4).
REFUSAL_NAKS: Final = frozenset(
    {NakReason.UNSUPPORTED_MESSAGE_TYPE, NakReason.REQUEST_NOT_SUPPORTED}
)


class LoadUpMessage(enum.StrEnum):
    ADVANCED = "Advanced Load Up"
    SET_POINT = "set point"
    BASIC = "Load Up"


@dataclass(frozen=True, slots=True)
class CommandOptions:
    """The installation's limits: ``[heater]`` mixing_valve and max_set_point_c, and the plan's
    delivery floor ``plan.min_delivery_c``."""

    mixing_valve: bool = False
    max_set_point_c: float = 60.0
    min_delivery_c: float = 43.0


def c_to_whole_f(celsius: float) -> int:
    """The whole °F a set point in °C is sent as (:meth:`UcmSession.set_set_point`)."""
    return round(c_to_f(celsius))


def whole_f_to_c(fahrenheit: float) -> float:
    """A whole-°F set point in °C, to 0.01 °C as the UCM session reports set points."""
    return round(f_to_c(fahrenheit), 2)


def supports_advanced_load_up(snapshot: DeviceSnapshot) -> bool:
    info = snapshot.device_info
    return (
        MessageType.INTERMEDIATE_DR in snapshot.supported_types
        and info is not None
        and bool(info.capabilities & Capability.ADVANCED_LOAD_UP)
    )


def supports_set_point(snapshot: DeviceSnapshot) -> bool:
    return MessageType.INTERMEDIATE_DR in snapshot.supported_types and (
        snapshot.set_point_c is not None
    )


def is_refusal(status: str, reason: int | None) -> bool:
    """Does an outcome (:class:`~ven_edge.cta2045.ucm.Status` value, reason) mean the heater does
    not take this message at all (as opposed to the line failing or the customer's override)?"""
    if status == "app_nak":
        return reason in REFUSAL_CODES
    if status == "link_nak":
        return reason in REFUSAL_NAKS
    return False


class CommandChoice:
    """What the heater was found to take in this session, and the set-point range left."""

    def __init__(self, options: CommandOptions) -> None:
        self.options = options
        self.refused: str | None = None  # why the session fell back to Basic messages
        # Highest set point (whole °F) still allowed; narrowed when the heater says "bad value".
        self.ceiling_f = math.floor(c_to_f(options.max_set_point_c))
        self.floor_f = math.ceil(c_to_f(options.min_delivery_c))

    def load_up_message(self, snapshot: DeviceSnapshot, wh: int | None) -> LoadUpMessage:
        if self.refused is None:
            if wh and wh > 0 and supports_advanced_load_up(snapshot):
                return LoadUpMessage.ADVANCED
            if self.options.mixing_valve and supports_set_point(snapshot):
                return LoadUpMessage.SET_POINT
        return LoadUpMessage.BASIC

    def raise_target_f(self, user_f: int) -> int | None:
        """The set point to raise to, or None when no raise above the user's is allowed (the
        ceiling at or below it, or below the delivery floor)."""
        target = self.ceiling_f
        if target <= user_f or target < self.floor_f:
            return None
        return target

    def limits(self, serial: str) -> HeaterLimits:
        """What this choice learned about the heater ``serial``, to be kept across restarts."""
        default = math.floor(c_to_f(self.options.max_set_point_c))
        return HeaterLimits(
            serial, None if self.ceiling_f >= default else self.ceiling_f, self.refused
        )

    def remember(self, limits: HeaterLimits) -> None:
        """Take what an earlier session learned about this heater (never a wider range than the
        configuration's)."""
        if limits.ceiling_f is not None:
            self.ceiling_f = min(self.ceiling_f, limits.ceiling_f)
        if limits.refused is not None:
            self.refused = limits.refused

    def narrow(self, refused_f: int, user_f: int) -> None:
        """The heater answered "bad value" for ``refused_f``: halve the room above the user's."""
        self.ceiling_f = min(self.ceiling_f, user_f + (refused_f - user_f) // 2)

    def refuse(self, message: LoadUpMessage, why: str) -> str:
        """Fall back to Basic messages for the session; returns the text for the log and page."""
        self.refused = f"{message.value} refused: {why}"
        return self.refused

    def describe(self, snapshot: DeviceSnapshot) -> str:
        """The status page's ``commands`` field."""
        if self.refused is not None:
            return f"basic ({self.refused})"
        rich = []
        if supports_advanced_load_up(snapshot):
            rich.append("Advanced Load Up")
        if self.options.mixing_valve and supports_set_point(snapshot):
            rich.append(f"set point (up to {whole_f_to_c(self.ceiling_f):g} °C)")
        return ", ".join(rich) or "basic"


#: Longest refusal text kept (it comes from the heater's answer, via the response code's name).
MAX_REFUSAL_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class HeaterLimits:
    """What one heater (by serial number) refused: the set-point ceiling it narrowed to (whole
    °F; None: not narrowed) and why it gets Basic messages (None: it does not)."""

    serial: str
    ceiling_f: int | None = None
    refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "ceiling_f": self.ceiling_f, "refused": self.refused}

    @classmethod
    def from_json(cls, data: object) -> HeaterLimits:
        if not isinstance(data, dict):
            raise TypeError("heater limits must be an object")
        serial, ceiling, refused = data["serial"], data["ceiling_f"], data["refused"]
        if not isinstance(serial, str) or not serial:
            raise TypeError(f"heater serial number {serial!r} is not a text")
        if ceiling is not None and (
            isinstance(ceiling, bool) or not isinstance(ceiling, int) or not 32 <= ceiling <= 212
        ):
            raise ValueError(f"set-point ceiling {ceiling!r} °F is not a water heater's")
        if refused is not None and (
            not isinstance(refused, str) or len(refused) > MAX_REFUSAL_CHARS
        ):
            raise TypeError(f"refusal {refused!r} is not a short text")
        return cls(serial, ceiling, refused)


@dataclass(frozen=True, slots=True)
class KeptSetPoint:
    """The user's set point and the gateway's raise in force (persisted: docs/gateway.md)."""

    user_c: float
    raised_c: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"user_c": self.user_c, "raised_c": self.raised_c}

    @classmethod
    def from_json(cls, data: object) -> KeptSetPoint:
        if not isinstance(data, dict):
            raise TypeError("set point document must be an object")
        user, raised = data["user_c"], data.get("raised_c")
        numbers = [v for v in (user, raised) if v is not None]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise TypeError(f"set point document has non-numbers: {data!r}")
        if not 0 <= user <= 100:
            raise ValueError(f"user set point {user} °C is not a water heater's")
        return cls(float(user), None if raised is None else float(raised))
