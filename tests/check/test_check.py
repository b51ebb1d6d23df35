"""``ven-edge check``: real files, a real pty and a real HTTP server on loopback."""

from __future__ import annotations

import io
import os
import pwd
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from hil.sim import run_simulator
from tests.conftest import make_certificate, run_module
from tests.daemon.test_clock_hold import Switch
from tests.oadr3.loopback import serving
from tests.vtn_lite.conftest import CLIENTS, make_config
from ven_edge.check import (
    CHECKS,
    Check,
    CheckContext,
    CheckOutcome,
    CheckResult,
    print_report,
    probe_serial_port,
    run_checks,
    service_user_denied,
)
from ven_edge.clocksync import AlwaysSynchronised
from vtn_lite.server import running_vtn


@pytest.fixture
def pty_port() -> Iterator[Path]:
    master, slave = os.openpty()
    try:
        yield Path(os.ttyname(slave))
    finally:
        os.close(slave)
        os.close(master)


SYNCED = AlwaysSynchronised()
COMMISSIONING = "CTA-2045 commissioning (device information, operational state)"


def write_config(tmp_path: Path, body: str = "", *, port: str = "/dev/ttyUSB-absent") -> Path:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path = tmp_path / "ven-edge.toml"
    path.write_text(f'[heater]\nport = "{port}"\n[state]\ndir = "{state}"\n{body}')
    path.chmod(0o644)
    return path


def statuses(results: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {r.name: r.outcome.status for r in results}


async def test_sample_config_passes_with_serial_and_network_skipped(tmp_path: Path) -> None:
    ctx = CheckContext(
        clock_sync=SYNCED, config_path=write_config(tmp_path), skip_serial=True, skip_network=True
    )
    results = await run_checks(ctx)
    assert statuses(results) == {
        "configuration is valid": "pass",
        "client secret is private": "skip",
        "state directory is writable": "pass",
        "system clock is synchronised": "skip",
        "serial port opens": "skip",
        "CTA-2045 commissioning (device information, operational state)": "skip",
        "VTN is reachable": "skip",
        "VTN token obtained": "skip",
        "VTN speaks the configured OpenADR version": "skip",
        "VTN accepts the registration": "skip",
    }
    out = io.StringIO()
    assert print_report(results, out) is True
    assert out.getvalue().splitlines()[-1] == "OK: 2 pass, 8 skip"


async def test_invalid_config_fails_and_skips_what_depends_on_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[log]\nlevel = 'loud'\n")
    results = await run_checks(CheckContext(clock_sync=SYNCED, config_path=path))
    first = results[0].outcome
    assert first.status == "fail"
    assert 'log.level = "loud": must be one of' in first.detail
    assert str(path) in first.fix
    assert all(r.outcome.status == "skip" for r in results[1:])
    out = io.StringIO()
    assert print_report(results, out) is False
    assert "fix: edit" in out.getvalue()


async def test_state_dir_missing_or_read_only(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    (tmp_path / "state").rmdir()
    results = await run_checks(
        CheckContext(clock_sync=SYNCED, config_path=path, skip_serial=True, skip_network=True)
    )
    state = results[2].outcome
    assert state.status == "fail"
    assert "does not exist" in state.detail
    assert "install -d -o ven-edge" in state.fix


async def test_inline_secret_in_a_world_readable_config_fails(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[vtn]\nclient_id = "a"\nclient_secret = "hunter2"\n')
    ctx = CheckContext(clock_sync=SYNCED, config_path=path, skip_serial=True, skip_network=True)
    results = await run_checks(ctx)
    secret = results[1].outcome
    assert secret.status == "fail"
    assert "mode 0644" in secret.detail
    assert "client_secret_file" in secret.fix
    assert "hunter2" not in secret.detail + secret.fix
    path.chmod(0o640)
    assert (await run_checks(ctx))[1].outcome.status == "pass"


async def test_secret_file_loosened_after_loading_is_caught(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o600)
    path = write_config(tmp_path, f'[vtn]\nclient_id = "a"\nclient_secret_file = "{secret}"\n')
    ctx = CheckContext(clock_sync=SYNCED, config_path=path, skip_serial=True, skip_network=True)
    await run_checks(ctx, CHECKS[:1])
    secret.chmod(0o644)
    outcome = await CHECKS[1].run(ctx)
    assert outcome.status == "fail"
    assert "chmod 0640" in outcome.detail


async def test_commissioning_against_the_simulated_heater(tmp_path: Path) -> None:
    link = tmp_path / "heater"
    async with run_simulator(link):
        ctx = CheckContext(
            clock_sync=SYNCED, config_path=write_config(tmp_path, port=str(link)), skip_network=True
        )
        results = await run_checks(ctx)
    by_name = {r.name: r.outcome for r in results}
    assert by_name["serial port opens"].status == "pass"
    commissioning = by_name[COMMISSIONING]
    assert commissioning.status == "pass", commissioning
    assert "operational state: idle normal" in commissioning.detail
    assert "type 0x0003" in commissioning.detail  # a heat-pump water heater
    assert print_report(results, io.StringIO()) is True


async def test_silent_heater_fails_commissioning_with_the_fix(
    tmp_path: Path, pty_port: Path
) -> None:
    # A pty nobody answers on: the port opens, the heater never replies.
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, port=str(pty_port)),
        skip_network=True,
        commission_timeout_s=0.5,
    )
    by_name = {r.name: r.outcome for r in await run_checks(ctx)}
    assert by_name["serial port opens"].status == "pass"
    commissioning = by_name[COMMISSIONING]
    assert commissioning.status == "fail"
    assert "no CTA-2045 answer" in commissioning.detail
    assert "seat the CTA-2045 module" in commissioning.fix


def test_serial_port_problems(tmp_path: Path) -> None:
    absent = probe_serial_port(tmp_path / "ttyUSB9")
    assert absent.status == "fail"
    assert "/dev/serial/by-id/" in absent.fix
    plain = tmp_path / "file"
    plain.write_text("")
    assert "not a serial device" in probe_serial_port(plain).detail
    assert "not a terminal" in probe_serial_port(Path("/dev/null")).detail


@pytest.fixture
async def vtn_url() -> AsyncIterator[str]:
    async def programs(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "200"))
        return web.json_response([], status=status)

    app = web.Application()
    app.router.add_get("/openadr3/3.1.0", programs)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/openadr3/3.1.0"
    finally:
        await runner.cleanup()


