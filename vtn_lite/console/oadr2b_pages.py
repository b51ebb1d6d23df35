"""The console's 2.0b page: party registrations to approve, and what 2.0b VENs answered
(docs/vtn-lite-2.0b.md "Console")."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from aiohttp import web

from vtn_lite.console.pages import (
    console_of,
    form_of,
    html_page,
    page_handler,
    utc,
)
from vtn_lite.console.render import Safe, esc, join, tag
from vtn_lite.console.sessions import Session
from vtn_lite.errors import ApiError
from vtn_lite.oadr2b.registry import Refused, Registry

#: Operator actions on a registration and what they do (vtn_lite.oadr2b.registry).
ACTIONS: Final = {
    "approve": "Approve",
    "reject": "Reject",
    "revoke": "Cancel registration",
    "reregister": "Ask to re-register",
}
_ALLOWED: Final = {
    "pending": ("approve", "reject"),
    "rejected": ("approve",),
    "approved": ("revoke", "reregister"),
    "reregister": ("revoke",),
    "cancelled": ("revoke",),
}
RECENT: Final = 20


def registry_of(request: web.Request) -> Registry:
    registry = console_of(request).oadr2b
    if registry is None:
        raise ApiError(404, "the 2.0b face is not enabled ([oadr2b] in the configuration)")
    return registry


def _actions(session: Session, name: str, state: str) -> Safe:
    if not session.may_dispatch:
        return Safe("")
    forms = [
        Safe(
            f'<form method="post" action="/console/oadr2b/{esc(quote(name, safe=""))}/{action}"'
            ' class="inline">'
            f'<input type="hidden" name="csrf" value="{esc(session.csrf)}">'
            f"{tag('button', ACTIONS[action], type='submit')}</form>"
        )
        for action in _ALLOWED.get(state, ())
    ]
    return join(forms, " ")


@page_handler
async def oadr2b_page(request: web.Request, session: Session) -> web.StreamResponse:
    registry = registry_of(request)
    store = registry.store
    names: dict[str, str] = {}
    rows = []
    for registration in await store.oadr2b_registrations():
        if registration.ven_id:
            names[registration.ven_id] = registration.ven_name
        rows.append(
            "<tr>"
            + tag("td", registration.ven_name)
            + tag("td", tag("span", registration.state, class_=f"badge {registration.state}"))
            + tag("td", registration.ven_id or "")
            + tag("td", registration.fingerprint or "none (lab HTTP)")
            + tag("td", utc(registration.requested_at))
            + tag("td", _actions(session, registration.ven_name, registration.state))
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("venName", "State", "venID", "Certificate", "Last request", "")
    )
    opts = [
        "<tr>"
        + tag("td", names.get(record.ven_id, record.ven_id))
        + tag("td", str(record.body.get("eventID") or record.body.get("optID") or ""))
        + tag("td", str(record.body.get("modificationNumber", "")))
        + tag("td", str(record.body.get("optType", "")))
        + tag("td", str(record.body.get("via", "")))
        + tag("td", utc(record.at))
        + "</tr>"
        for record in await store.oadr2b_records("opt", limit=RECENT)
    ]
    opt_head = "".join(
        f"<th>{h}</th>" for h in ("VEN", "Event or opt", "Modification", "Opt", "By", "At")
    )
    body = Safe(
        tag("h2", "Registrations")
        + Safe(
            f'<table class="vens"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        + tag("h2", "Latest opt responses")
        + Safe(
            f'<table class="vens"><thead><tr>{opt_head}</tr></thead>'
            f"<tbody>{''.join(opts)}</tbody></table>"
        )
    )
    return html_page("OpenADR 2.0b", body, session, page="oadr2b")


@page_handler
async def oadr2b_action(request: web.Request, session: Session) -> web.StreamResponse:
    registry = registry_of(request)
    await form_of(request, session, dispatch=True)
    name = request.match_info["ven_name"]
    action = request.match_info["action"]
    try:
        await act(registry, name, action)
    except Refused as exc:
        raise ApiError(409, exc.reason) from None
    raise web.HTTPSeeOther("/console/oadr2b")


async def act(registry: Registry, name: str, action: str) -> None:
    """One operator action on a registration (the console's buttons, ``vtn-lite oadr2b``)."""
    if action == "approve":
        await registry.approve(name)
    elif action == "reject":
        await registry.reject(name)
    elif action == "revoke":
        await registry.revoke(name)
    elif action == "reregister":
        await registry.ask_reregistration(name)
    else:
        raise ApiError(404, f"no action {action[:32]!r}")
