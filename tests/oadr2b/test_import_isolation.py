"""OpenADR 3 mode never loads the 2.0b stack: no ven_edge.oadr2b module, no lxml, no signxml
(checked in a fresh interpreter, since this test process has them loaded already)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

PROBE = """
import json, sys, tempfile
from pathlib import Path
from ven_edge.clock import WallClock
from ven_edge.config import parse_config
from ven_edge.run import build_grid
from ven_edge.store import StateStore
import ven_edge.cli, ven_edge.daemon, ven_edge.check  # everything `ven-edge run` imports
state = Path(tempfile.mkdtemp())
vtn = {"url": "http://127.0.0.1:9/base", "protocol": sys.argv[1]}
grid = build_grid(parse_config({"vtn": vtn}), StateStore(state), WallClock())
third_party = ("lxml", "signxml", "openleadr")
loaded = [m for m in sys.modules
          if m.split(".")[0] in third_party or m.startswith("ven_edge.oadr2b")]
print(json.dumps({"grid": type(grid).__name__, "loaded": sorted(loaded)}))
"""


def _probe(protocol: str, tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, protocol],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_openadr3_mode_imports_no_2_0b_module(tmp_path: Path) -> None:
    result = _probe("3", tmp_path)
    assert result["grid"] == "VtnGridPort"
    assert result["loaded"] == []


def test_2_0b_mode_loads_its_stack(tmp_path: Path) -> None:
    """The probe can see the modules: in 2.0b mode they are there (and signxml still is not)."""
    result = _probe("2.0b", tmp_path)
    assert result["grid"] == "Oadr2bGridPort"
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    assert "lxml" in loaded
    assert "ven_edge.oadr2b.engine" in loaded
    assert not any(m.startswith(("signxml", "openleadr")) for m in loaded)
