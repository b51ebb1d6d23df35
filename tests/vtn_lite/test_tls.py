"""HTTPS with a configured certificate (Definition "HTTPS/TLS": TLS 1.2 or later)."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import make_certificate
from tests.vtn_lite.conftest import make_config
from vtn_lite.config import ConfigError
from vtn_lite.server import running_vtn


async def test_https_with_verification(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    config = make_config(tls_cert=str(cert), tls_key=str(key))
    async with running_vtn(config) as server:
        assert server.url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(server.base_url + "/auth/server", ssl=trusted) as response:
                assert (await response.json())["tokenURL"].startswith("https://")
            # Verification stays on: an unknown certificate is refused.
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(server.base_url + "/auth/server")
            # No plain HTTP on the TLS port.
            with pytest.raises(aiohttp.ClientError):
                await session.get(server.base_url.replace("https:", "http:") + "/auth/server")


async def test_unreadable_certificate(tmp_path: Path) -> None:
    config = make_config(tls_cert=str(tmp_path / "none.crt"), tls_key=str(tmp_path / "none.key"))
    with pytest.raises(ConfigError, match="cannot load TLS certificate"):
        async with running_vtn(config):
            pass