async def test_vtn_reachable_on_loopback(tmp_path: Path, vtn_url: str) -> None:
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, f'[vtn]\nurl = "{vtn_url}"\n'),
        skip_serial=True,
    )
    by_name = {r.name: r.outcome for r in await run_checks(ctx)}
    assert by_name["VTN is reachable"] == CheckOutcome.passed(f"{vtn_url} answered HTTP 200")
    assert by_name["VTN token obtained"].status == "skip"  # no client_id: no token to get


async def test_vtn_server_error_and_silence(tmp_path: Path, vtn_url: str) -> None:
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, f'[vtn]\nurl = "{vtn_url}?status=503"\n'),
        skip_serial=True,
    )
    failed = {r.name: r.outcome for r in await run_checks(ctx)}["VTN is reachable"]
    assert failed.status == "fail"
    assert "HTTP 503" in failed.detail
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, f'[vtn]\nurl = "http://127.0.0.1:{closed_port}/"\n'),
        skip_serial=True,
    )
    results = {r.name: r.outcome for r in await run_checks(ctx)}
    assert results["VTN is reachable"].status == "fail"
    assert "firewall" in results["VTN is reachable"].fix
    assert results["VTN token obtained"].status == "skip"


def vtn_body(tmp_path: Path, url: str, client_id: str, secret_text: str) -> str:
    secret = tmp_path / "secret"
    secret.write_text(secret_text)
    secret.chmod(0o640)
    return f'[vtn]\nurl = "{url}"\nclient_id = "{client_id}"\nclient_secret_file = "{secret}"\n'


