"""Alliance conformance categories per object type, OpenADR 3.1.0 (docs/openadr3.md §12)."""

from __future__ import annotations

import pytest

from tests.vtn_lite.conftest import Api, Receiver
from tests.vtn_lite.kinds import (
    FORBIDDEN_WRITERS,
    KINDS,
    REQUIRED_FIELD,
    WRITERS,
    body_for,
    make_world,
)

CRUD_CASES = [(kind, who) for kind in KINDS for who in WRITERS[kind]]


@pytest.mark.parametrize(("kind", "who"), CRUD_CASES)
async def test_crud_per_role(api: Api, receiver: Receiver, kind: str, who: str) -> None:
    world = await make_world(api, receiver)
    created = await api.ok("POST", f"/{kind}", who, body_for(kind, world, who))
    object_id = created["id"]
    assert created["createdDateTime"].endswith("Z")
    assert created["objectType"] == kind.upper().rstrip("S")
    listed = await api.ok("GET", f"/{kind}", who)
    assert object_id in [item["id"] for item in listed]
    assert await api.ok("GET", f"/{kind}/{object_id}", who) == created
    update = body_for(kind, world, who)
    update["id"] = "ignored"
    update["createdDateTime"] = "1999-01-01T00:00:00Z"
    updated = await api.ok("PUT", f"/{kind}/{object_id}", who, update)
    assert updated["id"] == object_id
    assert updated["createdDateTime"] == created["createdDateTime"]
    assert updated["modificationDateTime"] >= created["modificationDateTime"]
    deleted = await api.ok("DELETE", f"/{kind}/{object_id}", who)
    assert deleted["id"] == object_id
    status, _ = await api.call("GET", f"/{kind}/{object_id}", who)
    assert status == 404


@pytest.mark.parametrize("kind", KINDS)
async def test_missing_and_bad_token(api: Api, receiver: Receiver, kind: str) -> None:
    world = await make_world(api, receiver)
    who = WRITERS[kind][0]
    existing = await api.ok("POST", f"/{kind}", who, body_for(kind, world, who))
    calls = [
        ("POST", f"/{kind}", body_for(kind, world, who)),
        ("GET", f"/{kind}", None),
        ("GET", f"/{kind}/{existing['id']}", None),
        ("PUT", f"/{kind}/{existing['id']}", body_for(kind, world, who)),
        ("DELETE", f"/{kind}/{existing['id']}", None),
    ]
    for method, path, body in calls:
        assert (await api.call(method, path, None, body))[0] == 401
        assert (await api.call(method, path, body=body, token="not-a-token"))[0] == 401
    # Nothing changed.
    assert await api.ok("GET", f"/{kind}/{existing['id']}", who) == existing


@pytest.mark.parametrize("kind", sorted(FORBIDDEN_WRITERS))
async def test_wrong_role(api: Api, receiver: Receiver, kind: str) -> None:
    world = await make_world(api, receiver)
    owner = WRITERS[kind][0]
    intruder = FORBIDDEN_WRITERS[kind]
    existing = await api.ok("POST", f"/{kind}", owner, body_for(kind, world, owner))
    status, problem = await api.call("POST", f"/{kind}", intruder, body_for(kind, world, owner))
    assert status == 403
    assert "scope" in problem["detail"]
    for method in ("PUT", "DELETE"):
        body = body_for(kind, world, owner) if method == "PUT" else None
        assert (await api.call(method, f"/{kind}/{existing['id']}", intruder, body))[0] == 403


