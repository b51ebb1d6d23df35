"""A VEN reports only on events it can read: an event hidden from it answers like one that does
not exist (409 on 3.1.0, the YAML's foreign-key conflict; 400 on 3.0.1), and nothing is stored.
"""

from __future__ import annotations

from tests.vtn_lite.conftest import Api, Receiver
from tests.vtn_lite.kinds import INTERVALS, grant, make_world


def _report(event_id: str) -> dict[str, object]:
    return {
        "eventID": event_id,
        "clientName": "ven-one",
        "resources": [{"resourceName": "heater", "intervals": INTERVALS}],
    }


async def test_reports_on_hidden_or_missing_events_are_refused_alike(
    api: Api, api301: Api, receiver: Receiver
) -> None:
    world = await make_world(api, receiver)
    hidden = await api.ok(
        "POST",
        "/events",
        body={"programID": world.program_id, "targets": ["group-b"], "intervals": INTERVALS},
    )
    hidden_status, hidden_problem = await api.call("POST", "/reports", "ven", _report(hidden["id"]))
    missing_status, missing_problem = await api.call("POST", "/reports", "ven", _report("nope"))
    # The same answer for both: no way to tell a hidden event from a missing one.
    assert (hidden_status, missing_status) == (409, 409)
    assert hidden_problem["detail"] == missing_problem["detail"].replace("nope", hidden["id"])
    body301 = {**_report(hidden["id"]), "programID": world.program_id}
    assert (await api301.call("POST", "/reports", "ven", body301))[0] == 400
    assert await api.ok("GET", "/reports", "bl") == []
    # Granted the target, the VEN may report on it; and on untargeted events always.
    await grant(api, world.ven_id, ["group-b"])
    await api.ok("POST", "/reports", "ven", _report(hidden["id"]))
    await api.ok("POST", "/reports", "ven", _report(world.event_id))
    # A report cannot be moved onto a hidden event by an update either.
    other = await api.ok(
        "POST",
        "/events",
        body={"programID": world.program_id, "targets": ["group-c"], "intervals": INTERVALS},
    )
    report = (await api.ok("GET", "/reports", "ven"))[0]
    assert (await api.call("PUT", f"/reports/{report['id']}", "ven", _report(other["id"])))[
        0
    ] == 409