async def test_token_from_vtn_lite(tmp_path: Path) -> None:
    client_id, secret, _ = CLIENTS["ven"]
    async with running_vtn(make_config()) as vtn:
        body = vtn_body(tmp_path, vtn.base_url, client_id, secret)
        ctx = CheckContext(
            clock_sync=SYNCED, config_path=write_config(tmp_path, body), skip_serial=True
        )
        by_name = {r.name: r.outcome for r in await run_checks(ctx)}
    assert by_name["VTN is reachable"].status == "pass"
    token = by_name["VTN token obtained"]
    assert token == CheckOutcome.passed(f"token for {client_id}; 0 program(s) visible")


async def test_wrong_secret_is_refused_with_the_fix(tmp_path: Path) -> None:
    client_id, _, _ = CLIENTS["ven"]
    async with running_vtn(make_config()) as vtn:
        body = vtn_body(tmp_path, vtn.base_url, client_id, "not-the-secret")
        ctx = CheckContext(
            clock_sync=SYNCED, config_path=write_config(tmp_path, body), skip_serial=True
        )
        token = {r.name: r.outcome for r in await run_checks(ctx)}["VTN token obtained"]
    assert token.status == "fail"
    assert f"refused the credentials of client {client_id}" in token.detail
    assert "not-the-secret" not in token.detail + token.fix
    assert "vtn.client_id" in token.fix


async def test_custom_checks_plug_in_and_requirements_chain(tmp_path: Path) -> None:
    seen: list[str] = []

    async def boom(ctx: CheckContext) -> CheckOutcome:
        seen.append("boom")
        return CheckOutcome.failed("broken", "mend it")

    async def after(ctx: CheckContext) -> CheckOutcome:
        seen.append("after")
        return CheckOutcome.passed("never")

    checks = (Check("boom", boom), Check("after", after, requires=("boom",)))
    results = await run_checks(
        CheckContext(clock_sync=SYNCED, config_path=tmp_path / "x.toml"), checks
    )
    assert seen == ["boom"]
    assert results[1].outcome == CheckOutcome.skipped("needs: boom")


def test_cli_exit_status_and_output(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    ok = run_module("ven_edge", "check", "--config", str(path), "--skip-serial", "--skip-network")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "[ PASS  ] configuration is valid" in ok.stdout
    bad = run_module("ven_edge", "check", "--config", str(tmp_path / "absent.toml"))
    assert bad.returncode == 1
    assert "file not found" in bad.stdout
    assert "NOT READY" in bad.stdout


def test_service_user_without_the_ports_group_is_told_which_group(pty_port: Path) -> None:
    # The pty belongs to the user running the test (group tty, mode 0620): "nobody" cannot open it.
    outcome = service_user_denied(pty_port, "nobody")
    assert outcome is not None
    assert outcome.status == "fail"
    assert "the service user nobody cannot open" in outcome.detail
    assert "usermod -aG" in outcome.fix
    # The port's owner can, and an account that does not exist is a development checkout.
    owner = pwd.getpwuid(pty_port.stat().st_uid).pw_name
    assert service_user_denied(pty_port, owner) is None
    assert service_user_denied(pty_port, "no-such-user-here") is None


@pytest.fixture
async def tls_vtn_url(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def programs(_: web.Request) -> web.Response:
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/openadr3/3.1.0", programs)
    async with serving(app, context) as url:
        yield f"{url}/openadr3/3.1.0", cert


async def test_untrusted_vtn_certificate_asks_for_ca_file(
    tmp_path: Path, tls_vtn_url: tuple[str, Path]
) -> None:
    url, cert = tls_vtn_url
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, f'[vtn]\nurl = "{url}"\n'),
        skip_serial=True,
    )
    reachable = {r.name: r.outcome for r in await run_checks(ctx)}["VTN is reachable"]
    assert reachable.status == "fail"
    assert "not trusted" in reachable.detail
    assert "vtn.ca_file" in reachable.fix
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, f'[vtn]\nurl = "{url}"\nca_file = "{cert}"\n'),
        skip_serial=True,
    )
    reachable = {r.name: r.outcome for r in await run_checks(ctx)}["VTN is reachable"]
    assert reachable == CheckOutcome.passed(f"{url} answered HTTP 200")


