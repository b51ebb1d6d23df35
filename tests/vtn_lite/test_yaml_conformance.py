"""Answers within what each version's YAML declares, for inputs schemathesis found handled
outside it: query parameters beyond their schemas, a BL_VEN kind the YAML allows, statuses and
media types the YAML does not list.
"""

from __future__ import annotations

import pytest

from tests.vtn_lite.conftest import Api

LONG = "x" * 129


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/events", {"skip": str(2**31)}),
        ("/programs", {"limit": str(2**31)}),
        ("/resources", {"venID": "0" * 129}),
        ("/events", {"programID": "not an id"}),
        ("/reports", {"eventID": "a/b"}),
        ("/vens", {"venName": LONG}),
        ("/resources", {"resourceName": LONG}),
        ("/reports", {"clientName": LONG}),
        ("/events", {"targets": LONG}),
        ("/subscriptions", {"objects": "WIDGET"}),
        ("/events", {"programID": ""}),
        ("/vens", {"venName": ""}),
    ],
)
async def test_query_parameters_outside_their_schema_are_400(
    api: Api, path: str, params: dict[str, str]
) -> None:
    status, problem = await api.call("GET", path, "bl", params=params)
    assert status == 400, problem


async def test_3_0_1_names_have_no_length_limit(api301: Api) -> None:
    # 3.0.1 declares venName as a plain string.
    assert await api301.ok("GET", "/vens", "bl", params={"venName": LONG}) == []


async def test_business_logic_may_send_a_ven_ven_request(api: Api) -> None:
    body = {"objectType": "VEN_VEN_REQUEST", "venName": "meter-7"}
    created = await api.ok("POST", "/vens", "bl", body)
    assert created["clientID"] == "meter-7"
    assert "targets" not in created
    # A duplicate is 400: the YAML lists no 409 for POST /vens.
    status, problem = await api.call("POST", "/vens", "bl", body)
    assert status == 400
    assert "meter-7" in problem["detail"]


async def test_problems_are_application_json_unless_problem_json_is_asked_for(api: Api) -> None:
    url = f"{api.base}/events/nope"
    auth = {"Authorization": f"Bearer {api.tokens['bl']}"}
    async with api.session.get(url, headers=auth) as response:
        assert response.status == 404
        assert response.content_type == "application/json"  # as both YAMLs declare
    headers = {**auth, "Accept": "application/problem+json, application/json;q=0.5"}
    async with api.session.get(url, headers=headers) as response:
        assert response.content_type == "application/problem+json"
        assert (await response.json(content_type=None))["status"] == 404
