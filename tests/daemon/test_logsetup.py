import io
import logging
import os
from pathlib import Path

import pytest

from ven_edge import logsetup


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_terminal_logging_uses_plain_stderr_format() -> None:
    stream = io.StringIO()
    logsetup.configure_logging("DEBUG", stream=stream, environ={})
    logging.getLogger("ven_edge.test").warning("heater link down on %s", "/dev/ttyUSB0")
    assert "WARNING ven_edge.test: heater link down on /dev/ttyUSB0" in stream.getvalue()


def test_journal_stream_detected_only_for_the_announced_stream(tmp_path: Path) -> None:
    with open(tmp_path / "journal", "w") as stream:
        info = os.fstat(stream.fileno())
        announced = f"{info.st_dev}:{info.st_ino}"
        assert logsetup.stream_is_journal(stream, {"JOURNAL_STREAM": announced})
        assert not logsetup.stream_is_journal(stream, {"JOURNAL_STREAM": "1:2"})
        assert not logsetup.stream_is_journal(stream, {})


def test_priority_prefix_without_python_systemd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(logsetup, "journal_handler", lambda: None)
    path = tmp_path / "journal"
    with open(path, "w") as stream:
        info = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        logsetup.configure_logging("INFO", stream=stream, environ=env)
        logging.getLogger("ven_edge.x").error("bad frame")
        logging.getLogger("ven_edge.x").info("commissioned")
        logging.getLogger("ven_edge.x").debug("not shown")
    assert path.read_text().splitlines() == [
        "<3>ven_edge.x: bad frame",
        "<6>ven_edge.x: commissioned",
    ]


def test_journal_handler_used_when_available(tmp_path: Path) -> None:
    with open(tmp_path / "journal", "w") as stream:
        info = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        handler = logsetup.configure_logging("INFO", stream=stream, environ=env)
    assert type(handler).__name__ == "JournalHandler"
