"""Logging for the daemon: the systemd journal when the service runs under it, stderr otherwise.

systemd tells a service that its stderr is connected to the journal through ``JOURNAL_STREAM``
(``<device>:<inode>`` of that stream, systemd.exec(5)). Then records go to the journal with their
priority and logger name as fields (python-systemd's ``JournalHandler``), or, when that module is
missing, to stderr with the ``<N>`` syslog priority prefix journald understands
(``SyslogLevelPrefix=yes``, the default). ``JournalHandler`` silently drops records when journald
is absent, so it is only used when the stream check proves journald is there.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# syslog(3) priorities for the <N> prefix.
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _PriorityPrefixFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = max((lvl for lvl in _PRIORITY if lvl <= record.levelno), default=logging.DEBUG)
        return f"<{_PRIORITY[level]}>{super().format(record)}"


def stream_is_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True when ``stream`` is the journal stream systemd announced in ``JOURNAL_STREAM``."""
    value = environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not device or not inode:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return f"{info.st_dev}:{info.st_ino}" == value


def journal_handler() -> logging.Handler | None:
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        return None
    handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER="ven-edge")
    return handler


def configure_logging(
    level: str | int = "INFO",
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Install one handler on the root logger and return it."""
    stream = sys.stderr if stream is None else stream
    env = os.environ if environ is None else environ
    handler: logging.Handler
    if stream_is_journal(stream, env):
        journal = journal_handler()
        if journal is not None:
            handler = journal
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        else:
            handler = logging.StreamHandler(stream)
            handler.setFormatter(_PriorityPrefixFormatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
