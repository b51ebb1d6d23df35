"""``vtn-lite users add|remove|list``: the console's users file (docs/console.md "Users").

The file is the one ``[console] users_file`` of ``--config`` names (default
``console-users.json`` next to it). Passwords are read from standard input or asked for at the
terminal, never taken from the command line; only their scrypt hashes are stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import tomllib
from pathlib import Path
from typing import Any

from vtn_lite.console.settings import users_file_of
from vtn_lite.console.users import CONSOLE_ROLES, UsersError, make_user, read_users, write_users


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="manage operator console users")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = users_sub.add_parser("add", help="add a user (or set a user's password and role)")
    add.add_argument("name")
    add.add_argument("--role", choices=CONSOLE_ROLES, required=True)
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    remove = users_sub.add_parser("remove", help="remove a user (their sessions end)")
    remove.add_argument("name")
    listing = users_sub.add_parser("list", help="list users and roles")
    for parser in (add, remove, listing):
        parser.add_argument("--config", type=Path, required=True, help="the VTN's TOML file")
    add.set_defaults(handler=_add)
    remove.set_defaults(handler=_remove)
    listing.set_defaults(handler=_list)


def users_path(config: Path) -> Path:
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsersError(f"cannot read {config}: {exc}") from None
    return users_file_of(data.get("console"), config.resolve().parent)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise UsersError("the passwords differ")
    return first


def _add(args: argparse.Namespace) -> int:
    try:
        path = users_path(args.config)
        users = read_users(path)
        user = make_user(args.name, _password(args), args.role)
        kept = tuple(u for u in users if u.name != user.name)
        write_users(path, (*kept, user))
    except UsersError as exc:
        print(f"vtn-lite: {exc}", file=sys.stderr)
        return 1
    verb = "updated" if len(kept) < len(users) else "added"
    print(f"{verb} {user.name} ({user.role}) in {path}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        path = users_path(args.config)
        users = read_users(path)
        kept = tuple(u for u in users if u.name != args.name)
        if len(kept) == len(users):
            print(f"vtn-lite: no user {args.name!r} in {path}", file=sys.stderr)
            return 1
        write_users(path, kept)
    except UsersError as exc:
        print(f"vtn-lite: {exc}", file=sys.stderr)
        return 1
    print(f"removed {args.name} from {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    try:
        path = users_path(args.config)
        users = read_users(path)
    except UsersError as exc:
        print(f"vtn-lite: {exc}", file=sys.stderr)
        return 1
    for user in users:
        print(f"{user.name}\t{user.role}")
    return 0
