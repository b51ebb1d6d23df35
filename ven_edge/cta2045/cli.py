"""``ven-edge cta2045``: lab tools for the CTA-2045 port.

* ``decode HEX...`` prints one JSON object per frame (name, msg_type, opcodes, fields); a bad
  frame is reported on stderr with the precise reason and makes the exit status 1.
* ``messages`` lists every message of the codec's table.

Modules named in :data:`_ACTION_MODULES` add further sub-commands (such as ``send``) through
their own ``register(actions_subparsers)``; they are imported when the parser is built.
"""

from __future__ import annotations

import argparse
import importlib
import json
import string
import sys

#: Modules adding sub-commands under ``ven-edge cta2045`` (each exposes ``register``).
_ACTION_MODULES: tuple[str, ...] = ("ven_edge.cta2045.cli_send",)

#: Exit status when a frame could not be decoded.
EXIT_BAD_FRAME = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cta2045",
        help="CTA-2045 lab tools: decode frames, list messages",
        description="CTA-2045 lab tools.",
    )
    actions = parser.add_subparsers(dest="cta2045_command", metavar="ACTION")

    decode = actions.add_parser(
        "decode",
        help="decode frames given in hex, one JSON object per frame",
        description=(
            "Decode CTA-2045 frames (check bytes included). Each HEX argument is one frame; "
            "spaces, colons and a 0x prefix are ignored, so '08 01 00 02 01 00 0C 3D' works "
            "when quoted. With --stream the arguments are one byte stream that may hold many "
            "frames and garbage. Without arguments, frames are read from stdin, one per line."
        ),
    )
    decode.add_argument("hex", nargs="*", metavar="HEX", help="a frame in hex")
    decode.add_argument(
        "--stream",
        action="store_true",
        help="treat all input as one byte stream and report every frame and discarded byte",
    )
    decode.set_defaults(handler=_decode_command)

    listing = actions.add_parser(
        "messages",
        help="list every message the codec knows",
        description="List the message table: name, type, opcodes, lengths, fields.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=_messages_command)

    for name in _ACTION_MODULES:
        importlib.import_module(name).register(actions)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def parse_hex(text: str) -> bytes:
    """Bytes from hex written as ``08 01 00 02``, ``0801:0002``, ``0x0801...``."""
    cleaned = text.replace("0x", "").replace("0X", "")
    cleaned = "".join(ch for ch in cleaned if ch not in string.whitespace + ":,-")
    if len(cleaned) % 2:
        raise ValueError(f"odd number of hex digits in {text!r}")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = next(ch for ch in cleaned if ch not in string.hexdigits)
        raise ValueError(f"not hex: {bad!r} in {text!r}") from None


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _print_json(obj: object) -> None:
    _out(json.dumps(obj, ensure_ascii=False))


def _decode_command(args: argparse.Namespace) -> int:
    from ven_edge.cta2045.frames import FrameError

    texts: list[str] = list(args.hex) or [line for line in sys.stdin if line.strip()]
    if args.stream:
        return _decode_stream(texts)
    from ven_edge.cta2045.codec import decode

    status = 0
    for index, text in enumerate(texts, 1):
        try:
            message = decode(parse_hex(text))
        except (FrameError, ValueError) as exc:
            _err(f"frame {index} ({text.strip()}): {exc}")
            status = EXIT_BAD_FRAME
            continue
        _print_json(message.to_json())
    return status


def _decode_stream(texts: list[str]) -> int:
    from ven_edge.cta2045.codec import decode
    from ven_edge.cta2045.frames import FrameError
    from ven_edge.cta2045.stream import BytesDiscarded, FrameReader, FrameRejected

    try:
        data = b"".join(parse_hex(t) for t in texts)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_FRAME
    reader = FrameReader()
    # Everything arrived at once; a second poll well past the frame timeout flushes a trailing
    # partial frame (reported as NAK 0x05) so no byte is left unexplained.
    events = reader.feed(data, 0.0)
    now = 0.0
    while reader.buffered:
        now += 1.0
        events += reader.poll(now)
    status = 0
    for event in events:
        if isinstance(event, BytesDiscarded):
            _err(f"discarded {len(event.data)} byte(s): {event.data.hex(' ')}")
            status = EXIT_BAD_FRAME
        elif isinstance(event, FrameRejected):
            _err(f"rejected ({event.nak.name}): {event.detail}")
            status = EXIT_BAD_FRAME
        else:
            try:
                _print_json(decode(event).to_json())
            except FrameError as exc:
                _err(f"frame {event.serialize().hex(' ')}: {exc}")
                status = EXIT_BAD_FRAME
    return status


def _messages_command(args: argparse.Namespace) -> int:
    from ven_edge.cta2045.table import MESSAGES

    for spec in MESSAGES:
        msg_type = "any" if spec.msg_type is None else f"{spec.msg_type:04X}"
        opcodes = spec.opcodes.hex(" ").upper() or "-"
        if args.json:
            _print_json(
                {
                    "name": spec.name,
                    "msg_type": msg_type,
                    "opcodes": opcodes,
                    "payload_length": spec.describe_lengths(),
                    "direction": spec.direction,
                    "reply": spec.reply,
                    "fields": list(spec.keys),
                    "summary": spec.summary,
                }
            )
        else:
            _out(
                f"{msg_type:4} {opcodes:5} {spec.name:30} len {spec.describe_lengths():11} "
                f"{spec.direction:8} {spec.summary}"
            )
            if spec.keys:
                _out(f"{'':11}fields: {', '.join(spec.keys)}")
    return 0
