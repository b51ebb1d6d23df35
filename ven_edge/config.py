"""The gateway's configuration: one TOML file → frozen dataclasses.

Every key has a default, so an empty file (or none) gives a working configuration. Errors are meant
for installers: each names the key, the value found and what to write instead, for example
``heater.heartbeat_s = 1200: must be at most 900 (CTA-2045 outside-comm heartbeat ≤ 15 min)``.
All problems in a file are reported at once, and unknown keys get a did-you-mean.

The schema is the dataclasses below: a field's type says what TOML value it accepts (``Literal`` for
a choice), and ``_rule()`` metadata adds bounds with the reason for them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import ssl
import stat
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union
from urllib.parse import urlsplit

from ven_edge.paths import DEFAULT_STATE_DIR

# CTA-2045 Outside Communication Connection Status (basic opcode 0x0E) is the UCM heartbeat; an SGD
# may end curtailment when it hears none for 15 minutes (IntwineConnect UCM REST API document §1).
CTA2045_MAX_HEARTBEAT_S = 900
# The CTA-2045 default serial format is 19200 baud 8N1; faster rates only after data-link opcode
# 0x17 negotiation (EPRI CTA-2045 UCM library, CEA2045SerialPort.cpp).
CTA2045_DEFAULT_BAUD = 19_200
# OpenADR 3 specification versions the client speaks (docs/openadr3.md §9).
OPENADR3_VERSIONS = ("3.1.0", "3.0.1")

# A client secret is a short token; anything bigger is the wrong file.
MAX_SECRET_BYTES = 4096
# A PEM private key with its chain fits in this; anything bigger is the wrong file.
MAX_KEY_BYTES = 65_536
# Modes a secret file may have: owner read/write, group read at most (0600, 0640, 0400, 0440).
_SECRET_FORBIDDEN_BITS = stat.S_IWGRP | stat.S_IXGRP | stat.S_IRWXO | stat.S_IXUSR


class ConfigError(ValueError):
    """The configuration cannot be used; ``problems`` lists each bad key with its fix."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        heading = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(heading + "".join(f"\n  {p}" for p in self.problems))


class Secret:
    """A credential that never appears in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: call this only where it goes on the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _rule(
    *,
    ge: float | None = None,
    le: float | None = None,
    why: str = "",
    path_must_exist: bool = False,
) -> dict[str, Any]:
    return {"ge": ge, "le": le, "why": why, "path_must_exist": path_must_exist}


@dataclass(frozen=True)
class WebhookConfig:
    """[vtn.webhook]: the gateway's endpoint for the VTN's notifications (docs/openadr3.md §8)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = field(default=8081, metadata=_rule(ge=1, le=65535, why="a TCP port"))
    # The URL the VTN calls; it differs from host:port behind NAT or a reverse proxy.
    public_url: str | None = None


@dataclass(frozen=True)
class Oadr2bConfig:
    """[vtn.oadr2b]: what only OpenADR 2.0b mode uses (docs/openadr2b.md). Over https all four
    are required: mutual TLS with this client certificate, the CA is ``vtn.ca_file``."""

    client_cert: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    # The private key of client_cert: mode 0600 or 0640, like a client secret file.
    client_key: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    # The VTN certificate's 2.0b fingerprint: the last 10 bytes of SHA-256 over its DER form,
    # colon-separated hex (digest §3.3), e.g. "ED:10:3F:AA:1F:1A:75:F8:F3:81".
    vtn_fingerprint: str | None = None
    # Sign every message with client_key (XML signature, profile §1.7) and require the VTN's
    # messages to be signed by the certificate with vtn_fingerprint.
    signatures: bool = True


