"""The configuration files the packages install as conffiles are valid for their programs."""

from __future__ import annotations

from pathlib import Path

from ven_edge.config import Config
from ven_edge.config import load_config as load_ven_edge
from vtn_lite.config import load_config as load_vtn_lite

ETC = Path(__file__).resolve().parents[2] / "etc"


def test_ven_edge_conffile_is_the_default_configuration() -> None:
    assert load_ven_edge(ETC / "ven-edge.toml") == Config()


def test_vtn_lite_conffile_serves_loopback_from_the_state_directory() -> None:
    config = load_vtn_lite(ETC / "vtn-lite.toml")
    assert config.host == "127.0.0.1"  # vtn-lite.service allows localhost only
    assert config.port != Config().web.port  # both services can run on one gateway
    # StateDirectory=vtn-lite in vtn-lite.service is the only writable place for the service.
    assert Path(config.database).parent == Path("/var/lib/vtn-lite")
    assert config.clients == ()