async def test_ven_cannot_grant_itself_targets(api: Api) -> None:
    status, _ = await api.call(
        "POST",
        "/vens",
        "ven",
        {
            "objectType": "BL_VEN_REQUEST",
            "clientID": "ven_client",
            "venName": "x",
            "targets": ["t"],
        },
    )
    assert status == 403


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_id(api: Api, receiver: Receiver, kind: str) -> None:
    world = await make_world(api, receiver)
    who = WRITERS[kind][0]
    assert (await api.call("GET", f"/{kind}/no-such-id", who))[0] == 404
    body = body_for(kind, world, who)
    assert (await api.call("PUT", f"/{kind}/no-such-id", who, body))[0] == 404
    assert (await api.call("DELETE", f"/{kind}/no-such-id", who))[0] == 404


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_body(api: Api, receiver: Receiver, kind: str) -> None:
    world = await make_world(api, receiver)
    who = WRITERS[kind][0]
    before = await api.ok("GET", f"/{kind}", who)
    missing = body_for(kind, world, who)
    del missing[REQUIRED_FIELD[kind]]
    status, problem = await api.call("POST", f"/{kind}", who, missing)
    assert status == 400
    assert REQUIRED_FIELD[kind] in problem["detail"]
    wrong_type = body_for(kind, world, who)
    wrong_type[REQUIRED_FIELD[kind]] = {"not": "a string"}
    assert (await api.call("POST", f"/{kind}", who, wrong_type))[0] == 400
    assert (await api.call("POST", f"/{kind}", who, [1, 2]))[0] == 400
    async with api.session.post(
        f"{api.base}/{kind}",
        data=b"{not json",
        headers={"Authorization": f"Bearer {api.tokens[who]}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
    assert await api.ok("GET", f"/{kind}", who) == before


async def test_event_with_unknown_program(api: Api) -> None:
    # 3.1.0's conflict response: "a violation of a foreign key constraint".
    status, problem = await api.call(
        "POST", "/events", "bl", {"programID": "nope", "intervals": []}
    )
    assert status == 409
    assert "nope" in problem["detail"]


@pytest.mark.parametrize("kind", KINDS)
async def test_unsupported_methods(api: Api, kind: str) -> None:
    for method, path in (("POST", f"/{kind}/some-id"), ("DELETE", f"/{kind}"), ("PUT", f"/{kind}")):
        status, problem = await api.call(method, path, "bl", {})
        assert status == 405, (method, path)
        assert method in problem["detail"]
    async with api.session.delete(
        f"{api.base}/{kind}", headers={"Authorization": f"Bearer {api.tokens['bl']}"}
    ) as response:
        assert set(response.headers["Allow"].split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize(
    ("kind", "field"),
    [("programs", "programName"), ("vens", "venName")],
)
async def test_names_are_unique(api: Api, receiver: Receiver, kind: str, field: str) -> None:
    world = await make_world(api, receiver)
    first = body_for(kind, world, "bl")
    await api.ok("POST", f"/{kind}", "bl", first)
    second = body_for(kind, world, "bl")
    second[field] = first[field]
    # The 3.1.0 YAML declares 409 for POST /programs but not for POST /vens (400 there).
    assert (await api.call("POST", f"/{kind}", "bl", second))[0] == (
        409 if kind == "programs" else 400
    )
    other = await api.ok("POST", f"/{kind}", "bl", body_for(kind, world, "bl"))
    renamed = body_for(kind, world, "bl")
    renamed[field] = first[field]
    assert (await api.call("PUT", f"/{kind}/{other['id']}", "bl", renamed))[0] == 409


async def test_one_ven_per_client_and_resource_names_per_ven(api: Api, receiver: Receiver) -> None:
    world = await make_world(api, receiver)
    again = {"objectType": "VEN_VEN_REQUEST", "venName": "another-name"}
    assert (await api.call("POST", "/vens", "ven", again))[0] == 400  # no 409 on POST /vens
    body = body_for("resources", world, "ven")
    await api.ok("POST", "/resources", "ven", body)
    assert (await api.call("POST", "/resources", "ven", body))[0] == 409
    # The same resource name under another ven is fine.
    other = await api.ok(
        "POST", "/vens", "bl", {"objectType": "BL_VEN_REQUEST", "clientID": "c9", "venName": "v9"}
    )
    await api.ok(
        "POST",
        "/resources",
        "bl",
        {**body, "venID": other["id"], "clientID": "c9", "objectType": "BL_RESOURCE_REQUEST"},
    )


@pytest.mark.parametrize("kind", ["programs", "events", "vens"])
async def test_pagination(api: Api, receiver: Receiver, kind: str) -> None:
    world = await make_world(api, receiver)
    for _ in range(4):
        await api.ok("POST", f"/{kind}", "bl", body_for(kind, world, "bl"))
    everything = await api.ok("GET", f"/{kind}", "bl")
    ids = [item["id"] for item in everything]
    assert len(ids) >= 5
    paged: list[str] = []
    skip = 0
    while True:
        page = await api.ok("GET", f"/{kind}", "bl", params={"skip": skip, "limit": 2})
        paged.extend(item["id"] for item in page)
        if len(page) < 2:
            break
        skip += 2
    assert paged == ids  # stable order, nothing lost or repeated
    assert await api.ok("GET", f"/{kind}", "bl", params={"limit": 0}) == []
    assert await api.ok("GET", f"/{kind}", "bl", params={"skip": 1000}) == []
    for params in ({"limit": 51}, {"limit": -1}, {"skip": -1}, {"limit": "x"}):
        assert (await api.call("GET", f"/{kind}", "bl", params=params))[0] == 400


async def test_limit_defaults_to_fifty(api: Api) -> None:
    for n in range(55):
        await api.ok("POST", "/programs", body={"programName": f"many-{n}"})
    assert len(await api.ok("GET", "/programs")) == 50
    assert len(await api.ok("GET", "/programs", params={"skip": 50})) == 5


async def test_deeply_nested_body_is_a_bad_request(api: Api) -> None:
    async with api.session.post(
        f"{api.base}/programs",
        data=b"[" * 200_000 + b"]" * 200_000,
        headers={"Authorization": f"Bearer {api.tokens['bl']}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert "deeply" in (await response.json(content_type=None))["detail"]
