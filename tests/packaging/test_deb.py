"""The Debian package, checked the way an installer meets it.

``scripts/check-deb.sh`` does the heavy part once per module (build, lintian, systemd-analyze,
install into a cached debootstrap trixie root and run the CLI there); each test below asserts one
stage of its log, so a failure names the stage. It needs root, debootstrap and the Debian archive
(CI has them).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from ven_edge.store import SCHEMA_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
# A fresh debootstrap takes about a minute; the cached root a few seconds.
CHECK_DEB_TIMEOUT_S = 1500
MAX_EXPOSURE = 2.0

# Whichever test runs first pays for the script run in the module fixture.
pytestmark = pytest.mark.timeout(CHECK_DEB_TIMEOUT_S + 60)


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str], out: Path) -> None:
        self.returncode = proc.returncode
        self.log = proc.stdout + proc.stderr
        self.out = out

    def section(self, name: str) -> str:
        """The log lines of one ``== name`` stage; fails the test if the stage never ran."""
        match = re.search(
            rf"^== {re.escape(name)} \(\d+s\)\n(.*?)(?=^== |\Z)", self.log, re.M | re.S
        )
        assert match, f"stage {name!r} did not run:\n{self.log[-3000:]}"
        return match.group(1)


@pytest.fixture(scope="module")
def check_deb(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("deb")
    env = dict(os.environ, OUT_DIR=str(out))
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "check-deb.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=CHECK_DEB_TIMEOUT_S,
        check=False,
    )
    return Run(proc, out)


def test_package_builds(check_deb: Run) -> None:
    check_deb.section("build")
    debs = sorted(p.name for p in check_deb.out.glob("*.deb"))
    assert debs == ["ven-edge_0.1.0_all.deb", "vtn-lite_0.1.0_all.deb"], check_deb.log[-3000:]
    build_log = (check_deb.out / "build.log").read_text()
    assert re.search(r"\b\d+ passed\b", build_log), "dh_auto_test ran no tests"


def test_pydantic_is_a_dependency_of_vtn_lite_not_of_the_gateway(check_deb: Run) -> None:
    # The daemon never loads pydantic (tests/daemon/test_run_imports.py); vtn-lite validates
    # with it.
    def depends(deb: str) -> str:
        (path,) = check_deb.out.glob(f"{deb}_*_all.deb")
        field = ["dpkg-deb", "-f", str(path), "Depends"]
        return subprocess.run(field, capture_output=True, text=True, check=True).stdout

    assert "pydantic" not in depends("ven-edge")
    assert "python3-pydantic" in depends("vtn-lite")


def test_openadr2b_libraries_are_recommended_not_required(check_deb: Run) -> None:
    """OpenADR 2.0b mode needs python3-lxml and python3-cryptography; apt installs
    Recommends by default, and an OpenADR 3 gateway never imports them."""
    (path,) = check_deb.out.glob("ven-edge_*_all.deb")
    fields = {
        name: subprocess.run(
            ["dpkg-deb", "-f", str(path), name], capture_output=True, text=True, check=True
        ).stdout
        for name in ("Depends", "Recommends")
    }
    assert "python3-lxml" in fields["Recommends"]
    assert "python3-cryptography" in fields["Recommends"]
    assert "lxml" not in fields["Depends"]


def test_lintian_reports_no_errors_or_warnings(check_deb: Run) -> None:
    lintian = check_deb.section("lintian")
    assert not re.search(r"^[EW]: ", lintian, re.M), lintian
    check_deb.section("systemd-analyze")  # reached only when lintian passed


def test_units_verify_and_ven_edge_exposure_is_low(check_deb: Run) -> None:
    analyze = check_deb.section("systemd-analyze")
    exposure = re.search(r"exposure level for ven-edge\.service: (\d+\.\d+)", analyze)
    assert exposure, analyze
    assert float(exposure.group(1)) <= MAX_EXPOSURE
    assert re.search(r"exposure level for vtn-lite\.service: \d+\.\d+", analyze)
    check_deb.section("trixie root")  # reached only when verify printed nothing


def test_installs_on_trixie_and_the_cli_runs_there(check_deb: Run) -> None:
    installed = check_deb.section("install into trixie")
    assert "Setting up ven-edge (0.1.0)" in installed
    assert re.search(r"^ven-edge 0\.1\.0$", installed, re.M)
    assert "all modules import: ven_edge" in installed
    assert re.search(r"^2\.0b stack works: lxml \S+ cryptography \S+$", installed, re.M)
    assert re.search(r"groups=.*\bdialout\b", installed)
    assert "[ PASS  ] configuration is valid: /etc/ven-edge/ven-edge.toml" in installed
    assert "[ PASS  ] state directory is writable" in installed
    assert re.search(r"^OK: ", installed, re.M)
    trixie = re.search(
        r"^trixie: .*exposure level for ven-edge\.service: (\d+\.\d+)", installed, re.M
    )
    assert trixie, installed
    assert float(trixie.group(1)) <= MAX_EXPOSURE
    assert "Setting up vtn-lite (0.1.0)" in installed
    assert re.search(r"^vtn-lite 0\.1\.0$", installed, re.M)
    assert "all modules import: vtn_lite" in installed
    assert check_deb.returncode == 0, check_deb.log[-3000:]


def test_packaged_daemon_serves_its_page_on_trixie_and_stops_cleanly(check_deb: Run) -> None:
    smoke = check_deb.section("daemon smoke on trixie")
    assert "status page answered: " in smoke, smoke
    assert "daemon stopped cleanly" in smoke, smoke


def test_an_upgrade_mid_event_keeps_the_event(check_deb: Run) -> None:
    # The previous release's package writes its state files mid-event; this one is installed
    # over it and its daemon must find the event current (docs/architecture.md "Persisted state").
    previous = check_deb.section("previous release")
    assert "upgrade not checked" not in previous, previous
    smoke = check_deb.section("daemon smoke on trixie")
    assert "the event the previous release wrote is current: ev-upgrade" in smoke, smoke
    assert f"signals.json: migrated from version 0 to {SCHEMA_VERSION}" in smoke, smoke