@dataclass(frozen=True)
class VtnConfig:
    """[vtn]: the utility's OpenADR server. No ``url`` means no VTN: the heater runs normally."""

    url: str | None = None
    # "3" for OpenADR 3 (REST/JSON), "2.0b" for an OpenADR 2.0b VTN (XML, simpleHttp pull).
    protocol: Literal["3", "2.0b"] = "3"
    version: Literal["3.1.0", "3.0.1"] = "3.1.0"
    client_id: str | None = None
    # Prefer client_secret_file: the config file is world-readable, the secret file is not.
    client_secret: Secret | None = None
    client_secret_file: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    ven_name: str = "ven-edge"
    resource_name: str = "water-heater"
    targets: tuple[str, ...] = ()
    poll_interval_s: float = field(
        default=30.0, metadata=_rule(ge=5, le=3600, why="between 5 s and 1 h")
    )
    verify_tls: bool = True
    ca_file: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    request_timeout_s: float = field(default=20.0, metadata=_rule(ge=1, le=300))
    # Subscribe by MQTT when the VTN offers it (3.1.0 GET /notifiers); webhook and polling remain.
    mqtt: bool = True
    # The CERTIFICATE method (mqtts with a client certificate): this gateway's certificate and
    # key (a secret: mode 0600 or 0640), and the CA of the broker's certificate (default ca_file).
    mqtt_cert_file: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    mqtt_key_file: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    mqtt_ca_file: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    oadr2b: Oadr2bConfig = field(default_factory=Oadr2bConfig)


@dataclass(frozen=True)
class HeaterConfig:
    """[heater]: the CTA-2045 port of the water heater."""

    port: str = "/dev/ttyUSB0"
    baud: int = field(default=CTA2045_DEFAULT_BAUD, metadata=_rule(ge=1200, le=115_200))
    heartbeat_s: float = field(
        default=60.0,
        metadata=_rule(
            ge=1, le=CTA2045_MAX_HEARTBEAT_S, why="CTA-2045 outside-comm heartbeat ≤ 15 min"
        ),
    )
    poll_s: float = field(default=60.0, metadata=_rule(ge=1, le=3600))
    # A heater model (JSON, like sample_data/hpwh_models/*.json); none means the planner's defaults.
    model: Path | None = field(default=None, metadata=_rule(path_must_exist=True))
    # A thermostatic mixing valve is fitted at the outlet: only then may the gateway raise the
    # user's set point to store heat (docs/gateway.md, "Set points").
    mixing_valve: bool = False
    # The highest set point the gateway ever asks for; 60 °C (140 °F) is where US heaters stop.
    max_set_point_c: float = field(default=60.0, metadata=_rule(ge=40, le=80))


@dataclass(frozen=True)
class PlanConfig:
    """[plan]: how the scheduler turns signals into a heating plan."""

    step_minutes: int = field(
        default=15, metadata=_rule(ge=1, le=60, why="a plan step of 1 to 60 minutes")
    )
    horizon_hours: int = field(default=24, metadata=_rule(ge=1, le=72))
    strategy: Literal["state", "fraction", "percentile"] = "state"
    # Energy always kept in the tank for the household, whatever the prices.
    reserve_kwh: float = field(default=2.0, metadata=_rule(ge=0, le=100))
    # None: learn it from the heater (CTA-2045 commodity read) or the model file.
    tank_capacity_kwh: float | None = field(default=None, metadata=_rule(ge=0.1, le=200))
    # 43 °C (110 °F): the lowest delivered temperature the plan accepts (docs/hpwh.md §5.2).
    min_delivery_c: float = field(default=43.0, metadata=_rule(ge=30, le=70))
    # Least expected saving (in the prices' unit, over the horizon) for a plan to be followed
    # rather than normal mode, and for a re-plan to change the price-plan command
    # (docs/planner.md, "A calm plan").
    min_saving: float = field(default=0.01, metadata=_rule(ge=0, le=100))
    # Least heat (kWh) a re-plan must move between steps to change the price-plan command.
    min_shift_kwh: float = field(default=0.5, metadata=_rule(ge=0, le=100))


@dataclass(frozen=True)
class ReportsConfig:
    """[reports]: reports sent to the VTN when no event asks for a different cadence."""

    cadence_s: float = field(default=900.0, metadata=_rule(ge=60, le=86_400))


