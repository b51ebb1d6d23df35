import os
import subprocess
import sys

from ven_edge import __version__
from ven_edge.cli import EXIT_BROKEN_PIPE, main

from .conftest import REPO_ROOT, run_module


def test_version_subprocess() -> None:
    result = run_module("ven_edge", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ven-edge {__version__}"


def test_no_command_prints_help_and_fails(capsys) -> None:
    assert main([]) == 2
    assert "usage: ven-edge" in capsys.readouterr().err


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    """`ven-edge cta2045 messages | head`: the pipe closes before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first write: EPIPE every time
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        result = subprocess.run(
            [sys.executable, "-m", "ven_edge", "cta2045", "messages"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == EXIT_BROKEN_PIPE
