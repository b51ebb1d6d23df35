"""``ven-edge check``: the installer's pass/fail checklist before leaving the house.

Each check is an async function taking a ``CheckContext`` and returning a ``CheckOutcome``;
``CHECKS`` lists them in order. A check may name checks it ``requires``: when one of those did not
pass, it is skipped with the reason rather than failing twice. Every failure carries the fix in
plain words. The exit status is non-zero when any check failed or could not run because this build
lacks the code for it (``missing``): a checklist never reports a pass it did not earn.

To add a check: write ``async def check_x(ctx: CheckContext) -> CheckOutcome`` and append
``Check("name", check_x, group=..., requires=(...))`` to ``CHECKS``. ``group`` "serial" and
"network" checks are skipped by ``--skip-serial`` and ``--skip-network``.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import grp
import os
import pwd
import stat
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from ven_edge.clocksync import ClockSync, SystemClockSync
from ven_edge.config import (
    MAX_KEY_BYTES,
    Config,
    ConfigError,
    VtnConfig,
    load_config,
    secret_file_problem,
)
from ven_edge.oadr3.errors import Oadr3Error
from ven_edge.paths import config_path
from ven_edge.redact import redact_text, redact_url

if TYPE_CHECKING:
    from ven_edge.oadr3.client import VtnClient

CheckStatus = Literal["pass", "fail", "skip", "missing"]
Group = Literal["local", "serial", "network"]

# How long one check may take before it counts as failed (the VTN checks also have their own
# request timeout from the config).
CHECK_TIMEOUT_S = 60.0

# The system user the Debian package creates (debian/ven-edge.sysusers) and the service runs as.
SERVICE_USER = "ven-edge"

# How long the heater may take to answer commissioning (it retries the port meanwhile).
COMMISSION_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class CheckOutcome:
    status: CheckStatus
    detail: str
    fix: str = ""

    @classmethod
    def passed(cls, detail: str) -> CheckOutcome:
        return cls("pass", detail)

    @classmethod
    def failed(cls, detail: str, fix: str) -> CheckOutcome:
        return cls("fail", detail, fix)

    @classmethod
    def skipped(cls, detail: str) -> CheckOutcome:
        return cls("skip", detail)


@dataclass
class CheckContext:
    """What checks share: the file, its parsed config (None while invalid) and the CLI flags."""

    config_path: Path
    config: Config | None = None
    skip_serial: bool = False
    skip_network: bool = False
    commission_timeout_s: float = COMMISSION_TIMEOUT_S
    #: Whether the system clock is synchronised (tests decide it).
    clock_sync: ClockSync = field(default_factory=SystemClockSync)
    # Free-form results a check hands to a later one (e.g. an open session); keyed by check name.
    shared: dict[str, object] = field(default_factory=dict)


CheckFunction = Callable[[CheckContext], Awaitable[CheckOutcome]]


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFunction
    group: Group = "local"
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: CheckOutcome


# --------------------------------------------------------------------------------------------------
# Local checks


async def check_config(ctx: CheckContext) -> CheckOutcome:
    try:
        ctx.config = load_config(ctx.config_path)
    except ConfigError as exc:
        return CheckOutcome.failed(
            "\n".join(exc.problems), f"edit {ctx.config_path} as each line says, then run again"
        )
    return CheckOutcome.passed(str(ctx.config_path))


async def check_secret(ctx: CheckContext) -> CheckOutcome:
    config = _config(ctx)
    vtn = config.vtn
    key = vtn.oadr2b.client_key
    if vtn.protocol == "2.0b" and key is not None:
        problem = secret_file_problem(key, max_bytes=MAX_KEY_BYTES, holding="a private key")
        if problem is not None:  # changed since the config check read it
            return CheckOutcome.failed(f"{key}: {problem}", "see above")
        return CheckOutcome.passed(f"2.0b client key {key} is readable only by its owner and group")
    if vtn.client_secret_file is not None:
        problem = secret_file_problem(vtn.client_secret_file)
        if problem is not None:  # changed since the config check read it
            return CheckOutcome.failed(f"{vtn.client_secret_file}: {problem}", "see above")
        return CheckOutcome.passed(
            f"{vtn.client_secret_file} is readable only by its owner and group"
        )
    if vtn.client_secret is not None:
        mode = stat.S_IMODE(ctx.config_path.stat().st_mode)
        if mode & (stat.S_IRWXO | stat.S_IWGRP):
            return CheckOutcome.failed(
                f"the client secret is inside {ctx.config_path} (mode {mode:04o}), "
                "which other users can read",
                "move it to a file: install -m 0640 -o root -g ven-edge /dev/null "
                "/etc/ven-edge/client-secret, put the secret in it, replace client_secret with "
                'client_secret_file = "/etc/ven-edge/client-secret"',
            )
        return CheckOutcome.passed(f"client secret inside {ctx.config_path} (mode {mode:04o})")
    return CheckOutcome.skipped("no client secret configured (the VTN is used without a token)")


async def check_state_dir(ctx: CheckContext) -> CheckOutcome:
    directory = _config(ctx).state.dir
    fix = (
        f"create it: install -d -o ven-edge -g ven-edge -m 0750 {directory} "
        "(systemd also creates it when ven-edge starts)"
    )
    if not directory.is_dir():
        return CheckOutcome.failed(f"{directory} does not exist", fix)
    try:
        # Only writing proves it: os.access() says yes to root and ignores read-only mounts.
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".check-"):
            pass
    except OSError as exc:
        return CheckOutcome.failed(
            f"cannot write in {directory} ({exc.strerror})",
            f"chown ven-edge:ven-edge {directory} && chmod 0750 {directory}",
        )
    return CheckOutcome.passed(f"{directory} is writable")


async def check_clock(ctx: CheckContext) -> CheckOutcome:
    """The daemon plans, commands and reports only on a synchronised clock (docs/gateway.md,
    "Clock"): an installation left with an unsynchronised one does nothing useful."""
    if not _config(ctx).clock.require_sync:
        return CheckOutcome.skipped("not required (clock.require_sync = false)")
    sync = ctx.clock_sync
    if sync.synchronised():
        return CheckOutcome.passed(sync.explain())
    return CheckOutcome.failed(
        f"{sync.explain()}: ven-edge will not plan, command the heater or report until it is",
        "enable NTP (timedatectl set-ntp true) and let the gateway reach an NTP server "
        "(UDP port 123); timedatectl then shows 'System clock synchronized: yes'",
    )


# --------------------------------------------------------------------------------------------------
# Serial checks


async def check_serial_port(ctx: CheckContext) -> CheckOutcome:
    return await asyncio.to_thread(probe_serial_port, Path(_config(ctx).heater.port))


def probe_serial_port(port: Path) -> CheckOutcome:
    """Open the port the way the daemon will (read/write, not as controlling terminal)."""
    if not port.exists():
        return CheckOutcome.failed(
            f"{port} does not exist",
            "plug in the CTA-2045 adapter, then find its name with `ls /dev/serial/by-id/` "
            "and set heater.port",
        )
    if not stat.S_ISCHR(port.stat().st_mode):
        return CheckOutcome.failed(
            f"{port} is not a serial device", "set heater.port to a /dev/tty*"
        )
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        return CheckOutcome.failed(f"cannot open {port} ({exc.strerror})", _open_fix(exc, port))
    try:
        if not os.isatty(fd):
            return CheckOutcome.failed(
                f"{port} is not a terminal device", "set heater.port to a tty"
            )
    finally:
        os.close(fd)
    denied = service_user_denied(port, SERVICE_USER)
    if denied is not None:
        return denied
    return CheckOutcome.passed(f"{port} opens for reading and writing")


def service_user_denied(port: Path, user: str) -> CheckOutcome | None:
    """A failure when the service user could not open ``port`` (the check may run as root)."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return None  # not installed as a service (a development checkout): nothing to compare
    info = port.stat()
    read_write = stat.S_IRUSR | stat.S_IWUSR
    if info.st_uid == account.pw_uid and info.st_mode & read_write == read_write:
        return None
    groups = os.getgrouplist(user, account.pw_gid)
    group_rw = stat.S_IRGRP | stat.S_IWGRP
    if info.st_gid in groups and info.st_mode & group_rw == group_rw:
        return None
    other_rw = stat.S_IROTH | stat.S_IWOTH
    if info.st_mode & other_rw == other_rw:
        return None
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return CheckOutcome.failed(
        f"the service user {user} cannot open {port} "
        f"(group {group}, mode {stat.S_IMODE(info.st_mode):04o})",
        f"`usermod -aG {group} {user}` then `systemctl restart ven-edge` "
        "(on Raspberry Pi OS USB adapters can belong to plugdev rather than dialout)",
    )


