"""3.0.1 search views spliced from each object's translation: the same bytes as rendering the
reader's body, translating and serialising it (docs/vtn-lite.md "Cheap polls")."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vtn_lite.conftest import open_vtn
from tests.vtn_lite.kinds import INTERVALS
from vtn_lite import bodytext, compat301, jsonstrict
from vtn_lite.api301 import Api301
from vtn_lite.auth import Principal
from vtn_lite.service import SearchParams
from vtn_lite.storage import StoredObject

BL = Principal("bl", "bl")
VALUES = st.text(min_size=1, max_size=4)
TYPED_TARGETS = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["GROUP", "TARGET", "X"]), "values": st.lists(VALUES, max_size=3)}
    ),
    max_size=3,
)
START = st.sampled_from(["2026-01-01T00:00:00Z", compat301.NOW_301])
PERIOD = st.fixed_dictionaries({}, optional={"start": START, "duration": st.just("PT1H")})
LEAF = st.one_of(
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
PROGRAM_301 = st.fixed_dictionaries(
    {"programName": st.text(max_size=5)},
    optional={
        "programLongName": st.text(max_size=5),
        "retailerName": st.text(max_size=5),
        "timeZoneOffset": st.just("PT1H"),
        "bindingEvents": st.booleans(),
        "intervalPeriod": PERIOD,
        "targets": TYPED_TARGETS,
        "attributes": st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["PROGRAM_LONG_NAME", "Y"]), "values": st.lists(LEAF)}
            ),
            max_size=2,
        ),
    },
)
EVENT_301 = st.fixed_dictionaries(
    {"programID": st.just("p1")},
    optional={
        "eventName": st.text(max_size=5),
        "intervalPeriod": PERIOD,
        "intervals": st.lists(
            st.fixed_dictionaries(
                {"id": st.integers(0, 9), "payloads": st.lists(LEAF, max_size=2)},
                optional={"intervalPeriod": PERIOD},
            ),
            max_size=3,
        ),
        "targets": TYPED_TARGETS,
        "reportDescriptors": st.lists(
            st.fixed_dictionaries(
                {"payloadType": st.just("USAGE")}, optional={"targets": TYPED_TARGETS}
            ),
            max_size=2,
        ),
    },
)


def _stored(kind: str, body_301: dict[str, Any]) -> StoredObject:
    """As vtn_lite stores a 3.0.1 write: the 3.1 body (targets last) and the typed extra."""
    if kind == "PROGRAM":
        body, extra = compat301.program_in(body_301)
    else:
        body, extra = compat301.generic_in(body_301)
    full = bodytext.targets_last({"id": "o1", "objectType": kind, **body})
    targets = tuple(full.get("targets") or ())
    return StoredObject(
        1, "o1", kind, jsonstrict.dumps(full), extra or None, None, None, "p1", targets
    )


@settings(max_examples=150)
@given(
    kind_body=st.one_of(
        st.tuples(st.just("PROGRAM"), PROGRAM_301), st.tuples(st.just("EVENT"), EVENT_301)
    ),
    visible=st.one_of(st.none(), st.frozensets(VALUES, max_size=4)),
)
def test_spliced_301_text_equals_translate_and_serialise(
    kind_body: tuple[str, dict[str, Any]], visible: frozenset[str] | None
) -> None:
    kind, body_301 = kind_body
    stored = _stored(kind, body_301)
    rendered = stored.body  # what Vtn.render gives the reader
    if visible is not None:
        rendered["targets"] = [t for t in rendered.get("targets", []) if t in visible]
    expected = jsonstrict.dumps(compat301.object_out(stored, rendered))
    assert compat301.shown_text(compat301.text_301(stored), visible) == expected


async def test_301_views_are_the_translated_bodies_and_follow_writes() -> None:
    async with open_vtn() as vtn:
        api = Api301(vtn, notifier=None)  # type: ignore[arg-type]
        program = await vtn.create(BL, "PROGRAM", {"programName": "p", "targets": ["g1", "g2"]})
        events = []
        for n, targets in enumerate([["g1", "secret"], ["g2"], [], ["g1", "g2", "g3"]]):
            payload = {"programID": program["id"], "eventName": f"e{n}", "targets": targets}
            typed = [{"type": "GROUP", "values": targets}] if n % 2 else None
            events.append(
                await vtn.create(
                    BL,
                    "EVENT",
                    {**payload, "intervals": INTERVALS},
                    extra={"targets": typed} if typed else None,
                )
            )
        await vtn.create(
            BL,
            "VEN",
            {
                "objectType": "BL_VEN_REQUEST",
                "clientID": "ven-a",
                "venName": "a",
                "targets": ["g1"],
            },
        )
        principals = [BL, Principal("ven-a", "ven"), Principal("none", "ven")]

        async def check() -> None:
            for principal in principals:
                for kind in ("PROGRAM", "EVENT"):
                    for targets in (None, ("g1",), ("g2", "g3")):
                        params = SearchParams(targets=targets, read_all=True)
                        rows = await vtn.search_rows(principal, kind, params)
                        spliced = [await api.text_out(principal, row, params) for row in rows]
                        parsed = [
                            await api.body_out(principal, obj, body)
                            for obj, body in await vtn.rendered(principal, rows, params)
                        ]
                        assert bodytext.json_array(spliced) == jsonstrict.dumps(parsed).encode()

        await check()
        # A write: the kept translation of that object is not served again.
        changed = {"programID": program["id"], "eventName": "renamed", "targets": ["g1"]}
        await vtn.update(BL, "EVENT", events[0]["id"], {**changed, "intervals": INTERVALS})
        await check()
        view = await vtn.view(
            Principal("ven-a", "ven"),
            "EVENT",
            SearchParams(read_all=True),
            "3.0.1-test",
            lambda rows: _joined(api, Principal("ven-a", "ven"), rows),
        )
        assert b'"eventName":"renamed"' in view.body


async def _joined(api: Api301, principal: Principal, rows: list[StoredObject]) -> bytes:
    params = SearchParams(read_all=True)
    return bodytext.json_array([await api.text_out(principal, row, params) for row in rows])


def test_kept_translations_are_bounded_and_follow_the_stored_text() -> None:
    def event(seq: int, text: str) -> StoredObject:
        body = jsonstrict.dumps({"id": f"e{seq}", "objectType": "EVENT", "eventName": text})
        return StoredObject(seq, f"e{seq}", "EVENT", body, None, None, None, "p1", ())

    big = event(9, "y" * 6000)
    held = len(big.body_text) + len(compat301.text_301(big).head)
    texts = compat301.Texts301(max_entries=3, max_chars=held + 10)
    for seq in range(5):
        stored = event(seq, f"e{seq}")
        assert texts.get(stored) == compat301.text_301(stored)
    assert list(texts._entries) == [2, 3, 4]  # by count
    texts.get(big)
    assert list(texts._entries) == [9]  # by size: the others had to go
    assert '"eventName":"z"' in texts.get(event(9, "z")).head  # written again: translated again
