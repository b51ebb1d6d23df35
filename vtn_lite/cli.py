"""The ``vtn-lite`` command: serve, clients add and remove, prices import, plan."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vtn_lite import __version__
from vtn_lite.client_file import add_client, remove_client, write_atomically
from vtn_lite.config import ROLES, ClientEntry, ConfigError, VtnConfig, load_config
from vtn_lite.server import (
    DEMO_CLIENTS,
    DEMO_CONSOLE_USERS,
    FLEET_CLIENT_PREFIX,
    FLEET_SECRET,
    demo_config,
    running_vtn,
    stop_on_signals,
    with_port,
)
from vtn_lite.storage import StorageError

if TYPE_CHECKING:
    from vtn_lite.prices import ImportPlan, ImportResult

log = logging.getLogger("vtn_lite")

DEMO_BANNER = """\
========================================================================
  vtn-lite DEMO MODE - NOT FOR PRODUCTION
  Well-known test credentials (anyone who reads this knows them):
{credentials}  Bound to 127.0.0.1 only; http and loopback webhook callbacks allowed.
========================================================================"""


IMPORT_DESCRIPTION = """\
Turn price files into a program and one PRICE event per file, in one of two modes:

  online   --url URL --client-id ID --secret-stdin
           through a running VTN's OpenADR 3.1.0 API as a business-logic client; the
           server sends webhook notifications to its subscribers as for any other change.
  offline  --config FILE | --database FILE
           straight into the database, e.g. before the first start. No server is
           involved, so NO webhook notifications are sent; a running server's VENs see
           the data only when they poll.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtn-lite",
        description="A small OpenADR 3 VTN (3.1.0 and 3.0.1) on SQLite or PostgreSQL.",
    )
    parser.add_argument("--version", action="version", version=f"vtn-lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the VTN")
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="TOML configuration file")
    source.add_argument(
        "--demo", action="store_true", help="loopback demo with the well-known test credentials"
    )
    serve.add_argument("--port", type=int, help="override the configured port (0: any free)")
    serve.add_argument(
        "--data-dir", type=Path, help="demo: directory for the SQLite file (default: a temp dir)"
    )
    serve.add_argument(
        "--fleet",
        type=int,
        default=0,
        metavar="N",
        help="demo: VEN clients fleet-1 ... fleet-N for python -m hil.fleet",
    )
    serve.set_defaults(handler=_serve)

    clients = sub.add_parser("clients", help="manage client credentials")
    clients_sub = clients.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    add = clients_sub.add_parser("add", help="add a client to a configuration file")
    add.add_argument("--config", type=Path, required=True, help="TOML file (created if absent)")
    add.add_argument("--client-id", required=True)
    add.add_argument("--role", choices=ROLES, required=True, help="bl (business logic) or ven")
    add.add_argument(
        "--secret-stdin",
        action="store_true",
        help="read the secret from standard input (default: generate and print one)",
    )
    add.set_defaults(handler=_clients_add)
    remove = clients_sub.add_parser(
        "remove", help="remove a client from a configuration file (a running server follows)"
    )
    remove.add_argument("--config", type=Path, required=True, help="TOML file")
    remove.add_argument("--client-id", required=True)
    remove.set_defaults(handler=_clients_remove)

    from vtn_lite.console.cli import register as register_users

    register_users(sub)
    from vtn_lite.oadr2b.cli import register as register_oadr2b

    register_oadr2b(sub)

    from vtn_lite.planner.cli import register as register_plan

    register_plan(sub)

    prices = sub.add_parser("prices", help="price programs and events")
    prices_sub = prices.add_subparsers(dest="prices_command", metavar="ACTION", required=True)
    imp = prices_sub.add_parser(
        "import",
        help="import Olivine eTOU-Dyn JSON or a (start, price) CSV",
        description=IMPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("files", type=Path, nargs="+", metavar="FILE")
    imp.add_argument("--program", required=True, help="program name (created when absent)")
    store = imp.add_mutually_exclusive_group(required=True)
    store.add_argument(
        "--url",
        help="online: a running VTN (e.g. http://127.0.0.1:8080); subscribers are notified",
    )
    store.add_argument(
        "--config", type=Path, help="offline: the VTN's configuration (its database)"
    )
    store.add_argument("--database", help="offline: the VTN's SQLite file or postgresql:// URL")
    imp.add_argument("--client-id", help="with --url: a business-logic client id")
    imp.add_argument(
        "--secret-stdin",
        action="store_true",
        help="with --url: read the client secret from standard input (required)",
    )
    imp.add_argument("--cafile", type=Path, help="with --url: CA certificate(s) for https (PEM)")
    imp.add_argument("--currency", default="USD", help="ISO 4217 currency for CSV prices")
    imp.add_argument("--units", default="KWH", help="units for CSV prices")
    imp.set_defaults(handler=_prices_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        code: int = handler(args)
    except ConfigError as exc:
        print(f"vtn-lite: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"vtn-lite: {exc}", file=sys.stderr)
        return 1
    return code


def _serve(args: argparse.Namespace) -> int:
    if args.demo:
        directory = args.data_dir or Path(tempfile.mkdtemp(prefix="vtn-lite-demo-"))
        if not 0 <= args.fleet <= 50:
            raise ConfigError("--fleet must be 0 to 50")
        port = 8080 if args.port is None else args.port
        config = demo_config(
            directory, port=port, fleet=args.fleet, oadr2b_port=port + 1 if port else 0
        )
        lines = "".join(f"    {cid} / {secret}  ({role})\n" for cid, secret, role in DEMO_CLIENTS)
        lines += "".join(
            f"    console {name} / {password}  ({role})\n"
            for name, password, role in DEMO_CONSOLE_USERS
        )
        if args.fleet:
            lines += f"    {FLEET_CLIENT_PREFIX}1..{args.fleet} / {FLEET_SECRET}  (ven)\n"
        print(DEMO_BANNER.format(credentials=lines), file=sys.stderr)
        print(f"vtn-lite demo: database {config.database}", file=sys.stderr)
    else:
        config = load_config(args.config)
        if args.port is not None:
            config = with_port(config, args.port)
        if not config.clients:
            raise ConfigError(f"{args.config} defines no [[clients]]; add one with clients add")
    if config.workers > 1:
        return asyncio.run(_serve_workers_until_stopped(config))
    asyncio.run(_serve_until_stopped(config, demo=args.demo))
    return 0


async def _serve_until_stopped(config: VtnConfig, *, demo: bool) -> None:
    stop = stop_on_signals()
    async with running_vtn(config) as running:
        print(f"vtn-lite serving OpenADR 3.1.0 at {running.base_url}", file=sys.stderr)
        print(f"vtn-lite serving OpenADR 3.0.1 at {running.base_url_301}", file=sys.stderr)
        if config.console is not None:
            print(f"vtn-lite operator console at {running.url}/console/", file=sys.stderr)
        if running.oadr2b_url is not None:
            print(f"vtn-lite serving OpenADR 2.0b at {running.oadr2b_url}", file=sys.stderr)
        if demo:
            print("vtn-lite: THIS IS A DEMO VTN", file=sys.stderr)
        sys.stderr.flush()
        await stop.wait()


async def _serve_workers_until_stopped(config: VtnConfig) -> int:
    """``vtn-lite serve`` with workers > 1: run until a signal, or fail when a worker dies."""
    stop = stop_on_signals()
    from vtn_lite.workers import running_workers

    async with running_workers(config) as running:
        print(f"vtn-lite serving OpenADR 3.1.0 at {running.base_url}", file=sys.stderr)
        print(f"vtn-lite serving OpenADR 3.0.1 at {running.base_url_301}", file=sys.stderr)
        print(f"vtn-lite: {config.workers} workers", file=sys.stderr)
        sys.stderr.flush()
        while not stop.is_set():
            dead = [p for p in running.processes if p.exitcode is not None]
            if dead:
                log.error(
                    "worker %s exited (%s); stopping the others", dead[0].name, dead[0].exitcode
                )
                return 1
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                continue
    return 0


def _clients_add(args: argparse.Namespace) -> int:
    from vtn_lite.auth import hash_secret

    path: Path = args.config
    existing = load_config(path) if path.exists() else VtnConfig()
    if any(client.client_id == args.client_id for client in existing.clients):
        print(f"vtn-lite: client {args.client_id!r} already exists in {path}", file=sys.stderr)
        return 1
    if args.secret_stdin:
        secret = sys.stdin.readline().rstrip("\n")
        if not secret:
            print("vtn-lite: empty secret on standard input", file=sys.stderr)
            return 1
    else:
        secret = secrets.token_urlsafe(24)
    entry = ClientEntry(args.client_id, hash_secret(secret), args.role)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    # Written whole and renamed into place: a running server re-reads its clients from it.
    write_atomically(path, add_client(text, entry))
    if not args.secret_stdin:
        # Shown once; only its hash is stored.
        print(f"client_id={args.client_id}\nclient_secret={secret}")
    else:
        print(f"added {args.client_id} ({args.role}) to {path}")
    return 0


def _clients_remove(args: argparse.Namespace) -> int:
    path: Path = args.config
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"vtn-lite: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        changed = remove_client(text, args.client_id)
    except ConfigError as exc:
        print(f"vtn-lite: {path}: {exc}", file=sys.stderr)
        return 1
    write_atomically(path, changed)
    print(f"removed {args.client_id} from {path}")
    return 0


def _prices_import(args: argparse.Namespace) -> int:
    from vtn_lite.prices import PriceImportError, plan_import

    try:
        plan = plan_import(list(args.files), args.program, currency=args.currency, units=args.units)
        if args.url:
            result = _import_online(args, plan)
        else:
            if args.client_id or args.secret_stdin or args.cafile:
                print(
                    "vtn-lite: --client-id, --secret-stdin and --cafile go with --url",
                    file=sys.stderr,
                )
                return 2
            result = _import_offline(args)
    except PriceImportError as exc:
        print(f"vtn-lite: {exc}", file=sys.stderr)
        return 1
    if result is None:
        return 1
    state = "created" if result.program_created else "updated"
    print(f"program {args.program!r} {state}: {result.program_id}")
    for event_id in result.event_ids:
        print(f"event created: {event_id}")
    return 0


def _import_online(args: argparse.Namespace, plan: ImportPlan) -> ImportResult | None:
    import ssl

    from vtn_lite.prices_remote import import_prices_remote

    if not args.client_id or not args.secret_stdin:
        # The secret never goes on the command line, where other users could read it.
        print("vtn-lite: --url needs --client-id and --secret-stdin", file=sys.stderr)
        return None
    secret = sys.stdin.readline().rstrip("\n")
    if not secret:
        print("vtn-lite: empty secret on standard input", file=sys.stderr)
        return None
    context = None
    if args.cafile is not None:
        try:
            context = ssl.create_default_context(cafile=str(args.cafile))
        except (OSError, ssl.SSLError) as exc:
            print(f"vtn-lite: cannot load --cafile {args.cafile}: {exc}", file=sys.stderr)
            return None
    return asyncio.run(
        import_prices_remote(plan, args.url, args.client_id, secret, ssl_context=context)
    )


def _import_offline(args: argparse.Namespace) -> ImportResult | None:
    from vtn_lite.auth import Principal
    from vtn_lite.prices import import_prices
    from vtn_lite.service import Vtn
    from vtn_lite.storage import open_storage

    database = str(args.database) if args.database else load_config(args.config).database
    if database == ":memory:":
        print("vtn-lite: the configuration uses :memory:, nothing to import into", file=sys.stderr)
        return None

    async def run() -> ImportResult:
        store = open_storage(database)
        await store.open()
        try:
            vtn = Vtn(store)
            await vtn.refresh_derived()
            return await import_prices(
                vtn,
                Principal("vtn-lite-import", "bl"),
                list(args.files),
                args.program,
                currency=args.currency,
                units=args.units,
            )
        finally:
            await store.close()

    return asyncio.run(run())