def test_a_missing_check_is_never_ok() -> None:
    results = [
        CheckResult("a", CheckOutcome.passed("fine")),
        CheckResult("b", CheckOutcome("missing", "not in this build", "install a newer release")),
    ]
    out = io.StringIO()
    assert print_report(results, out) is False
    assert "[MISSING] b: not in this build" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "NOT READY: 1 pass, 1 missing"


@pytest.mark.parametrize(
    ("configured", "spoken"), [("3.0.1", "3.1.0"), ("3.1.0", "3.0.1"), ("3.1.0", "3.1.0")]
)
async def test_version_mismatch_is_a_failure_with_the_fix(
    tmp_path: Path, configured: str, spoken: str
) -> None:
    client_id, secret, _ = CLIENTS["ven"]
    async with running_vtn(make_config()) as vtn:
        url = vtn.base_url if spoken == "3.1.0" else vtn.base_url_301
        body = vtn_body(tmp_path, url, client_id, secret) + f'version = "{configured}"\n'
        path = write_config(tmp_path, body)
        ctx = CheckContext(clock_sync=SYNCED, config_path=path, skip_serial=True)
        results = await run_checks(ctx)
    by_name = {r.name: r.outcome for r in results}
    version = by_name["VTN speaks the configured OpenADR version"]
    registration = by_name["VTN accepts the registration"]
    if configured == spoken:
        assert version == CheckOutcome.passed(f"the VTN speaks OpenADR {spoken}, as configured")
        assert registration.status == "pass"
        assert print_report(results, io.StringIO()) is True
        return
    assert version.status == "fail"
    assert f"the VTN speaks OpenADR {spoken} but vtn.version is '{configured}'" in version.detail
    assert version.fix == f'set vtn.version = "{spoken}" in {path}, then run again'
    assert registration.status == "skip"
    assert (
        print_report(results, io.StringIO()) is False
    )  # never "OK" for a gateway that polls nothing


async def test_vtn_url_credentials_and_query_are_not_printed(tmp_path: Path, vtn_url: str) -> None:
    url = vtn_url.replace("http://", "http://vtnuser:S3cretPw@") + "?apikey=K3yValue"
    ctx = CheckContext(
        clock_sync=SYNCED,
        config_path=write_config(tmp_path, f'[vtn]\nurl = "{url}"\n'),
        skip_serial=True,
    )
    out = io.StringIO()
    print_report(await run_checks(ctx), out)
    assert "answered HTTP" in out.getvalue()
    for secret in ("vtnuser", "S3cretPw", "K3yValue"):
        assert secret not in out.getvalue()


async def test_clock_line(tmp_path: Path) -> None:
    name = "system clock is synchronised"
    path = write_config(tmp_path)
    assert [c.name for c in CHECKS[:4]][-1] == name  # after the configuration's checks
    ctx = CheckContext(path, clock_sync=Switch(False), skip_network=True)
    assert statuses(await run_checks(ctx, CHECKS[:4]))[name] == "skip"  # NTP is network time
    ctx = CheckContext(path, clock_sync=Switch(False))
    results = await run_checks(ctx, CHECKS[:4])
    outcome = next(r.outcome for r in results if r.name == name)
    assert outcome.status == "fail"
    assert "will not plan, command the heater or report until it is" in outcome.detail
    assert "timedatectl set-ntp true" in outcome.fix
    out = io.StringIO()
    assert print_report(results, out) is False
    assert f"[ FAIL  ] {name}: not synchronised" in out.getvalue()

    ctx = CheckContext(path, clock_sync=Switch(True))
    assert statuses(await run_checks(ctx, CHECKS[:4]))[name] == "pass"

    relaxed = write_config(tmp_path, "[clock]\nrequire_sync = false\n")
    ctx = CheckContext(relaxed, clock_sync=Switch(False))
    outcome = next(r.outcome for r in await run_checks(ctx, CHECKS[:4]) if r.name == name)
    assert outcome == CheckOutcome.skipped("not required (clock.require_sync = false)")