def _open_fix(exc: OSError, port: Path) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"run the check as root (sudo); `ls -l {port}` shows the group the port needs"
    if exc.errno == errno.EBUSY:
        return "another program holds the port: `systemctl stop ven-edge`, then run again"
    return "check the adapter and its cable, then run again"


async def check_commissioning(ctx: CheckContext) -> CheckOutcome:
    from ven_edge.cta2045.encodings import OperationalState
    from ven_edge.cta2045.ucm import UcmConfig, UcmSession

    heater = _config(ctx).heater
    # No heartbeat, no polling and no End Shed at start: the check reads, it does not command.
    session = UcmSession(
        UcmConfig(
            port=heater.port,
            baudrate=heater.baud,
            heartbeat_s=0,
            poll_s=0,
            end_shed_on_start=False,
            reconnect_max_s=1.0,
        )
    )
    await session.start()
    try:
        try:
            async with asyncio.timeout(ctx.commission_timeout_s):
                await session.wait_ready()
        except TimeoutError:
            link = session.snapshot.link
            return CheckOutcome.failed(
                f"no CTA-2045 answer on {heater.port} within {ctx.commission_timeout_s:g} s "
                f"(last error: {link.last_error or 'none'})",
                "seat the CTA-2045 module in the heater's port and power the heater; check "
                f"the adapter wiring and heater.baud (CTA-2045 default {heater.baud})",
            )
        state = await session.operational_state()
        snapshot = session.snapshot
    finally:
        await session.stop()
    if not state.ok or snapshot.operational_state is None:
        return CheckOutcome.failed(
            f"the heater did not report its operational state ({state.status.value}"
            f"{': ' + state.reason_text if state.reason_text else ''})",
            "power-cycle the heater, then run again; if it persists the module needs service",
        )
    try:
        state_text = OperationalState(snapshot.operational_state).name.lower().replace("_", " ")
    except ValueError:
        state_text = f"code {snapshot.operational_state}"
    info = snapshot.device_info
    if info is None:
        device = "device information: not supported by this heater"
    else:
        parts = [f"vendor {info.vendor_id:#06x}", f"type {info.device_type:#06x}"]
        parts += [
            f"{k} {v}"
            for k, v in (
                ("model", info.model),
                ("serial", info.serial),
                ("firmware", info.firmware),
            )
            if v
        ]
        device = "device: " + ", ".join(parts) + f", CTA-2045 {info.cta_version}"
    return CheckOutcome.passed(f"{device}; operational state: {state_text}")


