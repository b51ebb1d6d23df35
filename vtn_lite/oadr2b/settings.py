"""The ``[oadr2b]`` table of the VTN configuration (docs/vtn-lite-2.0b.md "Configuration").

```toml
[oadr2b]
enabled = true
host = "0.0.0.0"
port = 8443
path = "/OpenADR2/Simple/2.0b"
vtn_id = "VTN_LITE"                     # upper case: openleadr VENs answer 452 to lower case
poll_interval = 10.0                    # seconds, oadrRequestedOadrPollFreq
tls_cert = "vtn.crt"                    # mutual TLS: all three, TLS 1.2 or later (rule 67)
tls_key = "vtn.key"
tls_ca = "ven-ca.crt"                   # CA that issued the VEN certificates
auto_approve = false                    # true: registrations need no operator (demo only)
lab_plain_http = false                  # true: plain HTTP, allowed on a loopback host only
max_body_bytes = 262144
keep_records_days = 7.0                 # opt responses and reports older than this are dropped

[oadr2b.fingerprints]                   # venName = certificate fingerprint (openleadr's form)
wh_ven = "ED:10:3F:AA:1F:1A:75:F8:F3:81"
```
"""

from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ven_edge.oadr2b.tlsconf import is_fingerprint

DEFAULT_PATH: Final = "/OpenADR2/Simple/2.0b"
DEFAULT_PORT: Final = 8443
DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024


class Oadr2bConfigError(ValueError):
    """An ``[oadr2b]`` table that cannot be used."""


@dataclass(frozen=True, slots=True)
class Oadr2bSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    path: str = DEFAULT_PATH
    vtn_id: str = "VTN_LITE"
    poll_interval: float = 10.0
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    auto_approve: bool = False
    lab_plain_http: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    keep_records_days: float = 7.0
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


_TYPES: dict[str, tuple[type, ...]] = {
    "enabled": (bool,),
    "host": (str,),
    "port": (int,),
    "path": (str,),
    "vtn_id": (str,),
    "poll_interval": (int, float),
    "tls_cert": (str,),
    "tls_key": (str,),
    "tls_ca": (str,),
    "auto_approve": (bool,),
    "lab_plain_http": (bool,),
    "max_body_bytes": (int,),
    "keep_records_days": (int, float),
    "fingerprints": (dict,),
}
_FILES = ("tls_cert", "tls_key", "tls_ca")


def parse_oadr2b(table: Any, base_dir: Path | None) -> Oadr2bSettings | None:
    """``None`` unless ``enabled = true``; every key checked, unknown keys refused."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise Oadr2bConfigError("[oadr2b] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        expected = _TYPES.get(key)
        if expected is None:
            match = difflib.get_close_matches(key, _TYPES, n=1, cutoff=0.6)
            hint = f"; did you mean {match[0]!r}?" if match else ""
            raise Oadr2bConfigError(
                f"[oadr2b] has an unknown key {key!r}{hint} (known: {', '.join(_TYPES)})"
            )
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise Oadr2bConfigError(f"[oadr2b] {key} must be {expected[0].__name__}, not {value!r}")
        values[key] = value
    if not values.pop("enabled", False):
        return None
    values["fingerprints"] = _fingerprints(values.get("fingerprints", {}))
    for key in _FILES:
        if key in values and base_dir is not None:
            values[key] = str((base_dir / values[key]).resolve())
    settings = Oadr2bSettings(**values)
    _check(settings)
    return settings


def _fingerprints(table: dict[str, Any]) -> dict[str, str]:
    found = {}
    for name, value in table.items():
        # The 2.0b fingerprint: the last 10 bytes of SHA-256 over the DER certificate, colon-
        # separated hex (docs/vtn-lite-2.0b.md "Security").
        if not isinstance(value, str) or not is_fingerprint(value):
            raise Oadr2bConfigError(
                f"[oadr2b.fingerprints] {name!r} must be ten colon-separated hex bytes"
                f" (fingerprint ven.crt), not {value!r}"
            )
        found[name] = value.strip().upper()
    return found


def _check(settings: Oadr2bSettings) -> None:
    if not 0 <= settings.port <= 65535:
        raise Oadr2bConfigError("[oadr2b] port must be 0 to 65535")
    if not settings.path.startswith("/") or settings.path.endswith("/"):
        raise Oadr2bConfigError("[oadr2b] path must start with / and not end with one")
    if not 0.5 <= settings.poll_interval <= 86400:
        raise Oadr2bConfigError("[oadr2b] poll_interval must be 0.5 to 86400 seconds")
    if not 0.01 <= settings.keep_records_days <= 3660:
        raise Oadr2bConfigError("[oadr2b] keep_records_days must be 0.01 to 3660")
    if not 1024 <= settings.max_body_bytes <= 16 * 1024 * 1024:
        raise Oadr2bConfigError("[oadr2b] max_body_bytes must be 1024 to 16777216")
    if not settings.vtn_id or len(settings.vtn_id) > 128 or settings.vtn_id.islower():
        # openleadr's VENs answer every event with 452 when the vtnID is lower case
        # (docs/vtn-lite-2.0b.md "Interoperability").
        raise Oadr2bConfigError("[oadr2b] vtn_id must be 1 to 128 characters, not all lower case")
    given = [key for key in _FILES if getattr(settings, key) is not None]
    if given and len(given) != len(_FILES):
        raise Oadr2bConfigError("[oadr2b] tls_cert, tls_key and tls_ca go together (mutual TLS)")
    if settings.tls and settings.lab_plain_http:
        raise Oadr2bConfigError("[oadr2b] lab_plain_http and tls_* exclude each other")
    if not settings.tls:
        if not settings.lab_plain_http:
            raise Oadr2bConfigError(
                "[oadr2b] needs tls_cert, tls_key and tls_ca (mutual TLS, rule 67);"
                " lab_plain_http = true serves plain HTTP on a loopback host for tests"
            )
        if not is_loopback(settings.host):
            raise Oadr2bConfigError(
                f"[oadr2b] lab_plain_http serves a loopback host only, not {settings.host!r}"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