@dataclass(frozen=True)
class WebConfig:
    """[web]: the read-only status page."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = field(default=8080, metadata=_rule(ge=1, le=65535, why="a TCP port"))


@dataclass(frozen=True)
class StateConfig:
    """[state]: where the daemon persists signals, the plan, the report buffer and ids."""

    dir: Path = DEFAULT_STATE_DIR


@dataclass(frozen=True)
class ClockConfig:
    """[clock]: plan and report only on a synchronised clock (docs/gateway.md, "Clock")."""

    require_sync: bool = True


@dataclass(frozen=True)
class LogConfig:
    """[log]"""

    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class Config:
    """The whole file. ``Config()`` is the embedded default the daemon runs on."""

    # The layout of the file (docs/configuration.md): a later release that changes the meaning of
    # a key raises it, and this one then refuses the file by name instead of misreading it.
    version: int = field(
        default=1,
        metadata=_rule(ge=1, le=1, why="this release reads version 1; the file is for a newer one"),
    )
    vtn: VtnConfig = field(default_factory=VtnConfig)
    heater: HeaterConfig = field(default_factory=HeaterConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    state: StateConfig = field(default_factory=StateConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    log: LogConfig = field(default_factory=LogConfig)


# --------------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML file; raise ``ConfigError`` listing every problem."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            str(source), ["file not found: create it from /etc/ven-edge/ven-edge.toml"]
        ) from None
    except OSError as exc:
        raise ConfigError(str(source), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(source), [f"not UTF-8 text (byte {exc.start})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(source), [f"not valid TOML: {exc}"]) from None
    return parse_config(data, source=str(source), base_dir=source.parent)


def parse_config(
    data: Mapping[str, Any], *, source: str = "<config>", base_dir: Path | None = None
) -> Config:
    """Validate already-parsed TOML; relative paths are taken relative to ``base_dir``."""
    loader = _Loader(base_dir or Path.cwd())
    config = loader.build(Config, data, prefix="")
    if not loader.problems:
        loader.check_cross_fields(config)
    if loader.problems:
        raise ConfigError(source, loader.problems)
    assert isinstance(config, Config)
    return _with_secret_from_file(config, loader, source)


def _with_secret_from_file(config: Config, loader: _Loader, source: str) -> Config:
    secret_file = config.vtn.client_secret_file
    if secret_file is None:
        return config
    secret = loader.read_secret(secret_file)
    if loader.problems:
        raise ConfigError(source, loader.problems)
    return dataclasses.replace(config, vtn=dataclasses.replace(config.vtn, client_secret=secret))


def secret_file_problem(
    path: Path, *, max_bytes: int = MAX_SECRET_BYTES, holding: str = "a client secret"
) -> str | None:
    """Why ``path`` is not a safe secret file, with the command that fixes it; None if it is."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    mode = stat.S_IMODE(info.st_mode)
    if mode & _SECRET_FORBIDDEN_BITS:
        return (
            f"mode {mode:04o} lets other users read or change it; "
            f"run `chmod 0640 {path}` (owner root, group ven-edge) or `chmod 0600 {path}`"
        )
    if info.st_size > max_bytes:
        return f"{info.st_size} bytes is too big for {holding} (limit {max_bytes})"
    return None


