"""Value encodings and code tables of CTA-2045 messages (docs/cta2045.md §6, §8, §9).

Pure functions between engineering values (seconds, price ratios, percent) and the bytes on the
wire, plus the standard's code tables as named enums. Nothing here knows about frames.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# --- Event duration (Basic DR opcode2, docs/cta2045.md §8.2) --------------------------------------

#: opcode2 0x00: duration unknown, the event lasts until End Shed.
DURATION_UNKNOWN = 0x00
#: opcode2 0xFF: longer than the largest encodable duration.
DURATION_BEYOND_MAX = 0xFF
#: Largest finite duration code; 2·254² s = 129 032 s ≈ 35.8 h.
DURATION_MAX_CODE = 0xFE


#: The longest finite duration: 2·254² s.
MAX_DURATION_S = 2 * DURATION_MAX_CODE * DURATION_MAX_CODE


def _code_seconds(code: int) -> int:
    # The one place of the rule: duration code n means 2·n² seconds (docs/cta2045.md §8.2).
    return 2 * code * code


def duration_seconds(code: int) -> int | None:
    """Seconds meant by a duration byte: 2·n² s; ``None`` for 0x00 (unknown) and 0xFF (longer)."""
    if code in (DURATION_UNKNOWN, DURATION_BEYOND_MAX):
        return None
    return _code_seconds(code)


def covering_duration_code(seconds: float) -> int:
    """The smallest finite code whose duration is not shorter than ``seconds`` (rounding UP):
    at least 1, and :data:`DURATION_MAX_CODE` for anything from 2·254² s on."""
    if seconds >= MAX_DURATION_S:
        return DURATION_MAX_CODE
    n = math.isqrt(math.ceil(max(0.0, seconds)) // 2)
    while _code_seconds(n) < seconds:
        n += 1
    return max(n, 1)


def within_duration_code(seconds: float) -> int:
    """The largest finite code whose duration is not longer than ``seconds`` (rounding DOWN):
    at least 1, since code 0 means "until End Shed", and :data:`DURATION_MAX_CODE` from
    2·254² s on."""
    if seconds >= MAX_DURATION_S:
        return DURATION_MAX_CODE
    return max(1, math.isqrt(max(0, int(seconds)) // 2))


def covering_duration_s(seconds: float) -> int:
    """The shortest encodable duration not shorter than ``seconds`` (capped at the longest)."""
    return _code_seconds(covering_duration_code(seconds))


def within_duration_s(seconds: float) -> int:
    """The longest encodable duration not longer than ``seconds``, at least one step (2 s)."""
    return _code_seconds(within_duration_code(seconds))


def duration_code(seconds: float | None) -> int:
    """Duration byte for ``seconds``, rounding UP to the next representable duration.

    Rounding choice (docs/cta2045.md §13 row 7): Intwine rounds up, the PyPI ``cta2045`` package and
    radinet round down. We round up so a curtailment is never shorter than asked; the UCM tracks
    the real end time itself and sends End Shed when it is reached (Intwine REST doc §3.2).
    ``None`` means "unknown / until End Shed" (0x00); anything above 2·254² s encodes as 0xFF.
    """
    if seconds is None:
        return DURATION_UNKNOWN
    if not seconds > 0 or math.isnan(seconds):
        raise ValueError(f"duration must be positive seconds or None, got {seconds!r}")
    if seconds > MAX_DURATION_S:
        return DURATION_BEYOND_MAX
    return covering_duration_code(seconds)


# --- Relative price (Basic DR 0x07/0x08, docs/cta2045.md §8.2) ------------------------------------

#: opcode2 0x00: price ratio unknown; 0xFF: larger than the largest encodable ratio (≈ 9.79).
PRICE_UNKNOWN = 0x00
PRICE_BEYOND_MAX = 0xFF
PRICE_MAX_CODE = 0xFE


def price_ratio(code: int) -> float | None:
    """Ratio to the normal price meant by a relative-price byte: (n − 1)(n + 63) / 8192."""
    if code in (PRICE_UNKNOWN, PRICE_BEYOND_MAX):
        return None
    return (code - 1) * (code + 63) / 8192


def price_code(ratio: float | None) -> int:
    """Relative-price byte nearest to ``ratio`` (0x00 for ``None``, 0xFF beyond ≈ 9.79)."""
    if ratio is None:
        return PRICE_UNKNOWN
    if not ratio >= 0 or math.isinf(ratio):
        raise ValueError(f"price ratio must be a finite number >= 0 or None, got {ratio!r}")
    largest = price_ratio(PRICE_MAX_CODE)
    assert largest is not None
    if ratio > largest:
        return PRICE_BEYOND_MAX
    # Inverse of the ratio formula (EPRI-sim ByteToRelativePrice, radinet calcRelativePriceByte).
    guess = (-62 + math.sqrt(4096 + 32768 * ratio)) / 2
    candidates = {min(max(c, 1), PRICE_MAX_CODE) for c in (math.floor(guess), math.ceil(guess))}
    return min(sorted(candidates), key=lambda c: abs((price_ratio(c) or 0.0) - ratio))


# --- Request for power level (Basic DR 0x06, docs/cta2045.md §8.2, §13 row 3) ---------------------

#: bit 7 of opcode2: 1 = produce, 0 = absorb; bits 0–6: 0–127 = 0–100 % of the rating.
POWER_PRODUCE_BIT = 0x80
POWER_LEVEL_FULL_SCALE = 127


def power_level_code(percent: float, produce: bool = False) -> int:
    """Power-level byte; the 7-bit level is rounded DOWN (50 % → 0x3F, as EPRI-lib's sample).

    The PyPI ``cta2045`` package puts the raw percent in the byte (50 % → 0x32); EPRI-sim, Intwine
    and EPRI-lib scale to 0–127 (docs/cta2045.md §13 row 3), which we follow.
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"power level must be 0-100 %, got {percent!r}")
    level = math.floor(percent * POWER_LEVEL_FULL_SCALE / 100 + 1e-9)
    return level | (POWER_PRODUCE_BIT if produce else 0)


