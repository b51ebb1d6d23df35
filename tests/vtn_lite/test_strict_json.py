"""NaN, Infinity and out-of-range numbers are refused on input (400) on every write of both API
versions, so what the VTN serves always parses as strict JSON (RFC 8259 §6).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.vtn_lite.conftest import Api, Receiver, open_vtn
from tests.vtn_lite.kinds import WRITERS, body_for, make_world
from vtn_lite.auth import Principal
from vtn_lite.errors import ApiError
from vtn_lite.prices import PriceImportError, load_file

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e999", "-1e400")


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"served non-strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _with_number(body: dict[str, Any], number: str) -> bytes:
    """The body's JSON text with a number placed where a float belongs."""
    marker = 987654.25
    if "intervals" in body or "resources" in body:
        text = json.dumps(body).replace("0.25", str(marker), 1)
    else:
        text = json.dumps({**body, "intervals": [{"values": [marker]}]})
    assert str(marker) in text
    return text.replace(str(marker), number).encode()


async def _post_raw(api: Api, path: str, who: str, raw: bytes) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {api.tokens[who]}", "Content-Type": "application/json"}
    async with api.session.post(api.base + path, data=raw, headers=headers) as response:
        return response.status, _strict(await response.text())


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize("kind", ["programs", "events", "reports"])
async def test_non_finite_numbers_are_refused_on_3_1(
    api: Api, receiver: Receiver, kind: str, number: str
) -> None:
    world = await make_world(api, receiver)
    who = WRITERS[kind][0]
    status, problem = await _post_raw(
        api, f"/{kind}", who, _with_number(body_for(kind, world, who), number)
    )
    assert status == 400, problem
    assert "JSON" in problem["detail"] or "number" in problem["detail"]
    async with api.session.get(
        f"{api.base}/{kind}", headers={"Authorization": f"Bearer {api.tokens[who]}"}
    ) as response:
        _strict(await response.text())


@pytest.mark.parametrize("number", NON_FINITE)
async def test_non_finite_numbers_are_refused_on_3_0_1(
    api: Api, api301: Api, receiver: Receiver, number: str
) -> None:
    world = await make_world(api, receiver)
    body = {
        "programID": world.program_id,
        "intervalPeriod": {"start": "2026-01-01T00:00:00Z"},
        "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.25]}]}],
    }
    status, problem = await _post_raw(api301, "/events", "bl", _with_number(body, number))
    assert status == 400, problem


async def test_bodies_built_in_python_are_checked_too() -> None:
    bl = Principal("bl", "bl")
    async with open_vtn() as vtn:
        program = await vtn.create(bl, "PROGRAM", {"programName": "p"})
        for value in (float("nan"), float("inf"), -float("inf")):
            with pytest.raises(ApiError) as caught:
                await vtn.create(
                    bl,
                    "EVENT",
                    {
                        "programID": program["id"],
                        "intervals": [
                            {"id": 0, "payloads": [{"type": "PRICE", "values": [value]}]}
                        ],
                    },
                )
            assert caught.value.status == 400
            assert "intervals.0.payloads.0.values.0" in caught.value.detail
        assert await vtn.store.all_of_kind("EVENT") == []


def test_price_files_with_non_finite_numbers_are_refused(tmp_path: Any) -> None:
    path = tmp_path / "event.json"
    path.write_text('{"intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [NaN]}]}]}')
    with pytest.raises(PriceImportError):
        load_file(path)


async def test_token_request_json_is_strict(api: Api, session: aiohttp.ClientSession) -> None:
    async with session.post(
        f"{api.base}/auth/token",
        data=b'{"clientID": "bl_client", "clientSecret": "1001", "x": NaN}',
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
