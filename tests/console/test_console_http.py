"""The console over HTTP: login, sessions, CSRF, roles, throttling, validation, escaping."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.console.console_site import DISPATCHER, VIEWER, console_vtn, csrf_of, jar, login
from vtn_lite.auth import Principal
from vtn_lite.service import Vtn
from vtn_lite.storage import StoredObject

BL = Principal("test-utility", "bl")


async def test_login_sets_a_strict_httponly_cookie_and_shows_the_vens(tmp_path: Path) -> None:
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.get(f"{vtn.url}/console/vens", allow_redirects=False) as before:
            assert before.status == 303
            assert before.headers["Location"] == "/console/login"
        response = await login(http, vtn.url, *DISPATCHER)
        assert response.status == 303
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/console/" in cookie
        assert "Secure" not in cookie  # plain http in the demo
        async with http.get(f"{vtn.url}/console/vens") as page:
            assert page.status == 200
            assert "Content-Security-Policy" in page.headers
            assert "VENs" in await page.text()


async def register(
    vtn_obj: Vtn, name: str, client_id: str, targets: list[str] | None = None
) -> str:
    body = {"objectType": "BL_VEN_REQUEST", "clientID": client_id, "venName": name}
    if targets:
        body["targets"] = targets  # type: ignore[assignment]
    return str((await vtn_obj.create(BL, "VEN", body))["id"])


async def program(vtn_obj: Vtn) -> str:
    body = {
        "programName": "dr",
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": "PRICE",
                "units": "KWH",
                "currency": "EUR",
            }
        ],
    }
    return str((await vtn_obj.create(BL, "PROGRAM", body))["id"])


def simple_form(program_id: str, **fields: str) -> dict[str, str]:
    """A valid dispatch form (SIMPLE 1 now for 30 minutes) with ``fields`` changed."""
    return {
        "program": program_id,
        "payload_type": "SIMPLE",
        "value": "1",
        "start_mode": "now",
        "duration": "30",
        "target_mode": "vens",
        **fields,
    }


async def dispatch_page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/console/dispatch") as page:
        assert page.status == 200
        return await page.text()


async def test_a_form_without_its_csrf_token_is_refused(tmp_path: Path) -> None:
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        program_id = await program(vtn.vtn)
        ven = await register(vtn.vtn, "ven-a", "ven_client")
        await login(http, vtn.url, *DISPATCHER)
        form = simple_form(program_id, vens=ven)
        async with http.post(f"{vtn.url}/console/dispatch", data=form) as refused:
            assert refused.status == 403
            assert "security token" in await refused.text()
        async with http.post(
            f"{vtn.url}/console/dispatch", data={**form, "csrf": "forged"}
        ) as forged:
            assert forged.status == 403
        assert await vtn.vtn.operator_objects("EVENT") == []
        token = csrf_of(await dispatch_page(http, vtn.url))
        async with http.post(f"{vtn.url}/console/dispatch", data={**form, "csrf": token}) as sent:
            assert sent.status == 200
            assert "stored for ven-a" in await sent.text()
        [event] = await vtn.vtn.operator_objects("EVENT")
        assert event.targets == (f"ven:{ven}",)
        assert (await vtn.vtn.stored("VEN", ven)).targets == (f"ven:{ven}",)  # type: ignore[union-attr]


async def test_the_login_form_needs_its_token_too(tmp_path: Path) -> None:
    async with (
        console_vtn(tmp_path) as vtn,
        aiohttp.ClientSession(cookie_jar=jar()) as http,
        http.post(
            f"{vtn.url}/console/login", data={"user": "operator", "password": "operator-demo"}
        ) as refused,
    ):
        assert refused.status == 403
        cookies = refused.headers.getall("Set-Cookie", [])
        assert not [c for c in cookies if c.startswith("vtn_console=")]  # no session


async def test_a_viewer_sees_but_cannot_dispatch(tmp_path: Path) -> None:
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        program_id = await program(vtn.vtn)
        ven = await register(vtn.vtn, "ven-a", "ven_client")
        await login(http, vtn.url, *VIEWER)
        async with http.get(f"{vtn.url}/console/vens") as page:
            text = await page.text()
            assert "ven-a" in text
            assert "Dispatch" not in text
            token = csrf_of(text)  # the logout form's
        async with http.get(f"{vtn.url}/console/dispatch") as form_page:
            assert form_page.status == 403
        form = simple_form(program_id, csrf=token, vens=ven)
        async with http.post(f"{vtn.url}/console/dispatch", data=form) as refused:
            assert refused.status == 403
        assert await vtn.vtn.operator_objects("EVENT") == []


async def test_wrong_passwords_make_the_account_wait_longer_each_time(tmp_path: Path) -> None:
    now = [1_000_000.0]
    async with (
        console_vtn(tmp_path, clock=lambda: now[0]) as vtn,
        aiohttp.ClientSession(cookie_jar=jar()) as http,
    ):
        statuses = [(await login(http, vtn.url, "operator", "wrong")).status for _ in range(4)]
        assert statuses == [401, 401, 401, 401]
        # The 4th failure costs a wait: even the right password is not checked now.
        locked = await login(http, vtn.url, *DISPATCHER)
        assert locked.status == 429
        assert int(locked.headers["Retry-After"]) >= 1
        now[0] += 1.5
        assert (await login(http, vtn.url, "operator", "wrong")).status == 401
        now[0] += 1.5  # the 5th failure doubled the wait to 2 s
        assert (await login(http, vtn.url, *DISPATCHER)).status == 429
        now[0] += 1.0
        assert (await login(http, vtn.url, *DISPATCHER)).status == 303


async def test_a_refused_event_is_not_stored_and_each_error_is_by_its_field(tmp_path: Path) -> None:
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        program_id = await program(vtn.vtn)
        await register(vtn.vtn, "ven-a", "ven_client")
        await login(http, vtn.url, *DISPATCHER)
        token = csrf_of(await dispatch_page(http, vtn.url))
        cases = {
            "vens": {"vens": "no-such-ven"},
            "start_at": {"start_mode": "at", "start_at": "2001-01-01T00:00", "tz_offset": "0"},
            "value": {"value": "4"},
            "duration": {"duration": "ten"},
        }
        base = simple_form(program_id, csrf=token, vens="x")
        for field, change in cases.items():
            form = {**base, "vens": "no-such-ven", **change}
            if field != "vens":
                form["vens"] = next(iter(await vtn.parts.vtn.operator_objects("VEN"))).id
            async with http.post(f"{vtn.url}/console/dispatch", data=form) as refused:
                assert refused.status == 400, field
                assert f'id="{field}_error"' in await refused.text(), field
        price = {
            **base,
            "payload_type": "PRICE",
            "value": "cheap",
            "vens": (await vtn.vtn.operator_objects("VEN"))[0].id,
        }
        async with http.post(f"{vtn.url}/console/dispatch", data=price) as refused:
            assert refused.status == 400
            assert "a number is required" in await refused.text()
        assert await vtn.vtn.operator_objects("EVENT") == []


async def test_an_overlapping_event_of_the_same_type_asks_for_confirmation(tmp_path: Path) -> None:
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        program_id = await program(vtn.vtn)
        ven = await register(vtn.vtn, "ven-a", "ven_client")
        await login(http, vtn.url, *DISPATCHER)
        token = csrf_of(await dispatch_page(http, vtn.url))
        form = simple_form(program_id, csrf=token, duration="60", vens=ven, event_name="first")
        async with http.post(f"{vtn.url}/console/dispatch", data=form) as first:
            assert first.status == 200
        again = {**form, "event_name": "second", "value": "2"}
        async with http.post(f"{vtn.url}/console/dispatch", data=again) as warned:
            text = await warned.text()
            assert 'id="overlap"' in text
            assert "first (SIMPLE) overlaps for ven-a" in text
        assert len(await vtn.vtn.operator_objects("EVENT")) == 1
        async with http.post(
            f"{vtn.url}/console/dispatch", data={**again, "confirm": "yes"}
        ) as confirmed:
            assert "stored for ven-a" in await confirmed.text()
        assert len(await vtn.vtn.operator_objects("EVENT")) == 2


async def test_names_with_markup_are_shown_as_text(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        program_id = await program(vtn.vtn)
        ven = await register(vtn.vtn, evil, "ven_client", targets=[evil])
        await vtn.vtn.create(
            BL,
            "EVENT",
            {
                "programID": program_id,
                "eventName": evil,
                "targets": [evil],
                "intervalPeriod": {"start": "2030-01-01T00:00:00Z", "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
            },
        )
        await login(http, vtn.url, *DISPATCHER)
        for path in (
            "/console/vens",
            f"/console/vens/{ven}",
            "/console/dispatch",
            f"/console/fragments/vens/{ven}/events",
            "/console/fragments/vens",
        ):
            async with http.get(f"{vtn.url}{path}") as page:
                text = await page.text()
                assert page.status == 200, path
                assert "<script>alert" not in text, path
                assert "<img src=x" not in text, path
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path


async def test_authenticated_api_requests_are_check_ins(tmp_path: Path) -> None:
    now = [2_000_000.0]
    async with console_vtn(tmp_path, clock=lambda: now[0]) as vtn:
        await register(vtn.vtn, "ven-a", "ven_client")
        console_state = vtn.parts.console
        assert console_state is not None
        assert console_state.tracker.status("ven_client", now[0]).last is None
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{vtn.base_url}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "ven_client",
                    "client_secret": "999",
                },
            ) as got:
                token = (await got.json())["access_token"]
            # The token request authenticated the client: a check-in already.
            assert console_state.tracker.status("ven_client", now[0]).last == 2_000_000.0
            for _ in range(3):
                now[0] += 60
                async with http.get(
                    f"{vtn.base_url}/events", headers={"Authorization": f"Bearer {token}"}
                ) as polled:
                    assert polled.status == 200
        status = console_state.tracker.status("ven_client", now[0])
        assert status.last == 2_000_180.0
        assert status.received == 4
        assert status.observed
        assert status.interval == 60.0
        await console_state.flush_checkins()
        assert await vtn.vtn.load_checkins() == {"ven_client": 2_000_180.0}


async def test_edit_then_cancel_an_event_and_grant_a_group(tmp_path: Path) -> None:
    now = [1_900_000_000.0]  # 2030-03-17T17:46:40Z
    async with (
        console_vtn(tmp_path, clock=lambda: now[0]) as vtn,
        aiohttp.ClientSession(cookie_jar=jar()) as http,
    ):
        program_id = await program(vtn.vtn)
        ven = await register(vtn.vtn, "ven-a", "ven_client")
        changes: list[str] = []

        async def heard(operation: str, stored: StoredObject) -> None:
            changes.append(f"{operation} {stored.kind}")

        vtn.vtn.listeners.append(heard)
        await login(http, vtn.url, *DISPATCHER)
        token = csrf_of(await dispatch_page(http, vtn.url))
        async with http.post(
            f"{vtn.url}/console/vens/{ven}/groups", data={"csrf": token, "groups": "north, south"}
        ) as granted:
            assert granted.status == 200
        assert (await vtn.vtn.stored("VEN", ven)).targets == ("north", "south")  # type: ignore[union-attr]
        form = simple_form(
            program_id,
            csrf=token,
            duration="60",
            target_mode="group",
            group="north",
            event_name="peak",
        )
        async with http.post(f"{vtn.url}/console/dispatch", data=form) as sent:
            assert "stored for north" in await sent.text()
        [event] = await vtn.vtn.operator_objects("EVENT")
        async with http.get(f"{vtn.url}/console/events/{event.id}/edit") as edit_page:
            text = await edit_page.text()
            assert 'value="peak"' in text
            assert 'value="60"' in text
            assert 'data-utc="2030-03-17T17:46Z"' in text  # shown in the browser's zone
        now[0] += 1800  # half an hour into the event: its start has passed
        edited = {**form, "value": "2", "start_mode": "at", "tz_offset": "0",
                  "start_at": "2030-03-17T17:46", "confirm": "yes"}  # fmt: skip
        moved = {**edited, "start_at": "2030-03-17T17:45"}
        async with http.post(f"{vtn.url}/console/events/{event.id}/edit", data=moved) as refused:
            assert refused.status == 400  # a new start in the past
            assert 'id="start_at_error"' in await refused.text()
        async with http.post(f"{vtn.url}/console/events/{event.id}/edit", data=edited) as saved:
            assert saved.status == 200, await saved.text()  # the kept start is fine
        body = await vtn.vtn.operator_event(event.id)
        assert body is not None
        assert body["intervals"][0]["payloads"][0]["values"] == [2]
        async with http.get(f"{vtn.url}/console/fragments/vens/{ven}/events") as timeline:
            assert "SIMPLE 2" in await timeline.text()
        async with http.post(
            f"{vtn.url}/console/events/{event.id}/cancel", data={"csrf": "wrong"}
        ) as refused:
            assert refused.status == 403
        async with http.post(
            f"{vtn.url}/console/events/{event.id}/cancel",
            data={"csrf": token, "ven": ven},
            allow_redirects=False,
        ) as cancelled:
            assert cancelled.status == 303
            assert cancelled.headers["Location"] == f"/console/vens/{ven}"
        assert await vtn.vtn.operator_objects("EVENT") == []
        assert changes == ["UPDATE VEN", "CREATE EVENT", "UPDATE EVENT", "DELETE EVENT"]


async def test_the_live_stream_says_change_and_ends_with_the_session(tmp_path: Path) -> None:
    async with console_vtn(tmp_path) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, vtn.url, *DISPATCHER)
        async with http.get(f"{vtn.url}/console/live") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            await register(vtn.vtn, "ven-a", "ven_client")
            assert await stream.content.readline() == b"event: change\n"
            assert (await stream.content.readline()).startswith(b"data: ")
            async with http.get(f"{vtn.url}/console/vens") as page:
                token = csrf_of(await page.text())
            async with http.post(f"{vtn.url}/console/logout", data={"csrf": token}) as out:
                assert out.status == 200  # followed to the login page
            assert await stream.content.read() in (b"\n", b"")  # the stream ends
        async with http.get(f"{vtn.url}/console/live") as refused:
            assert refused.status == 401
