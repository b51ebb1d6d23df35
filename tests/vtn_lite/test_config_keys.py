"""Unknown configuration keys are errors naming where the key belongs or the closest known key,
never silently ignored (a misplaced ``database`` would run the VTN in memory and lose its data).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtn_lite.config import ConfigError, load_config

HASH = "scrypt$1$1$1$a$b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # A key written above [server] lands at the top level.
        ('database = "vtn.sqlite"\n[server]\nport = 8081\n', r"top level.*'database'.*\[server\]"),
        ("port = 8081\n", r"'port'; it belongs in \[server\]"),
        # A server key written after a [[clients]] entry lands in that entry.
        (
            f'[[clients]]\nclient_id = "a"\nsecret_hash = "{HASH}"\nrole = "bl"\n'
            'database = "vtn.sqlite"\n',
            r"\[\[clients\]\] has an unknown key 'database'; it belongs in \[server\]",
        ),
        ('[server]\ndatabse = "vtn.sqlite"\n', "did you mean 'database'"),
        ("[server]\nauth_windw = 10\n", "did you mean 'auth_window'"),
        ('[server]\nrole = "bl"\n', r"belongs in a \[\[clients\]\] entry"),
        ("[sever]\nport = 1\n", "did you mean 'server'"),
        (
            f'[[clients]]\nclient_id = "a"\nsecret_hash = "{HASH}"\nrole = "bl"\nrolle = "x"\n',
            "did you mean 'role'",
        ),
        ('clients = "a"\n', "array of tables"),
    ],
)
def test_unknown_keys_are_rejected_with_a_hint(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "vtn.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_documented_example_still_loads(tmp_path: Path) -> None:
    from vtn_lite import config

    assert config.__doc__ is not None
    example = config.__doc__.split("```toml\n", 1)[1].split("```", 1)[0]
    example = example.replace("scrypt$...", HASH)
    example = "\n".join(line for line in example.splitlines() if not line.startswith("tls_"))
    path = tmp_path / "vtn.toml"
    path.write_text(example)
    loaded = load_config(path)
    assert loaded.database == "/var/lib/vtn-lite/vtn.sqlite"
    assert loaded.clients[0].client_id == "bl_client"