def power_level_percent(code: int) -> float:
    """Percent of rating meant by the low 7 bits of a power-level byte (two decimals)."""
    return round((code & 0x7F) * 100 / POWER_LEVEL_FULL_SCALE, 2)


# --- Simple time sync (Basic DR 0x16, docs/cta2045.md §8.1) ---------------------------------------


def time_sync_code(weekday: int, hour: int) -> int:
    """``(weekday << 5) | hour``; weekday 0 = Sunday, local hour 0–23 including DST."""
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Sunday) to 6, got {weekday!r}")
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0-23, got {hour!r}")
    return (weekday << 5) | hour


# --- Time (Intermediate DR, docs/cta2045.md §9.2) -------------------------------------------------

#: CTA-2045 times count seconds from 2000-01-01T00:00Z (EPRI-lib util/CEA2045Time.cpp).
CTA_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def cta_seconds(when: datetime) -> int:
    """Seconds since the CTA-2045 epoch for an aware ``datetime``."""
    if when.tzinfo is None:
        raise ValueError("a CTA-2045 time needs a timezone-aware datetime")
    return int((when - CTA_EPOCH).total_seconds())


def cta_datetime(seconds: int) -> datetime:
    return CTA_EPOCH + timedelta(seconds=seconds)


# --- Code tables -----------------------------------------------------------------------------


class OperationalState(enum.IntEnum):
    """Operational-state codes, opcode2 of Basic DR 0x13 (docs/cta2045.md §8.3).

    0–12 agree across EPRI-sim, Intwine, rmay, radinet and cta2045; 13 and 14 are CTA-2045-B
    additions known only from the cta2045 package (§13 row 19).
    """

    IDLE_NORMAL = 0
    RUNNING_NORMAL = 1
    RUNNING_CURTAILED = 2
    RUNNING_HEIGHTENED = 3
    IDLE_CURTAILED = 4
    SGD_ERROR_CONDITION = 5
    IDLE_HEIGHTENED = 6
    CYCLING_ON = 7
    CYCLING_OFF = 8
    VARIABLE_FOLLOWING = 9
    VARIABLE_NOT_FOLLOWING = 10
    IDLE_OPTED_OUT = 11
    RUNNING_OPTED_OUT = 12
    RUNNING_PRICE_STREAM = 13
    IDLE_PRICE_STREAM = 14


class StateKind(enum.Enum):
    """What an operational state says about demand response (docs/cta2045.md §8.3)."""

    NORMAL = "NORMAL"
    CURTAILED = "CURTAILED"
    HEIGHTENED = "HEIGHTENED"
    OPTED_OUT = "OPTED_OUT"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class StateMeaning:
    """An operational state read as (what it says about demand response, heating now)."""

    kind: StateKind
    running: bool


