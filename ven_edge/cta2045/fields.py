"""Field codecs and payload layouts for the declarative message table (``table.py``).

A *field* turns a fixed number of payload bytes into named values and back. Decoding yields the
wire value under its own key (``duration_code``) and, where useful, derived engineering values
with the unit in the key (``duration_s``) or a name for a code (``state_name``). Encoding takes
the wire key if present, else the engineering value, so a decoded message re-encodes to the same
bytes and a caller can still write ``duration_s=600``.

Each field also says the Python type of every key it decodes (``types``): the typed message
classes of :mod:`ven_edge.cta2045.typed` are generated from them, and a code with an enum decodes
to the enum member (a plain ``int`` when the table does not name the code).

A *layout* is the list of fields after the opcodes: fixed fields, then optional trailing groups
(present or absent as a whole, docs/cta2045.md §9.2 "trailing blocks optional"), or one run of
repeated records (commodity reads). Multi-byte fields are big-endian (docs/cta2045.md §9.1).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ven_edge.cta2045 import encodings as enc
from ven_edge.cta2045.errors import FieldValueError, MessageEncodeError, PayloadLengthError

Values = Mapping[str, object]


def _get_int(values: Values, key: str, lo: int, hi: int) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise MessageEncodeError(f"field {key} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise MessageEncodeError(f"field {key}={value} is outside {lo}..{hi}")
    return value


def _get_number(values: Values, key: str) -> float:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MessageEncodeError(f"field {key} must be a number, got {value!r}")
    return float(value)


def _missing(*keys: str) -> MessageEncodeError:
    return MessageEncodeError("missing field " + " or ".join(keys))


class Field:
    """Base of fixed-size fields: ``size`` bytes ↔ named values."""

    size: int = 1
    keys: tuple[str, ...] = ()
    #: Key -> the type its decoded value has, as Python source (the generated classes use it).
    types: Mapping[str, str] = {}

    def decode(self, data: bytes) -> dict[str, object]:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, values: Values) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError


class UInt(Field):
    """Unsigned or signed big-endian integer, optionally named through an enum."""

    def __init__(
        self,
        key: str,
        size: int = 1,
        *,
        signed: bool = False,
        names: type[enum.IntEnum] | None = None,
    ) -> None:
        self.key = key
        self.size = size
        self.signed = signed
        self.names = names
        self.keys = (key, f"{key}_name") if names else (key,)
        self.types = (
            {key: f"{names.__name__} | int", f"{key}_name": "str"} if names else {key: "int"}
        )
        self._members: dict[int, enum.IntEnum] = {m.value: m for m in names} if names else {}
        bits = 8 * size
        self.lo: int = -(1 << (bits - 1)) if signed else 0
        self.hi: int = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1

    def decode(self, data: bytes) -> dict[str, object]:
        value = int.from_bytes(data, "big", signed=self.signed)
        if self.names is None:
            return {self.key: value}
        member = self._members.get(value)
        if member is None:
            return {self.key: value, f"{self.key}_name": enc.UNKNOWN_NAME}
        return {self.key: member, f"{self.key}_name": member.name}

    def encode(self, values: Values) -> bytes:
        if self.key not in values:
            raise _missing(self.key)
        value = _get_int(values, self.key, self.lo, self.hi)
        return value.to_bytes(self.size, "big", signed=self.signed)


class Reserved(Field):
    """A byte that is 0x00 in practice; kept as ``reserved`` only when it is not."""

    keys = ("reserved",)
    types: Mapping[str, str] = {}  # present only when not 0x00: no attribute of its own

    def decode(self, data: bytes) -> dict[str, object]:
        return {"reserved": data[0]} if data[0] else {}

    def encode(self, values: Values) -> bytes:
        return bytes((_get_int(values, "reserved", 0, 255) if "reserved" in values else 0,))


class Flag(Field):
    """A byte that must be 0 or 1, as a bool."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.keys = (key,)
        self.types = {key: "bool"}

    def decode(self, data: bytes) -> dict[str, object]:
        if data[0] > 1:
            raise FieldValueError(f"{self.key} must be 0 or 1, got 0x{data[0]:02X}")
        return {self.key: bool(data[0])}

    def encode(self, values: Values) -> bytes:
        if self.key not in values:
            raise _missing(self.key)
        value = values[self.key]
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise MessageEncodeError(f"field {self.key} must be a bool, got {value!r}")
        return bytes((int(value),))


