from ven_edge import __version__
from ven_edge.cli import main

from .conftest import run_module


def test_version_subprocess() -> None:
    result = run_module("ven_edge", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ven-edge {__version__}"


def test_no_command_prints_help_and_fails(capsys) -> None:
    assert main([]) == 2
    assert "usage: ven-edge" in capsys.readouterr().err