_IDLE, _RUNNING = False, True

#: What every operational state means: the one table the control core, the reports to the VTN
#: and the status page read (docs/cta2045.md §8.3). Cycling and variable following are
#: curtailment (§9.2: "duty cycle is the % reduction"); a heater "not following" an event and
#: price-stream operation (13, 14) run as in normal operation.
STATE_MEANINGS: dict[OperationalState, StateMeaning] = {
    OperationalState.IDLE_NORMAL: StateMeaning(StateKind.NORMAL, _IDLE),
    OperationalState.RUNNING_NORMAL: StateMeaning(StateKind.NORMAL, _RUNNING),
    OperationalState.RUNNING_CURTAILED: StateMeaning(StateKind.CURTAILED, _RUNNING),
    OperationalState.RUNNING_HEIGHTENED: StateMeaning(StateKind.HEIGHTENED, _RUNNING),
    OperationalState.IDLE_CURTAILED: StateMeaning(StateKind.CURTAILED, _IDLE),
    OperationalState.SGD_ERROR_CONDITION: StateMeaning(StateKind.ERROR, _IDLE),
    OperationalState.IDLE_HEIGHTENED: StateMeaning(StateKind.HEIGHTENED, _IDLE),
    OperationalState.CYCLING_ON: StateMeaning(StateKind.CURTAILED, _RUNNING),
    OperationalState.CYCLING_OFF: StateMeaning(StateKind.CURTAILED, _IDLE),
    OperationalState.VARIABLE_FOLLOWING: StateMeaning(StateKind.CURTAILED, _RUNNING),
    OperationalState.VARIABLE_NOT_FOLLOWING: StateMeaning(StateKind.NORMAL, _RUNNING),
    OperationalState.IDLE_OPTED_OUT: StateMeaning(StateKind.OPTED_OUT, _IDLE),
    OperationalState.RUNNING_OPTED_OUT: StateMeaning(StateKind.OPTED_OUT, _RUNNING),
    OperationalState.RUNNING_PRICE_STREAM: StateMeaning(StateKind.NORMAL, _RUNNING),
    OperationalState.IDLE_PRICE_STREAM: StateMeaning(StateKind.NORMAL, _IDLE),
}


def state_meaning(code: int | None) -> StateMeaning | None:
    """The meaning of an operational-state code (None: no code, or one the table lacks)."""
    if code is None:
        return None
    try:
        return STATE_MEANINGS[OperationalState(code)]
    except ValueError:
        return None


class AppNakReason(enum.IntEnum):
    """Application NAK reasons, opcode2 of Basic DR 0x04 (docs/cta2045.md §8.4)."""

    NO_REASON = 0
    OPCODE1_NOT_SUPPORTED = 1
    OPCODE2_INVALID = 2
    BUSY = 3
    LENGTH_INVALID = 4
    CUSTOMER_OVERRIDE = 5


class OutsideCommStatus(enum.IntEnum):
    """Basic DR 0x0E opcode2; 2 = poor per EPRI-lib, EPRI-sim, pycta2045 (§13 row 13)."""

    NO_COMM = 0
    GOOD = 1
    POOR = 2


class GridGuidance(enum.IntEnum):
    """Basic DR 0x0C opcode2 (docs/cta2045.md §8.1)."""

    BAD_TIME = 0
    NEUTRAL = 1
    GOOD_TIME = 2


class RebootType(enum.IntEnum):
    """Basic DR 0x1A opcode2 (docs/cta2045.md §8.1)."""

    SOFT = 0
    FACTORY_DEFAULTS = 1


class ResponseCode(enum.IntEnum):
    """Intermediate DR reply response codes (docs/cta2045.md §9.1)."""

    SUCCESS = 0
    NOT_IMPLEMENTED = 1
    BAD_VALUE = 2
    COMMAND_LENGTH_ERROR = 3
    RESPONSE_LENGTH_ERROR = 4
    BUSY = 5
    OTHER_ERROR = 6
    CUSTOMER_OVERRIDE = 7
    COMMAND_NOT_ENABLED = 8


class TemperatureUnit(enum.IntEnum):
    """Units byte of set-point, temperature and offset messages (docs/cta2045.md §9.2)."""

    FAHRENHEIT = 0
    CELSIUS = 1


