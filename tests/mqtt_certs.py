"""Throwaway certificates for MQTT over TLS with client certificates (the 3.1.0 binding's
``CERTIFICATE`` method): a CA, a broker certificate for 127.0.0.1 and client certificates whose
common name is the client id (mosquitto's ``use_identity_as_username``), made by the openssl CLI.
Private keys are written 0600, as the gateway requires of secrets."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "1", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    key.chmod(0o600)
    return Issued(cert, key)


def issue(ca: Issued, directory: Path, name: str, common_name: str, *, server: bool) -> Issued:
    """A certificate signed by ``ca``: for the broker at 127.0.0.1, or a client's."""
    cert, key, csr = (directory / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    extensions = directory / f"{name}.ext"
    usage = "serverAuth" if server else "clientAuth"
    san = "subjectAltName=IP:127.0.0.1\n" if server else ""
    extensions.write_text(f"{san}extendedKeyUsage={usage}\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", "1", "-extfile", str(extensions), "-out", str(cert),
    )  # fmt: skip
    key.chmod(0o600)
    return Issued(cert, key)