class _Loader:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[str] = []

    def fail(self, key: str, value: object, message: str) -> None:
        self.problems.append(f"{key} = {_show(value)}: {message}")

    def build(self, cls: type[Any], data: object, prefix: str) -> Any:
        section = f"[{prefix}]" if prefix else "the top level"
        if not isinstance(data, Mapping):
            self.problems.append(f"{prefix or 'config'}: must be a table like {section}")
            return cls()
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in data:
            if key not in fields:
                self.problems.append(_unknown_key(prefix, key, list(fields)))
        values: dict[str, Any] = {}
        for name, spec in fields.items():
            if name not in data:
                continue
            dotted = f"{prefix}.{name}" if prefix else name
            value = self.convert(dotted, hints[name], data[name], spec.metadata)
            if value is not _INVALID:
                values[name] = value
        return cls(**values)

    def convert(self, key: str, hint: Any, value: object, meta: Mapping[str, Any]) -> Any:
        if dataclasses.is_dataclass(hint):
            return self.build(typing.cast(type[Any], hint), value, key)
        optional, hint = _strip_optional(hint)
        if optional and isinstance(value, str) and value == "":
            return None  # an empty string is how TOML (which has no null) says "not set"
        origin = typing.get_origin(hint)
        if origin is Literal:
            choices = typing.get_args(hint)
            if value not in choices:
                listed = ", ".join(f'"{c}"' for c in choices)
                suggestion = _did_you_mean(str(value), [str(c) for c in choices])
                self.fail(key, value, f"must be one of {listed}{suggestion}")
                return _INVALID
            return value
        if origin is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.fail(key, value, 'must be a list of strings, like ["group-1", "feeder-7"]')
                return _INVALID
            return tuple(value)
        if hint is bool:
            if not isinstance(value, bool):
                self.fail(key, value, "must be true or false (without quotes)")
                return _INVALID
            return value
        if hint is int or hint is float:
            return self.number(key, hint, value, meta)
        if hint is str or hint is Secret:
            if not isinstance(value, str):
                self.fail(key, value, "must be a string in quotes")
                return _INVALID
            return Secret(value) if hint is Secret else value
        if hint is Path:
            return self.path(key, value, meta)
        raise TypeError(f"config schema: unsupported type {hint!r} for {key}")  # a schema bug

    def number(self, key: str, hint: type, value: object, meta: Mapping[str, Any]) -> Any:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if hint is int and not is_int:
            hint_text = " (write it without quotes)" if isinstance(value, str) else ""
            self.fail(key, value, f"must be a whole number{hint_text}")
            return _INVALID
        if hint is float and not (is_int or isinstance(value, float)):
            hint_text = " (write it without quotes)" if isinstance(value, str) else ""
            self.fail(key, value, f"must be a number{hint_text}")
            return _INVALID
        number = float(value) if hint is float else value  # type: ignore[arg-type]
        assert isinstance(number, int | float)
        why = f" ({meta['why']})" if meta.get("why") else ""
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(key, value, "must be a finite number")
            return _INVALID
        low, high = meta.get("ge"), meta.get("le")
        if low is not None and number < low:
            self.fail(key, value, f"must be at least {_num(low)}{why}")
            return _INVALID
        if high is not None and number > high:
            self.fail(key, value, f"must be at most {_num(high)}{why}")
            return _INVALID
        return number

    def path(self, key: str, value: object, meta: Mapping[str, Any]) -> Path | object:
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            self.fail(key, value, 'must be a file path in quotes, like "/etc/ven-edge/..."')
            return _INVALID
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        if meta.get("path_must_exist") and not path.exists():
            self.fail(key, value, f"{path} does not exist: fix the path or remove the key")
            return _INVALID
        return path

    def check_cross_fields(self, config: Config) -> None:
        vtn = config.vtn
        if vtn.url is not None:
            parts = urlsplit(vtn.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.fail(
                    "vtn.url", vtn.url, 'must be an http(s) URL like "https://vtn.example/oadr3"'
                )
            elif parts.scheme == "http" and not _is_loopback(parts.hostname):
                self.fail(
                    "vtn.url",
                    vtn.url,
                    "plain http is only allowed to this machine (127.0.0.1, localhost); use https",
                )
        if vtn.client_secret is not None and vtn.client_secret_file is not None:
            self.problems.append(
                "vtn.client_secret and vtn.client_secret_file are both set: keep only "
                "client_secret_file"
            )
        has_secret = vtn.client_secret is not None or vtn.client_secret_file is not None
        if has_secret and vtn.client_id is None:
            self.problems.append("vtn.client_id: missing; a client secret needs its client_id")
        if vtn.client_id is not None and not has_secret:
            self.problems.append(
                "vtn.client_secret_file: missing; vtn.client_id needs a secret "
                "(a file with mode 0640 holding the client secret)"
            )
        if vtn.ca_file is not None and not vtn.verify_tls:
            self.problems.append(
                "vtn.ca_file is set but vtn.verify_tls = false: remove one (verification is on "
                "by default and uses ca_file when given)"
            )
        self.check_mqtt_certificate(vtn)
        if vtn.protocol == "2.0b":
            self.check_oadr2b(vtn)
        hook = vtn.webhook
        if hook.enabled:
            if hook.public_url is None:
                self.problems.append(
                    "vtn.webhook.public_url: missing; set the URL the VTN calls, like "
                    '"https://gateway.example:8081/notify", or set vtn.webhook.enabled = false'
                )
            elif urlsplit(hook.public_url).scheme not in ("http", "https"):
                self.fail("vtn.webhook.public_url", hook.public_url, "must be an http(s) URL")
            if vtn.url is None:
                self.problems.append("vtn.webhook.enabled = true needs vtn.url")
        if (
            hook.enabled
            and config.web.enabled
            and (hook.host, hook.port)
            == (
                config.web.host,
                config.web.port,
            )
        ):
            self.fail(
                "vtn.webhook.port", hook.port, "is also web.port on the same host: pick another"
            )
        if config.plan.step_minutes and 60 % config.plan.step_minutes:
            self.fail(
                "plan.step_minutes",
                config.plan.step_minutes,
                "must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)",
            )
        capacity = config.plan.tank_capacity_kwh
        if capacity is not None and config.plan.reserve_kwh >= capacity:
            self.fail(
                "plan.reserve_kwh",
                config.plan.reserve_kwh,
                f"must be less than plan.tank_capacity_kwh ({_num(capacity)})",
            )

    def check_mqtt_certificate(self, vtn: VtnConfig) -> None:
        """The CERTIFICATE method's files: both or neither, the key private, the pair usable (a
        key not matching its certificate is said now, not at the first MQTT connect)."""
        cert, key = vtn.mqtt_cert_file, vtn.mqtt_key_file
        if (cert is None) != (key is None):
            self.problems.append(
                "vtn.mqtt_cert_file and vtn.mqtt_key_file go together (the client certificate "
                "and its private key, PEM): set both or neither"
            )
            return
        if cert is None or key is None:
            return
        problem = secret_file_problem(key, max_bytes=MAX_KEY_BYTES, holding="a private key")
        if problem is not None:
            self.fail("vtn.mqtt_key_file", str(key), problem)
            return
        try:
            ssl.create_default_context().load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            self.fail(
                "vtn.mqtt_key_file",
                str(key),
                f"not usable with vtn.mqtt_cert_file {cert} (PEM certificate and its unencrypted "
                f"private key): {exc}",
            )

    def check_oadr2b(self, vtn: VtnConfig) -> None:
        """2.0b over https is mutual TLS with the VTN's fingerprint pinned; plain http (lab
        mode) is only allowed to this machine, which the URL check above enforces."""
        if vtn.url is None:
            self.problems.append('vtn.protocol = "2.0b" needs vtn.url (the VTN\'s 2.0b base URL)')
            return
        if vtn.webhook.enabled:
            self.problems.append(
                "vtn.webhook.enabled = true: a 2.0b VEN pulls (profile rule 37); remove it"
            )
        opts = vtn.oadr2b
        if urlsplit(vtn.url).scheme != "https":
            return
        missing = [
            name
            for name, value in (
                ("vtn.ca_file", vtn.ca_file),
                ("vtn.oadr2b.client_cert", opts.client_cert),
                ("vtn.oadr2b.client_key", opts.client_key),
                ("vtn.oadr2b.vtn_fingerprint", opts.vtn_fingerprint),
            )
            if value is None
        ]
        for name in missing:
            self.problems.append(f"{name}: missing; 2.0b over https is mutual TLS and needs it")
        if not vtn.verify_tls:
            self.problems.append("vtn.verify_tls = false: 2.0b over https always verifies the VTN")
        fp = opts.vtn_fingerprint
        # The 2.0b certificate fingerprint: 10 colon-separated hex bytes (digest §3.3). Imported
        # here: OpenADR 3 mode loads nothing of ven_edge.oadr2b (docs/openadr2b.md).
        from ven_edge.oadr2b.tlsconf import is_fingerprint

        if fp is not None and not is_fingerprint(fp):
            self.fail(
                "vtn.oadr2b.vtn_fingerprint",
                fp,
                'must be 10 colon-separated hex bytes, like "ED:10:3F:AA:1F:1A:75:F8:F3:81"',
            )
        if opts.client_key is not None:
            problem = secret_file_problem(
                opts.client_key, max_bytes=MAX_KEY_BYTES, holding="a private key"
            )
            if problem is not None:
                self.fail("vtn.oadr2b.client_key", str(opts.client_key), problem)

    def read_secret(self, path: Path) -> Secret | None:
        key = "vtn.client_secret_file"
        problem = secret_file_problem(path)
        if problem is not None:
            self.fail(key, str(path), problem)
            return None
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(key, str(path), f"cannot read it ({exc})")
            return None
        if not text:
            self.fail(key, str(path), "the file is empty: put the client secret in it")
            return None
        return Secret(text)


_INVALID = object()


def _strip_optional(hint: Any) -> tuple[bool, Any]:
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, hint


def _unknown_key(prefix: str, key: str, known: list[str]) -> str:
    dotted = f"{prefix}.{key}" if prefix else key
    where = f"[{prefix}]" if prefix else "the top level"
    if not known:
        return f"{dotted}: unknown key"
    listed = ", ".join(known)
    return f"{dotted}: unknown key{_did_you_mean(key, known)} (keys in {where}: {listed})"


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib  # only on a configuration error; the running daemon never needs it

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _show(value: object) -> str:
    """A TOML-looking rendering of a value for messages, kept short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(value, Mapping):
        text = "{...}"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
