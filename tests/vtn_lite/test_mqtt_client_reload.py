"""A client added to or removed from the configuration file while vtn_lite serves is served, or
refused, without a restart: its token, its MQTT topics and the broker's password file follow
the file (a private mosquitto, signalled to reload; ``vtn-lite clients add`` / ``remove``)."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import run_module, wait_for
from tests.mosquitto import vtn_with_broker
from tests.oadr3.mqtt_gateway import event_body, running_link
from tests.vtn_lite.conftest import CLIENTS, TEST_SCRYPT_N, Api, get_token
from ven_edge.oadr3.link import LinkTiming
from vtn_lite.auth import hash_secret
from vtn_lite.config import ClientEntry, client_toml, load_config
from vtn_lite.server import RunningVtn

LIMIT_S = 120.0
SLOW = LinkTiming(poll_s=3600, poll_when_subscribed_s=3600, forced_poll_gap_s=0)
NEW_ID, NEW_SECRET = "ven_new", "a-new-secret-for-the-test"


def config_file(tmp_path: Path, storage_url: str) -> Path:
    """A configuration file on the test's storage (in-memory SQLite, or PostgreSQL)."""
    path = tmp_path / "vtn.toml"
    storage = "" if storage_url == ":memory:" else f'[storage]\nurl = "{storage_url}"\n'

    entries = "".join(
        client_toml(ClientEntry(cid, hash_secret(secret, n=TEST_SCRYPT_N), role))  # type: ignore[arg-type]
        for cid, secret, role in (CLIENTS["bl"], CLIENTS["ven"])
    )
    path.write_text(
        '# the test VTN\n[server]\nhost = "127.0.0.1"\nport = 0\nallow_local_callbacks = true\n'
        + storage
        + entries
    )
    path.chmod(0o600)
    return path


async def cli(*args: str, stdin: str | None = None) -> str:
    # In a thread: the VTN under test serves from this event loop meanwhile.
    result = await asyncio.to_thread(run_module, "vtn_lite", "clients", *args, input=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def token_status(vtn: RunningVtn, client_id: str, secret: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{vtn.base_url}/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        ) as response,
    ):
        return response.status


async def test_a_client_added_then_removed_is_served_then_refused_without_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, storage_url: str
) -> None:
    caplog.set_level(logging.INFO, "vtn_lite.client_reload")
    path = config_file(tmp_path, storage_url)
    config = load_config(path)
    async with vtn_with_broker(tmp_path, config) as (vtn, _):
        assert await token_status(vtn, NEW_ID, NEW_SECRET) == 401
        passwd = tmp_path / "mqtt-credentials" / "passwd"
        assert f"{NEW_ID}:" not in passwd.read_text()

        await cli("add", "--config", str(path), "--client-id", NEW_ID, "--role", "ven",
            "--secret-stdin", stdin=NEW_SECRET + "\n")  # fmt: skip
        await wait_for(lambda: "1 added (ven_new)" in caplog.text, LIMIT_S, "the new client")
        assert f"{NEW_ID}:" in passwd.read_text()
        # Replaced whole, never world-readable (the broker's group may read it).
        assert stat.S_IMODE(os.stat(passwd).st_mode) & 0o007 == 0
        assert await token_status(vtn, NEW_ID, NEW_SECRET) == 200

        async with aiohttp.ClientSession() as session:
            api = Api(session, vtn.base_url, {"bl": await get_token(session, vtn.base_url, "bl")})
            program = await api.ok("POST", "/programs", "bl", {"programName": "p1"})
            async with running_link(vtn, credentials=(NEW_ID, NEW_SECRET)) as (link, mqtt):
                await wait_for(lambda: mqtt.connected, LIMIT_S, "the new client's subscription")
                received = mqtt.received
                body = event_body(program["id"], "e-new")
                event = await api.ok("POST", "/events", "bl", body)
                # Published to the new client's own topics: the notifier follows the file too.
                # The link's own poll may fetch the event before the notification lands on a
                # loaded machine, so wait for the notification itself rather than the event.
                await wait_for(lambda: mqtt.received > received, LIMIT_S, "the event by MQTT")
                await wait_for(lambda: event["id"] in link.client.events, LIMIT_S, "the event")

                await cli("remove", "--config", str(path), "--client-id", NEW_ID)
                await wait_for(lambda: "1 removed (ven_new)" in caplog.text, LIMIT_S, "removal")
                assert f"{NEW_ID}:" not in passwd.read_text()
                assert await token_status(vtn, NEW_ID, NEW_SECRET) == 401
                # The broker drops the removed client's connection on its reload and refuses
                # the gateway's reconnects; the gateway polls (and is refused there too).
                await wait_for(
                    lambda: mqtt.state.state == "refused", LIMIT_S, "the refused reconnect"
                )
                assert "not authorized" in (mqtt.state.problem or "").lower()
                assert not mqtt.connected

        # The clients in the file from the start were never disturbed.
        cid, secret, _ = CLIENTS["ven"]
        assert await token_status(vtn, cid, secret) == 200
