"""The status the control core reports about its two links and the heater, in the form the status
page serialises (``GET /api/status``, docs/status-api.md).

The grid adapter builds :class:`VtnHealth`; the heater's link health and device information are
read off the one device model (:class:`~ven_edge.cta2045.device.DeviceSnapshot`).
:mod:`ven_edge.web.status` puts them into the page's snapshot. They live below the page so that
the core never imports the web layer (docs/architecture.md). JSON field names are a stable
contract: only ever added, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TypeAlias

from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot
from ven_edge.redact import redact_text, redact_url

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, JSONValue]

TEXT_NOT_CONNECTED = "Heater not connected"
TEXT_NOT_ANSWERING = "Heater not answering"


class SnapshotError(ValueError):
    """A snapshot field has a value the JSON contract cannot carry."""


def require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise SnapshotError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


def json_time(value: datetime | None, tz: tzinfo | None) -> str | None:
    return None if value is None else local_time(value, tz).isoformat(timespec="seconds")


def local_time(value: datetime, tz: tzinfo | None) -> datetime:
    """``value`` in ``tz``, or in the gateway's own local zone when ``tz`` is None."""
    return value.astimezone(tz) if tz is not None else value.astimezone()


@dataclass(frozen=True, slots=True)
class HeaterLinkHealth:
    """The CTA-2045 serial link: port, last good frame, error count since start; ``problem`` says
    in plain words what is wrong when not ok (the port is not open, the heater does not answer)."""

    ok: bool
    port: str | None
    last_frame: datetime | None = None
    errors: int = 0
    problem: str | None = None

    def __post_init__(self) -> None:
        require_aware("heater link last_frame", self.last_frame)

    @classmethod
    def of(cls, device: DeviceSnapshot) -> HeaterLinkHealth:
        """The link as the page shows it: ok only while the heater answers (the session
        un-commissions a heater that fell silent), errors summed since start."""
        link = device.link
        errors = (
            link.timeouts + link.checksum_errors + link.link_naks_received + link.link_naks_sent
        )
        ok = device.ready
        problem = None if ok else TEXT_NOT_ANSWERING if link.connected else TEXT_NOT_CONNECTED
        return cls(
            ok=ok,
            port=link.port or None,
            last_frame=link.last_message_at,
            errors=int(errors),
            problem=problem,
        )

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "ok": self.ok,
            "port": self.port,
            "last_frame": json_time(self.last_frame, tz),
            "errors": self.errors,
            "problem": self.problem,
        }


#: How the VTN's changes reach the gateway (docs/openadr-client.md "MQTT notifications").
PUSH_CHANNELS = ("mqtt", "webhook", "polling")
#: The channel's state: MQTT's (ven_edge.oadr3.mqttpush.MQTT_STATES less "stopped"), a webhook's
#: "subscribed", or "polling" when changes are only polled for.
PUSH_STATES = ("connecting", "connected", "subscribed", "unreachable", "refused", "polling")


@dataclass(frozen=True, slots=True)
class PushHealth:
    """The VTN push channel: MQTT (with its broker's URI, credentials removed), a webhook, or
    polling only; ``since`` when the state began (a broker unreachable since then), ``problem``
    why push is not working (a refused login, a broker not reachable, MQTT not usable)."""

    channel: str
    state: str
    since: datetime | None = None
    broker: str | None = None
    problem: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in PUSH_CHANNELS:
            raise SnapshotError(f"push channel {self.channel!r} is not one of {PUSH_CHANNELS}")
        if self.state not in PUSH_STATES:
            raise SnapshotError(f"push state {self.state!r} is not one of {PUSH_STATES}")
        require_aware("push since", self.since)

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "channel": self.channel,
            "state": self.state,
            "since": json_time(self.since, tz),
            "broker": redact_url(self.broker),
            "problem": redact_text(self.problem),
        }


@dataclass(frozen=True, slots=True)
class VtnHealth:
    """The utility's server (VTN). The URL is shown without credentials, query or fragment.
    ``push`` is how its changes reach the gateway; None without a VTN."""

    ok: bool
    url: str | None
    ven_id: str | None = None
    last_contact: datetime | None = None
    last_error: str | None = None
    push: PushHealth | None = None

    def __post_init__(self) -> None:
        require_aware("vtn last_contact", self.last_contact)

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "ok": self.ok,
            "url": redact_url(self.url),
            "ven_id": self.ven_id,
            "last_contact": json_time(self.last_contact, tz),
            "last_error": redact_text(self.last_error),
            "push": None if self.push is None else self.push.as_json(tz),
        }


# CTA-2045 Device Information device types for water heaters (docs/cta2045.md §9.2).
DEVICE_TYPE_NAMES: dict[int, str] = {
    0x0000: "Unspecified",
    0x0001: "Water heater, gas",
    0x0002: "Water heater, electric",
    0x0003: "Water heater, heat pump",
    0x001B: "Water heater, heat pump (variable capacity)",
    0x001C: "Water heater, phase change",
}


def device_type_name(code: int) -> str:
    return DEVICE_TYPE_NAMES.get(code, f"Device type 0x{code:04X}")


def device_json(info: DeviceInformationReply, commands: str | None) -> JSONObject:
    """What the page shows of the heater's CTA-2045 Device Information reply (docs/cta2045.md
    §9.2, message 01 81) and ``commands``, the DR messages the gateway chose for it (Advanced
    Load Up, set point, or basic with the refusal that made it fall back: docs/gateway.md,
    "Set points")."""
    return {
        "vendor_id": info.vendor_id,
        "device_type": info.device_type,
        "device_type_name": device_type_name(info.device_type),
        "model": info.model,
        "serial": info.serial,
        "firmware": info.firmware,
        "cta2045_version": info.cta_version,
        "commands": commands,
    }


#: What the page says about whose plan runs (docs/status-api.md, ``plan.source``).
_SOURCE_TEXTS = {
    "following": "Following the utility's fleet schedule until {until}",
    "no_schedule": "Own plan: no fleet schedule from the utility",
    "not_started": "Own plan: the fleet schedule starts at {until}",
    "stale": "Own plan: fleet schedule stale since {since}",
    "comfort": "Own plan: the fleet schedule would leave too little hot water",
}


@dataclass(frozen=True, slots=True)
class PlanBasis:
    """Whose plan runs: the utility's fleet schedule or the gateway's own, and why."""

    fleet: bool
    reason: str
    until: datetime | None = None
    since: datetime | None = None

    def __post_init__(self) -> None:
        if self.reason not in _SOURCE_TEXTS:
            raise SnapshotError(f"plan source reason {self.reason!r} is not one of {_SOURCE_TEXTS}")
        require_aware("plan source until", self.until)
        require_aware("plan source since", self.since)

    def text(self, tz: tzinfo | None) -> str:
        def clock(value: datetime | None) -> str:
            return "?" if value is None else local_time(value, tz).strftime("%H:%M")

        return _SOURCE_TEXTS[self.reason].format(until=clock(self.until), since=clock(self.since))

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "fleet": self.fleet,
            "reason": self.reason,
            "until": json_time(self.until, tz),
            "since": json_time(self.since, tz),
            "text": self.text(tz),
        }
