"""``ven-edge cta2045 decode`` and ``messages``, run as the real command in a subprocess."""

from __future__ import annotations

import json

from ven_edge.cta2045.table import MESSAGES

from ..conftest import run_module


def test_decode_one_json_object_per_frame() -> None:
    result = run_module(
        "ven_edge", "cta2045", "decode", "08 01 00 02 01 11 E9 4E", "0600", "0x0801000213 02D163"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {
        "name": "shed",
        "msg_type": "0801",
        "opcode1": 1,
        "opcode2": 0x11,
        "fields": {"duration_code": 17, "duration_s": 578},
    }
    assert lines[1]["name"] == "link_ack"
    assert lines[2]["fields"]["state_name"] == "RUNNING_CURTAILED"
    assert result.stderr == ""


def test_decode_intermediate_fields() -> None:
    result = run_module(
        "ven_edge", "cta2045", "decode", "08 02 00 0A 03 83 00 00 03 00 00 78 80 00 36 88"
    )
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    assert decoded["name"] == "get_set_point_reply"
    assert (decoded["opcode1"], decoded["opcode2"]) == (3, 0x83)
    assert decoded["fields"]["set_point_1"] == 120
    assert decoded["fields"]["set_point_2"] is None
    assert decoded["fields"]["temperature_unit"] == "degF"


def test_bad_frames_exit_non_zero_with_precise_messages() -> None:
    result = run_module(
        "ven_edge",
        "cta2045",
        "decode",
        "08 01 00 02 03 02 04 42",
        "08 01 00 02 01",
        "08 01 00 02 1F 00 00 00",
        "08 01 00 02 01 00 0C 3D",
        "zz",
    )
    assert result.returncode == 1
    err = result.stderr.splitlines()
    assert err[0] == (
        "frame 1 (08 01 00 02 03 02 04 42): checksum error: "
        "expected check bytes 02 43, received 04 42"
    )
    assert err[1].startswith("frame 2 (08 01 00 02 01): length mismatch: length field 0x0002")
    assert "got 5 bytes (3 missing)" in err[1]
    assert err[2].startswith("frame 3")
    assert "checksum error" in err[2]
    assert err[3] == "frame 5 (zz): not hex: 'z' in 'zz'"
    # The good frame among the bad ones is still decoded.
    assert [json.loads(x)["name"] for x in result.stdout.splitlines()] == ["shed"]


def test_decode_unknown_opcode() -> None:
    from ven_edge.cta2045.frames import Frame

    raw = Frame(0x0801, b"\x1f\x00").serialize().hex()
    result = run_module("ven_edge", "cta2045", "decode", raw)
    assert result.returncode == 1
    assert "unknown opcode1 0x1F for BASIC_DR (0801)" in result.stderr


def test_decode_from_stdin_and_as_stream() -> None:
    result = run_module("ven_edge", "cta2045", "decode", input="08 01 00 00 7E CD\n\n15 05\n")
    assert result.returncode == 0, result.stderr
    names = [json.loads(x)["name"] for x in result.stdout.splitlines()]
    assert names == ["message_type_supported_query", "link_nak"]

    result = run_module(
        "ven_edge", "cta2045", "decode", "--stream", "00 06 00 08 01 00 02 03 01 04 42 08 01"
    )
    assert result.returncode == 1  # garbage and a truncated frame are reported
    names = [json.loads(x)["name"] for x in result.stdout.splitlines()]
    assert names == ["link_ack", "app_ack"]
    assert "discarded 1 byte(s): 00" in result.stderr
    assert "rejected (MESSAGE_TIMEOUT)" in result.stderr


def test_messages_lists_the_table() -> None:
    result = run_module("ven_edge", "cta2045", "messages", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["name"] for r in rows] == [spec.name for spec in MESSAGES]
    shed = next(r for r in rows if r["name"] == "shed")
    assert shed == {
        "name": "shed",
        "msg_type": "0801",
        "opcodes": "01",
        "payload_length": "2",
        "direction": "UCM->SGD",
        "reply": "app_ack",
        "fields": ["duration_code", "duration_s"],
        "summary": shed["summary"],
    }
    text = run_module("ven_edge", "cta2045", "messages")
    assert text.returncode == 0
    assert "0802 06 80 get_commodity_read_reply" in text.stdout
    assert "len 3 + 13·N" in text.stdout


def test_cta2045_without_action_prints_usage() -> None:
    result = run_module("ven_edge", "cta2045")
    assert result.returncode == 2
    assert "decode" in result.stderr
    assert "messages" in result.stderr