class CommodityCode(enum.IntEnum):
    """Commodity codes, low 7 bits of the code byte (docs/cta2045.md §9.3)."""

    ELECTRICITY_CONSUMED = 0
    ELECTRICITY_PRODUCED = 1
    NATURAL_GAS_IMPERIAL = 2
    WATER_IMPERIAL = 3
    NATURAL_GAS_METRIC = 4
    WATER_METRIC = 5
    TOTAL_ENERGY_STORAGE_CAPACITY = 6
    PRESENT_ENERGY_STORAGE = 7
    RATED_MAX_CONSUMPTION = 8
    RATED_MAX_PRODUCTION = 9
    LOAD_UP_TOTAL_ENERGY_STORAGE = 10
    LOAD_UP_PRESENT_ENERGY_STORAGE = 11


#: Bit 7 of a commodity code byte: 1 = measured, 0 = estimated (EPRI-sim and Intwine, the
#: majority reading of docs/cta2045.md §13 row 2).
COMMODITY_MEASURED_BIT = 0x80

#: (instantaneous rate unit, cumulative amount unit) per commodity (docs/cta2045.md §9.3). Codes 6
#: and 7 leave the instantaneous field unused; the sources state no units for 8–11 beyond that
#: 10/11 mirror 6/7.
COMMODITY_UNITS: dict[int, tuple[str | None, str | None]] = {
    0: ("W", "Wh"),
    1: ("W", "Wh"),
    2: ("ft3/h", "ft3"),
    3: ("gal/h", "gal"),
    4: ("m3/h", "m3"),
    5: ("L/h", "L"),
    6: (None, "Wh"),
    7: (None, "Wh"),
    8: (None, None),
    9: (None, None),
    10: (None, "Wh"),
    11: (None, "Wh"),
}


class DeviceType(enum.IntEnum):
    """Device types of the Device Information reply (a subset, docs/cta2045.md §9.2)."""

    UNSPECIFIED = 0x0000
    WATER_HEATER_GAS = 0x0001
    WATER_HEATER_ELECTRIC = 0x0002
    WATER_HEATER_HEAT_PUMP = 0x0003
    WATER_HEATER_HEAT_PUMP_VARIABLE_CAPACITY = 0x001B
    WATER_HEATER_PHASE_CHANGE = 0x001C
    OTHER = 0x8000


class Capability(enum.IntFlag):
    """Capability bits of the Device Information reply (docs/cta2045.md §9.2; bits 4–8: cta2045)."""

    CYCLING = 1 << 0
    TIER = 1 << 1
    PRICE = 1 << 2
    TEMPERATURE_OFFSET = 1 << 3
    CONTINUOUSLY_VARIABLE_POWER = 1 << 4
    DISCRETELY_VARIABLE_POWER = 1 << 5
    ADVANCED_LOAD_UP = 1 << 6
    PRICE_STREAM = 1 << 7
    SGD_EFFICIENCY_LEVEL = 1 << 8


#: Data-link 0x17 bit-rate codes (docs/cta2045.md §6; code 4 = 230400 as EPRI-sim's code does,
#: §13 row 10).
BIT_RATES: dict[int, int] = {
    0: 19200,
    1: 38400,
    2: 57600,
    3: 115200,
    4: 230400,
    5: 460800,
    6: 921600,
    7: 1843200,
    8: 3686400,
}

#: Data-link 0x19 maximum-payload codes → bytes (docs/cta2045.md §6).
MAX_PAYLOAD_SIZES: dict[int, int] = {
    0: 2,
    1: 4,
    2: 8,
    3: 16,
    4: 32,
    5: 64,
    6: 128,
    7: 256,
    8: 512,
    9: 1024,
    10: 1280,
    11: 1500,
    12: 2048,
    13: 4096,
}

#: Advanced Load Up units byte → Wh per count; 0xFF = not active (docs/cta2045.md §9.2).
ALU_UNIT_WH: dict[int, int] = {0: 1, 1: 10, 2: 100, 3: 1000}
ALU_NOT_ACTIVE = 0xFF

#: Set-point value meaning "don't change" (Set) or "not supported" (Get), docs/cta2045.md §9.2.
SET_POINT_NONE = -0x8000


#: Name reported for a code missing from its table (unknown codes are reported, not fatal).
UNKNOWN_NAME = "UNKNOWN"


def enum_name(table: type[enum.IntEnum], value: int) -> str:
    """Name of ``value`` in ``table``, or :data:`UNKNOWN_NAME`."""
    try:
        return table(value).name
    except ValueError:
        return UNKNOWN_NAME
