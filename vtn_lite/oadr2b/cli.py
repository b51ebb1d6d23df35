"""``vtn-lite oadr2b list|approve|reject|revoke|reregister``: 2.0b registrations in the VTN's
database (docs/vtn-lite-2.0b.md "Registration").

Works on the database of ``--config`` directly, like the offline price import: a running VTN
sees the new state at the VEN's next request; its console's VEN list shows a newly approved
VEN after a restart (approving in the console shows it at once).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from vtn_lite.oadr2b.registry import Refused, Registry


def register(sub: Any) -> None:
    oadr2b = sub.add_parser("oadr2b", help="OpenADR 2.0b VEN registrations")
    actions = oadr2b.add_subparsers(dest="oadr2b_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list registrations and their state")
    listing.set_defaults(handler=_list)
    for action, help_text in (
        ("approve", "approve a pending (or rejected) registration"),
        ("reject", "reject a registration"),
        ("revoke", "cancel a registration: the VEN is told at its next poll"),
        ("reregister", "ask the VEN to register again at its next poll"),
    ):
        parser = actions.add_parser(action, help=help_text)
        parser.add_argument("ven_name", metavar="VEN_NAME")
        parser.set_defaults(handler=_act, action=action)
    for parser in actions.choices.values():
        parser.add_argument("--config", type=Path, required=True, help="the VTN's TOML file")


def _open(args: argparse.Namespace) -> Any:
    from vtn_lite.config import ConfigError, load_config
    from vtn_lite.service import Vtn
    from vtn_lite.storage import open_storage

    config = load_config(args.config)
    if config.oadr2b is None:
        raise ConfigError(f"{args.config} has no [oadr2b] with enabled = true")
    store = open_storage(config.database)
    return config, store, Vtn


def _list(args: argparse.Namespace) -> int:
    _config, store, _vtn = _open(args)

    async def run() -> None:
        await store.open()
        try:
            for item in await store.oadr2b_registrations():
                print(
                    f"{item.ven_name}\t{item.state}\t{item.ven_id or '-'}"
                    f"\t{item.fingerprint or '-'}"
                )
        finally:
            await store.close()

    asyncio.run(run())
    return 0


def _act(args: argparse.Namespace) -> int:
    import time

    from vtn_lite.console.oadr2b_pages import act
    from vtn_lite.errors import ApiError

    config, store, vtn_class = _open(args)

    async def run() -> int:
        await store.open()
        try:
            registry = Registry(
                vtn_class(store),
                fingerprints=config.oadr2b.fingerprints,
                auto_approve=False,
                clock=time.time,
            )
            await act(registry, args.ven_name, args.action)
            known = await store.oadr2b_registration(args.ven_name)
            print(f"{args.ven_name}: {known.state if known else 'unknown'}")
            return 0
        except (ApiError, Refused) as exc:
            print(f"vtn-lite: {exc}", file=sys.stderr)
            return 1
        finally:
            await store.close()

    return asyncio.run(run())
