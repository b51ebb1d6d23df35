"""``ven-edge check`` in 2.0b mode: the key file is checked, the VTN is asked
oadrQueryRegistration over mutual TLS with signatures, and the OpenADR 3 checks are skipped."""

from __future__ import annotations

from pathlib import Path

from tests.check.test_check import SYNCED, statuses, write_config
from tests.oadr2b.peer import VTN_ID, fingerprint_of, make_pki, running_vtn
from ven_edge.check import CheckContext, run_checks


def _body(url: str, pki: Path) -> str:
    return (
        f'[vtn]\nprotocol = "2.0b"\nurl = "{url}"\nca_file = "{pki / "ca.crt"}"\n'
        f'[vtn.oadr2b]\nclient_cert = "{pki / "ven.crt"}"\nclient_key = "{pki / "ven.key"}"\n'
        f'vtn_fingerprint = "{fingerprint_of(pki / "vtn.crt")}"\n'
    )


async def test_2_0b_vtn_over_mtls_passes_and_openadr3_checks_are_skipped(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    async with running_vtn(pki) as vtn:
        path = write_config(tmp_path, _body(vtn.url, pki))
        results = await run_checks(
            CheckContext(clock_sync=SYNCED, config_path=path, skip_serial=True)
        )
    found = statuses(results)
    details = {r.name: r.outcome.detail for r in results}
    assert found["client secret is private"] == "pass"
    assert "2.0b client key" in details["client secret is private"]
    assert found["VTN is reachable"] == "pass", details["VTN is reachable"]
    assert repr(VTN_ID) in details["VTN is reachable"]
    for name in ("VTN token obtained", "VTN speaks the configured OpenADR version",
                 "VTN accepts the registration"):  # fmt: skip
        assert found[name] == "skip"
        assert "OpenADR 3 only" in details[name]


async def test_2_0b_check_names_a_vtn_with_another_certificate(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    async with running_vtn(pki, vtn_cert="rogue") as vtn:
        path = write_config(tmp_path, _body(vtn.url, pki))
        results = await run_checks(
            CheckContext(clock_sync=SYNCED, config_path=path, skip_serial=True)
        )
    reach = next(r for r in results if r.name == "VTN is reachable")
    assert reach.outcome.status == "fail"
    assert "fingerprint" in reach.outcome.detail