# --------------------------------------------------------------------------------------------------
# Network checks


async def check_vtn_reachable(ctx: CheckContext) -> CheckOutcome:
    vtn = _config(ctx).vtn
    if vtn.url is None:
        return CheckOutcome.skipped("no vtn.url configured: the heater runs in normal mode")
    shown = redact_url(vtn.url)
    if vtn.protocol == "2.0b":
        return await _check_oadr2b_vtn(vtn, shown or "")
    import ssl

    import aiohttp

    ssl_context: ssl.SSLContext | bool = False
    if vtn.url.startswith("https:"):
        ssl_context = ssl.create_default_context(
            cafile=str(vtn.ca_file) if vtn.ca_file is not None else None
        )
        if not vtn.verify_tls:
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
    timeout = aiohttp.ClientTimeout(total=vtn.request_timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(vtn.url, ssl=ssl_context, allow_redirects=False) as response,
        ):
            status = response.status
    except aiohttp.ClientConnectorCertificateError as exc:
        return CheckOutcome.failed(
            f"{shown}: the TLS certificate is not trusted ({exc.certificate_error})",
            "ask the utility for its CA certificate and set vtn.ca_file to it",
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return CheckOutcome.failed(
            f"{shown}: no answer ({type(exc).__name__}: {redact_text(str(exc))})",
            "check vtn.url, the gateway's network and DNS (`getent hosts HOST`) and the firewall",
        )
    if status >= 500:
        return CheckOutcome.failed(
            f"{shown}: the server answered HTTP {status}",
            "the VTN has a problem: ask the utility",
        )
    return CheckOutcome.passed(f"{shown} answered HTTP {status}")


async def check_vtn_token(ctx: CheckContext) -> CheckOutcome:
    vtn = _config(ctx).vtn
    if (skip := _openadr3_only(vtn)) is not None:
        return skip
    if vtn.url is None:
        return CheckOutcome.skipped("no vtn.url configured")
    if vtn.client_id is None or vtn.client_secret is None:
        return CheckOutcome.skipped("no vtn.client_id: the VTN is used without a token")
    from ven_edge.oadr3.errors import VtnAuthError

    try:
        async with _vtn_client(vtn) as client:
            await client.ensure_token()
            # A token alone proves the credentials; reading programs proves they grant access.
            programs = await client.fetch_programs()
    except VtnAuthError as exc:
        return CheckOutcome.failed(
            f"the VTN refused the credentials of client {vtn.client_id} ({exc})",
            "check vtn.client_id and the secret file against what the utility issued",
        )
    except Oadr3Error as exc:
        return CheckOutcome.failed(
            f"no token from {redact_url(vtn.url)} ({exc})",
            "check vtn.url (including its /openadr3/... base path) and vtn.version",
        )
    names = sorted(str(p.get("programName", "?")) for p in programs)
    shown = ": " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") if names else ""
    return CheckOutcome.passed(
        f"token for {vtn.client_id}; {len(programs)} program(s) visible{shown}"
    )


async def check_vtn_version(ctx: CheckContext) -> CheckOutcome:
    vtn = _config(ctx).vtn
    if (skip := _openadr3_only(vtn)) is not None:
        return skip
    if vtn.url is None:
        return CheckOutcome.skipped("no vtn.url configured")
    try:
        async with _vtn_client(vtn) as client:
            spoken = await client.detect_version()
    except Oadr3Error as exc:
        return CheckOutcome.failed(
            f"{redact_url(vtn.url)} did not say which OpenADR version it speaks ({exc})",
            "check vtn.url (including its /openadr3/... base path), then run again",
        )
    if spoken is None:
        return CheckOutcome.passed(f"vtn.version {vtn.version} (the VTN's endpoints do not tell)")
    if spoken != vtn.version:
        # Definition 3.1.0 changeLog: 3.1 is not backward compatible; the VTN refuses a
        # registration in the other version's shape (docs/openadr3.md §9, quirk 20).
        return CheckOutcome.failed(
            f"the VTN speaks OpenADR {spoken} but vtn.version is {vtn.version!r}: it would "
            "refuse this gateway's registration",
            f'set vtn.version = "{spoken}" in {ctx.config_path}, then run again',
        )
    return CheckOutcome.passed(f"the VTN speaks OpenADR {spoken}, as configured")


async def check_vtn_registration(ctx: CheckContext) -> CheckOutcome:
    vtn = _config(ctx).vtn
    if (skip := _openadr3_only(vtn)) is not None:
        return skip
    if vtn.url is None or vtn.client_id is None:
        return CheckOutcome.skipped("no vtn.client_id: the gateway does not register")
    try:
        # What the daemon does at start-up (finds or creates its VEN and resource by name).
        async with _vtn_client(vtn) as client:
            registration = await client.register()
    except Oadr3Error as exc:
        return CheckOutcome.failed(
            f"the VTN refused to register ven {vtn.ven_name!r} ({exc})",
            "ask the utility whether this client may register a VEN, and check vtn.version",
        )
    return CheckOutcome.passed(
        f"ven {vtn.ven_name!r} is {registration.ven_id}, "
        f"resource {vtn.resource_name!r} is {registration.resource_id}"
    )


async def _check_oadr2b_vtn(vtn: VtnConfig, shown: str) -> CheckOutcome:
    """A 2.0b VTN answers oadrQueryRegistration over the configured TLS, pin and signatures."""
    from datetime import UTC, datetime

    from ven_edge.oadr2b.errors import MessageError
    from ven_edge.oadr2b.vtnhttp import ExchangeError
    from ven_edge.oadr2b_port import query_vtn

    try:
        answer = await query_vtn(vtn, lambda: datetime.now(UTC))
    except (ExchangeError, MessageError) as exc:
        return CheckOutcome.failed(
            f"{shown}: no usable 2.0b answer ({redact_text(str(exc))})",
            "check vtn.url (the simpleHttp base, e.g. .../OpenADR2/Simple/2.0b), vtn.ca_file, "
            "[vtn.oadr2b] and the firewall",
        )
    poll = "" if answer.poll_freq is None else f", poll every {answer.poll_freq}"
    return CheckOutcome.passed(f"{shown}: 2.0b VTN {answer.vtn_id!r} answered{poll}")


def _openadr3_only(vtn: VtnConfig) -> CheckOutcome | None:
    if vtn.protocol == "2.0b":
        return CheckOutcome.skipped('OpenADR 3 only (vtn.protocol = "2.0b")')
    return None


def _vtn_client(vtn: VtnConfig) -> VtnClient:
    """A client set up as the daemon's (imported here: the local checks need none of it)."""
    from ven_edge.grid_port import vtn_settings
    from ven_edge.oadr3.client import VtnClient

    return VtnClient(vtn_settings(vtn))


CHECKS: tuple[Check, ...] = (
    Check("configuration is valid", check_config),
    Check("client secret is private", check_secret, requires=("configuration is valid",)),
    Check("state directory is writable", check_state_dir, requires=("configuration is valid",)),
    # Network time (NTP) sets it: skipped with the other network checks where there is none.
    Check(
        "system clock is synchronised",
        check_clock,
        group="network",
        requires=("configuration is valid",),
    ),
    Check(
        "serial port opens", check_serial_port, group="serial", requires=("configuration is valid",)
    ),
    Check(
        "CTA-2045 commissioning (device information, operational state)",
        check_commissioning,
        group="serial",
        requires=("serial port opens",),
    ),
    Check(
        "VTN is reachable",
        check_vtn_reachable,
        group="network",
        requires=("configuration is valid",),
    ),
    Check(
        "VTN token obtained",
        check_vtn_token,
        group="network",
        requires=("VTN is reachable", "client secret is private"),
    ),
    Check(
        "VTN speaks the configured OpenADR version",
        check_vtn_version,
        group="network",
        requires=("VTN token obtained",),
    ),
    Check(
        "VTN accepts the registration",
        check_vtn_registration,
        group="network",
        requires=("VTN speaks the configured OpenADR version",),
    ),
)


def _config(ctx: CheckContext) -> Config:
    # Every check but the first requires it, so the runner guarantees a parsed config here.
    assert ctx.config is not None
    return ctx.config


# --------------------------------------------------------------------------------------------------
# Running and printing


async def run_checks(ctx: CheckContext, checks: Sequence[Check] = CHECKS) -> list[CheckResult]:
    """Run ``checks`` in order; a check whose requirements did not pass is skipped."""
    results: list[CheckResult] = []
    # A requirement is met by a pass or a "not applicable" skip, but not by a check that was
    # itself skipped for want of its own requirements.
    met: set[str] = set()
    for check in checks:
        outcome = await _run_one(ctx, check, met)
        results.append(CheckResult(check.name, outcome))
    return results


async def _run_one(ctx: CheckContext, check: Check, met: set[str]) -> CheckOutcome:
    if check.group == "serial" and ctx.skip_serial:
        return CheckOutcome.skipped("--skip-serial")
    if check.group == "network" and ctx.skip_network:
        return CheckOutcome.skipped("--skip-network")
    blocked = [r for r in check.requires if r not in met]
    if blocked:
        return CheckOutcome.skipped(f"needs: {', '.join(blocked)}")
    try:
        outcome = await asyncio.wait_for(check.run(ctx), CHECK_TIMEOUT_S)
    except TimeoutError:
        return CheckOutcome.failed(
            "took too long", "check the cable or the network, then run again"
        )
    if outcome.status in ("pass", "skip"):
        met.add(check.name)
    return outcome


_LABEL: dict[CheckStatus, str] = {
    "pass": "PASS",
    "fail": "FAIL",
    "skip": "SKIP",
    "missing": "MISSING",
}


def print_report(results: Sequence[CheckResult], out: TextIO) -> bool:
    """Print the checklist; True when nothing failed or was missing."""
    for result in results:
        outcome = result.outcome
        lines = outcome.detail.splitlines() or [""]
        print(f"[{_LABEL[outcome.status]:^7}] {result.name}: {lines[0]}", file=out)
        for line in lines[1:]:
            print(f"{'':10}{line}", file=out)
        if outcome.fix:
            print(f"{'':10}fix: {outcome.fix}", file=out)
    counts = {s: sum(r.outcome.status == s for r in results) for s in _LABEL}
    ok = counts["fail"] == 0 and counts["missing"] == 0
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    print(f"{'OK' if ok else 'NOT READY'}: {summary}", file=out)
    return ok


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check the configuration, the heater link and the VTN (for installers)",
        description="Pass/fail checklist for an installation; exits non-zero when anything fails.",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help=f"TOML file (default: {config_path()})"
    )
    parser.add_argument("--skip-serial", action="store_true", help="do not touch the serial port")
    parser.add_argument("--skip-network", action="store_true", help="do not contact the VTN")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    ctx = CheckContext(
        config_path=args.config if args.config is not None else config_path(),
        skip_serial=args.skip_serial,
        skip_network=args.skip_network,
    )
    results = asyncio.run(run_checks(ctx))
    return 0 if print_report(results, sys.stdout) else 1