class Duration(Field):
    """Basic DR duration byte: ``<prefix>_code``, ``<prefix>_s`` (2·n² s, docs/cta2045.md §8.2)."""

    def __init__(self, prefix: str = "duration") -> None:
        self.code_key = f"{prefix}_code"
        self.seconds_key = f"{prefix}_s"
        self.keys = (self.code_key, self.seconds_key)
        self.types = {self.code_key: "int", self.seconds_key: "int | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        return {self.code_key: data[0], self.seconds_key: enc.duration_seconds(data[0])}

    def encode(self, values: Values) -> bytes:
        if self.code_key in values:
            return bytes((_get_int(values, self.code_key, 0, 255),))
        seconds = values.get(self.seconds_key)
        if seconds is not None:
            seconds = _get_number(values, self.seconds_key)
        try:
            return bytes((enc.duration_code(seconds),))
        except ValueError as exc:
            raise MessageEncodeError(f"field {self.seconds_key}: {exc}") from None


class RelativePrice(Field):
    """Relative-price byte: ``price_code`` and ``price_ratio`` (docs/cta2045.md §8.2)."""

    keys = ("price_code", "price_ratio")
    types: Mapping[str, str] = {"price_code": "int", "price_ratio": "float | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        ratio = enc.price_ratio(data[0])
        return {"price_code": data[0], "price_ratio": None if ratio is None else round(ratio, 4)}

    def encode(self, values: Values) -> bytes:
        if "price_code" in values:
            return bytes((_get_int(values, "price_code", 0, 255),))
        ratio = values.get("price_ratio")
        try:
            code = enc.price_code(None if ratio is None else _get_number(values, "price_ratio"))
        except ValueError as exc:
            raise MessageEncodeError(f"field price_ratio: {exc}") from None
        return bytes((code,))


class PowerLevel(Field):
    """Power-level byte: ``level_code``, ``level_percent``, ``produce`` (docs/cta2045.md §8.2)."""

    keys = ("level_code", "level_percent", "produce")
    types: Mapping[str, str] = {"level_code": "int", "level_percent": "float", "produce": "bool"}

    def decode(self, data: bytes) -> dict[str, object]:
        code = data[0]
        return {
            "level_code": code,
            "level_percent": enc.power_level_percent(code),
            "produce": bool(code & enc.POWER_PRODUCE_BIT),
        }

    def encode(self, values: Values) -> bytes:
        if "level_code" in values:
            return bytes((_get_int(values, "level_code", 0, 255),))
        if "level_percent" not in values:
            raise _missing("level_code", "level_percent")
        try:
            code = enc.power_level_code(
                _get_number(values, "level_percent"), bool(values.get("produce", False))
            )
        except ValueError as exc:
            raise MessageEncodeError(f"field level_percent: {exc}") from None
        return bytes((code,))


class TimeSync(Field):
    """Simple-time-sync byte: ``weekday`` (0 = Sunday) and local ``hour`` (docs/cta2045.md §8.1)."""

    keys = ("weekday", "hour")
    types: Mapping[str, str] = {"weekday": "int", "hour": "int"}

    def decode(self, data: bytes) -> dict[str, object]:
        weekday, hour = data[0] >> 5, data[0] & 0x1F
        if weekday > 6 or hour > 23:
            raise FieldValueError(
                f"time sync 0x{data[0]:02X} holds weekday {weekday} and hour {hour}; "
                "expected weekday 0-6 and hour 0-23"
            )
        return {"weekday": weekday, "hour": hour}

    def encode(self, values: Values) -> bytes:
        if "weekday" not in values or "hour" not in values:
            raise _missing("weekday", "hour")
        weekday = _get_int(values, "weekday", 0, 6)
        return bytes((enc.time_sync_code(weekday, _get_int(values, "hour", 0, 23)),))


class MappedCode(Field):
    """A code byte with a value table: ``<code_key>`` and ``<value_key>`` (None if unknown)."""

    def __init__(self, code_key: str, value_key: str, table: Mapping[int, int]) -> None:
        self.code_key = code_key
        self.value_key = value_key
        self.table = table
        self.keys = (code_key, value_key)
        self.types = {code_key: "int", value_key: "int | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        return {self.code_key: data[0], self.value_key: self.table.get(data[0])}

    def encode(self, values: Values) -> bytes:
        if self.code_key in values:
            return bytes((_get_int(values, self.code_key, 0, 255),))
        if self.value_key not in values:
            raise _missing(self.code_key, self.value_key)
        wanted = values[self.value_key]
        for code, value in self.table.items():
            if value == wanted:
                return bytes((code,))
        raise MessageEncodeError(
            f"field {self.value_key}={wanted!r} is not one of {sorted(self.table.values())}"
        )


class Ascii(Field):
    """Fixed-width text, byte for byte (Latin-1 keeps any byte, so decoding never fails)."""

    def __init__(self, key: str, size: int) -> None:
        self.key = key
        self.size = size
        self.keys = (key,)
        self.types = {key: "str"}

    def decode(self, data: bytes) -> dict[str, object]:
        return {self.key: data.decode("latin-1")}

    def encode(self, values: Values) -> bytes:
        if self.key not in values:
            raise _missing(self.key)
        text = values[self.key]
        if not isinstance(text, str):
            raise MessageEncodeError(f"field {self.key} must be text, got {text!r}")
        try:
            raw = text.encode("latin-1")
        except UnicodeEncodeError:
            raise MessageEncodeError(f"field {self.key} must be Latin-1 text") from None
        if len(raw) > self.size:
            raise MessageEncodeError(f"field {self.key} is longer than {self.size} bytes")
        return raw.ljust(self.size, b"\x00")


class SetPoint(Field):
    """Signed 16-bit temperature; 0x8000 ↔ ``None`` ("don't change"/"not supported", §9.2)."""

    size = 2

    def __init__(self, key: str) -> None:
        self.key = key
        self.keys = (key,)
        self.types = {key: "int | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        value = int.from_bytes(data, "big", signed=True)
        return {self.key: None if value == enc.SET_POINT_NONE else value}

    def encode(self, values: Values) -> bytes:
        if self.key not in values:
            raise _missing(self.key)
        value = values[self.key]
        if value is None:
            return enc.SET_POINT_NONE.to_bytes(2, "big", signed=True)
        return _get_int(values, self.key, -0x7FFF, 0x7FFF).to_bytes(2, "big", signed=True)


class CtaTime(Field):
    """u32 seconds since 2000-01-01T00:00Z: ``<key>_s`` and an ISO-8601 ``<key>`` (§9.2)."""

    size = 4

    def __init__(self, key: str, *, zero_means_now: bool = False) -> None:
        self.seconds_key = f"{key}_s"
        self.iso_key = key
        self.zero_means_now = zero_means_now
        self.keys = (self.seconds_key, self.iso_key)
        self.types = {self.seconds_key: "int", self.iso_key: "str | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        seconds = int.from_bytes(data, "big")
        iso = None
        if not (self.zero_means_now and seconds == 0):
            iso = enc.cta_datetime(seconds).isoformat().replace("+00:00", "Z")
        return {self.seconds_key: seconds, self.iso_key: iso}

    def encode(self, values: Values) -> bytes:
        if self.seconds_key not in values:
            raise _missing(self.seconds_key)
        return _get_int(values, self.seconds_key, 0, 2**32 - 1).to_bytes(4, "big")


class TemperatureUnits(UInt):
    """Units byte (0 = °F, 1 = °C) plus ``temperature_unit`` ("degF"/"degC") for readers."""

    def __init__(self) -> None:
        super().__init__("units", names=enc.TemperatureUnit)
        self.keys = (*self.keys, "temperature_unit")
        self.types = {**self.types, "temperature_unit": "str | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        out = super().decode(data)
        out["temperature_unit"] = {0: "degF", 1: "degC"}.get(data[0])
        return out


class Capabilities(UInt):
    """Capability bitmap (u32) plus the list of set capability names."""

    def __init__(self) -> None:
        super().__init__("capabilities", 4)
        self.keys = ("capabilities", "capability_names")
        self.types = {"capabilities": "Capability", "capability_names": "list[str]"}

    def decode(self, data: bytes) -> dict[str, object]:
        # An IntFlag keeps bits it does not name (the default boundary of IntFlag).
        bits = enc.Capability(int.from_bytes(data, "big"))
        names = [flag.name for flag in enc.Capability if flag.name and bits & flag]
        return {"capabilities": bits, "capability_names": names}


class FirmwareDate(Field):
    """Firmware year − 2000, month 0 = January (docs/cta2045.md §13 row 6), day."""

    size = 3
    keys = ("firmware_year", "firmware_month", "firmware_day")
    types: Mapping[str, str] = dict.fromkeys(keys, "int")

    def decode(self, data: bytes) -> dict[str, object]:
        return {
            "firmware_year": 2000 + data[0],
            "firmware_month": data[1] + 1,
            "firmware_day": data[2],
        }

    def encode(self, values: Values) -> bytes:
        if not all(k in values for k in self.keys):
            raise _missing(*self.keys)
        return bytes(
            (
                _get_int(values, "firmware_year", 2000, 2255) - 2000,
                _get_int(values, "firmware_month", 1, 256) - 1,
                _get_int(values, "firmware_day", 0, 255),
            )
        )


class CommodityCodeByte(Field):
    """Commodity code byte: low 7 bits ``code``, bit 7 ``measured`` (docs/cta2045.md §13 row 2)."""

    keys = ("code", "commodity", "measured", "instantaneous_unit", "cumulative_unit")
    types: Mapping[str, str] = {
        "code": "CommodityCode | int",
        "commodity": "str",
        "measured": "bool",
        "instantaneous_unit": "str | None",
        "cumulative_unit": "str | None",
    }
    _CODES: Mapping[int, enc.CommodityCode] = {c.value: c for c in enc.CommodityCode}

    def decode(self, data: bytes) -> dict[str, object]:
        code = data[0] & 0x7F
        rate_unit, amount_unit = enc.COMMODITY_UNITS.get(code, (None, None))
        member = self._CODES.get(code)
        return {
            "code": code if member is None else member,
            "commodity": enc.UNKNOWN_NAME if member is None else member.name,
            "measured": bool(data[0] & enc.COMMODITY_MEASURED_BIT),
            "instantaneous_unit": rate_unit,
            "cumulative_unit": amount_unit,
        }

    def encode(self, values: Values) -> bytes:
        if "code" not in values:
            raise _missing("code")
        code = _get_int(values, "code", 0, 0x7F)
        return bytes((code | (enc.COMMODITY_MEASURED_BIT if values.get("measured") else 0),))


class AluAmount(Field):
    """Advanced Load Up value (u16) and units byte: ``value``, ``unit_code``, ``energy_wh``."""

    size = 3
    keys = ("value", "unit_code", "energy_wh")
    types: Mapping[str, str] = {"value": "int", "unit_code": "int", "energy_wh": "int | None"}

    def decode(self, data: bytes) -> dict[str, object]:
        value = int.from_bytes(data[:2], "big")
        per_count = enc.ALU_UNIT_WH.get(data[2])
        energy = None if per_count is None else value * per_count
        return {"value": value, "unit_code": data[2], "energy_wh": energy}

    def encode(self, values: Values) -> bytes:
        if "value" in values and "unit_code" in values:
            value = _get_int(values, "value", 0, 0xFFFF)
            return value.to_bytes(2, "big") + bytes((_get_int(values, "unit_code", 0, 255),))
        if "energy_wh" not in values:
            raise _missing("value and unit_code", "energy_wh")
        if values["energy_wh"] is None:
            return bytes((0, 0, enc.ALU_NOT_ACTIVE))
        wh = _get_number(values, "energy_wh")
        # The finest unit that can hold the amount; the count is rounded up.
        for unit, per_count in sorted(enc.ALU_UNIT_WH.items()):
            count = math.ceil(wh / per_count)
            if 0 <= count <= 0xFFFF:
                return count.to_bytes(2, "big") + bytes((unit,))
        raise MessageEncodeError(f"field energy_wh={wh} is outside 0..65 535 000 Wh")


# --- Layouts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionalGroup:
    """Trailing fields present or absent together (present when any of their keys is given)."""

    fields: tuple[Field, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)


@dataclass(frozen=True)
class Repeated:
    """A run of fixed-size records filling the rest of the payload, under ``key`` as a list."""

    key: str
    fields: tuple[Field, ...]
    min_count: int = 0
    #: Name of the generated class of one record.
    record_class: str = "Record"

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)


@dataclass(frozen=True)
class Layout:
    """Fixed fields, then optional groups or one repeated run, after the opcodes."""

    fixed: tuple[Field, ...] = ()
    optional: tuple[OptionalGroup, ...] = ()
    repeated: Repeated | None = None
    _fixed_size: int = field(init=False, default=0)
    _lengths: tuple[int, ...] = field(init=False, default=())
    _keys: tuple[str, ...] = field(init=False, default=())
    #: The keys as a set, for the check of unknown keys on every encode.
    key_set: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        if self.optional and self.repeated:
            raise ValueError("a layout has optional groups or a repeated run, not both")
        fixed_size = sum(f.size for f in self.fixed)
        sizes = [fixed_size]
        for group in self.optional:
            sizes.append(sizes[-1] + group.size)
        object.__setattr__(self, "_fixed_size", fixed_size)
        object.__setattr__(self, "_lengths", () if self.repeated else tuple(sizes))
        keys = [k for f in self.fixed for k in f.keys]
        keys += [k for group in self.optional for f in group.fields for k in f.keys]
        if self.repeated:
            keys.append(self.repeated.key)
        object.__setattr__(self, "_keys", tuple(keys))
        object.__setattr__(self, "key_set", frozenset(keys))

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def lengths(self) -> tuple[int, ...]:
        """Accepted data lengths when fixed (empty for a repeated run)."""
        return self._lengths

    def describe_lengths(self, offset: int = 0) -> str:
        if self.repeated:
            base = offset + self._fixed_size + self.repeated.min_count * self.repeated.size
            return f"{base} + {self.repeated.size}·N"
        return " or ".join(str(offset + n) for n in self.lengths())

    def fits(self, length: int) -> bool:
        if self.repeated:
            rest = length - self._fixed_size
            size = self.repeated.size
            return rest >= self.repeated.min_count * size and rest % size == 0
        return length in self._lengths

    def decode(self, data: bytes) -> dict[str, object]:
        if not self.fits(len(data)):
            raise PayloadLengthError(
                f"{len(data)} data byte(s), expected {self.describe_lengths()}"
            )
        out: dict[str, object] = {}
        pos = 0
        pos = _decode_fields(self.fixed, data, pos, out)
        for group in self.optional:
            if pos >= len(data):
                break
            pos = _decode_fields(group.fields, data, pos, out)
        if self.repeated:
            records = []
            while pos < len(data):
                record: dict[str, object] = {}
                pos = _decode_fields(self.repeated.fields, data, pos, record)
                records.append(record)
            out[self.repeated.key] = records
        return out

    def encode(self, values: Values) -> bytes:
        chunks = [f.encode(values) for f in self.fixed]
        absent: OptionalGroup | None = None
        for group in self.optional:
            present = any(k in values for f in group.fields for k in f.keys)
            if not present:
                absent = absent or group
                continue
            if absent is not None:
                raise MessageEncodeError(
                    f"optional fields {_group_keys(group)} need {_group_keys(absent)} too"
                )
            chunks += [f.encode(values) for f in group.fields]
        if self.repeated:
            chunks += self._encode_records(values)
        return b"".join(chunks)

    def _encode_records(self, values: Values) -> list[bytes]:
        assert self.repeated is not None
        key = self.repeated.key
        records = values.get(key, [])
        if not isinstance(records, Sequence) or isinstance(records, str | bytes):
            raise MessageEncodeError(f"field {key} must be a list of records")
        if len(records) < self.repeated.min_count:
            raise MessageEncodeError(f"field {key} needs at least {self.repeated.min_count}")
        chunks = []
        for record in records:
            if not isinstance(record, Mapping):
                raise MessageEncodeError(f"each record of {key} must be a mapping")
            chunks += [f.encode(record) for f in self.repeated.fields]
        return chunks


def _decode_fields(fields: Sequence[Field], data: bytes, pos: int, out: dict[str, object]) -> int:
    for f in fields:
        out.update(f.decode(data[pos : pos + f.size]))
        pos += f.size
    return pos


def _group_keys(group: OptionalGroup) -> str:
    return ", ".join(f.keys[0] for f in group.fields)
