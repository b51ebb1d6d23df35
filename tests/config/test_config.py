"""The configuration loader: defaults, the example file, errors that name the key and the fix."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.config import (
    CTA2045_MAX_HEARTBEAT_S,
    Config,
    ConfigError,
    Secret,
    load_config,
    parse_config,
)
from ven_edge.paths import DEFAULT_CONFIG_PATH, DEFAULT_STATE_DIR, config_path, state_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "etc" / "ven-edge.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ven-edge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def test_empty_file_gives_the_embedded_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config == Config()
    assert config.heater.baud == 19200
    assert config.vtn.verify_tls is True
    assert config.web.host == "127.0.0.1"
    assert config.web.port == 8080
    assert config.state.dir == DEFAULT_STATE_DIR
    assert config.vtn.url is None


def test_example_file_validates_and_matches_the_defaults() -> None:
    # The shipped example documents the defaults: if they drift apart, one of them is wrong.
    assert load_config(EXAMPLE) == Config()


def _leaf_keys(cls: type, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            keys |= _leaf_keys(type(default), f"{prefix}{f.name}.")
        else:
            keys.add(prefix + f.name)
    return keys


def test_example_file_mentions_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in _leaf_keys(Config):
        if key == "vtn.client_secret":
            continue  # deliberately undocumented in the example: use client_secret_file
        assert f"{key.rsplit('.', 1)[-1]} =" in text, key


def test_a_full_file_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    secret.chmod(0o640)
    config = load_config(
        write(
            tmp_path,
            f"""
            [vtn]
            url = "https://vtn.example.com/openadr3/3.0.1"
            version = "3.0.1"
            client_id = "ven-1"
            client_secret_file = "{secret.name}"
            targets = ["group-1", "feeder-7"]
            poll_interval_s = 10
            [vtn.webhook]
            enabled = true
            port = 9000
            public_url = "https://gw.example.com/notify"
            [heater]
            port = "/dev/ttyAMA0"
            heartbeat_s = 900
            [plan]
            strategy = "percentile"
            tank_capacity_kwh = 12
            [log]
            level = "debug"
            """,
        )
    )
    assert config.vtn.version == "3.0.1"
    assert config.vtn.client_secret == Secret("s3cr3t")
    assert config.vtn.client_secret_file == secret  # relative to the config file
    assert config.vtn.targets == ("group-1", "feeder-7")
    assert config.vtn.poll_interval_s == 10.0
    assert isinstance(config.vtn.poll_interval_s, float)
    assert config.vtn.webhook.port == 9000
    assert config.heater.heartbeat_s == CTA2045_MAX_HEARTBEAT_S
    assert config.plan.strategy == "percentile"
    assert config.plan.tank_capacity_kwh == 12.0
    assert config.log.level == "debug"


def test_heartbeat_above_the_cta2045_limit_names_key_value_and_reason(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "[heater]\nheartbeat_s = 1200\n") == (
        "heater.heartbeat_s = 1200: must be at most 900 (CTA-2045 outside-comm heartbeat ≤ 15 min)",
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        '[heater]\nbaud = "19200"\nheartbeat_s = 0\n'
        '[web]\nport = 70000\n[log]\nlevel = "verbose"\n',
    )
    assert problems == (
        'heater.baud = "19200": must be a whole number (write it without quotes)',
        "heater.heartbeat_s = 0: must be at least 1 (CTA-2045 outside-comm heartbeat ≤ 15 min)",
        "web.port = 70000: must be at most 65535 (a TCP port)",
        'log.level = "verbose": must be one of "debug", "info", "warning", "error"',
    )


def test_unknown_keys_and_sections_suggest_the_right_name(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[heater]\nheartbeat = 60\n[vtn.webhok]\nenabled = true\n")
    # Problems come in schema order: [vtn] before [heater].
    assert problems[0].startswith("vtn.webhok: unknown key; did you mean 'webhook'?")
    assert "keys in [vtn]:" in problems[0]
    assert problems[1].startswith("heater.heartbeat: unknown key; did you mean 'heartbeat_s'?")
    (top,) = problems_of(tmp_path, "[vnt]\nurl = 'x'\n")
    assert top.startswith("vnt: unknown key; did you mean 'vtn'?")


def test_choice_typo_suggests_the_choice(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, '[plan]\nstrategy = "fractoin"\n')
    assert problem.endswith("did you mean 'fraction'?")


def test_section_given_as_a_value_is_rejected(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "heater = 5\n") == ("heater: must be a table like [heater]",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[vtn]\nurl = "ftp://x"\n', 'vtn.url = "ftp://x": must be an http(s) URL'),
        ('[vtn]\nurl = "http://vtn.example.com"\n', "plain http is only allowed to this machine"),
        ('[vtn]\nclient_id = "a"\n', "vtn.client_secret_file: missing"),
        ('[vtn]\nclient_secret = "a"\n', "vtn.client_id: missing"),
        ("[vtn.webhook]\nenabled = true\n", "vtn.webhook.public_url: missing"),
        ("[plan]\nstep_minutes = 7\n", "plan.step_minutes = 7: must divide an hour"),
        (
            "[plan]\nreserve_kwh = 5\ntank_capacity_kwh = 4\n",
            "plan.reserve_kwh = 5.0: must be less than plan.tank_capacity_kwh (4)",
        ),
        ('[heater]\nmodel = "nowhere.json"\n', "does not exist: fix the path or remove the key"),
        ("[vtn]\nverify_tls = 1\n", "vtn.verify_tls = 1: must be true or false"),
        ("[vtn]\ntargets = [1]\n", "vtn.targets = [1]: must be a list of strings"),
        ("[vtn]\npoll_interval_s = nan\n", "vtn.poll_interval_s = nan: must be a finite number"),
    ],
)
def test_cross_field_and_type_errors(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, text)
    assert any(expected in p for p in problems), problems


def test_loopback_http_vtn_is_allowed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[vtn]\nurl = "http://127.0.0.1:8000/openadr3"\n'))
    assert config.vtn.url == "http://127.0.0.1:8000/openadr3"


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o660, 0o700])
def test_secret_file_readable_by_others_is_refused_with_the_chmod(
    tmp_path: Path, mode: int
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("hunter2")
    secret.chmod(mode)
    (problem,) = problems_of(tmp_path, f'[vtn]\nclient_id = "a"\nclient_secret_file = "{secret}"\n')
    assert f"mode {mode:04o}" in problem
    assert f"chmod 0640 {secret}" in problem
    assert "hunter2" not in problem


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400, 0o440])
def test_secret_file_modes_that_are_accepted(tmp_path: Path, mode: int) -> None:
    secret = tmp_path / "secret"
    secret.write_text("hunter2\n")
    secret.chmod(mode)
    config = load_config(
        write(tmp_path, f'[vtn]\nclient_id = "a"\nclient_secret_file = "{secret}"\n')
    )
    assert config.vtn.client_secret is not None
    assert config.vtn.client_secret.reveal() == "hunter2"


def test_secrets_never_show_in_reprs_or_errors(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[vtn]\nclient_id = "a"\nclient_secret = "hunter2"\n'))
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.vtn.client_secret)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[vtn]\nclient_secret = "hunter2"\nclient_secrte = "x"\n'))
    assert "hunter2" not in str(info.value)


def test_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("\n")
    secret.chmod(0o600)
    (problem,) = problems_of(tmp_path, f'[vtn]\nclient_id = "a"\nclient_secret_file = "{secret}"\n')
    assert "the file is empty" in problem


def test_missing_file_and_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")
    (problem,) = problems_of(tmp_path, "[heater\nport = 1\n")
    assert problem.startswith("not valid TOML:")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_error_text_counts_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "[web]\nport = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: 1 problem\n  web.port = 0: must be at least 1 (a TCP port)"


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.web.port = 1  # type: ignore[misc]


def test_paths_follow_systemd_directories() -> None:
    assert config_path({}) == DEFAULT_CONFIG_PATH
    assert state_dir({}) == DEFAULT_STATE_DIR
    env = {"STATE_DIRECTORY": "/var/lib/a:/var/lib/b", "CONFIGURATION_DIRECTORY": "/etc/x"}
    assert state_dir(env) == Path("/var/lib/a")
    assert config_path(env) == Path("/etc/x/ven-edge.toml")
    assert isinstance(state_dir(), Path)
    assert os.fspath(config_path())


toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.lists(st.text(max_size=5), max_size=3),
)
toml_tables = st.dictionaries(
    st.sampled_from(["vtn", "heater", "plan", "reports", "web", "state", "log", "xyz"]),
    st.dictionaries(
        st.sampled_from(
            [
                "url",
                "port",
                "baud",
                "heartbeat_s",
                "strategy",
                "level",
                "dir",
                "host",
                "enabled",
                "webhook",
                "targets",
                "step_minutes",
                "cadence_s",
                "reserve_kwh",
                "bogus",
            ]
        ),
        toml_scalars,
        max_size=5,
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(toml_tables)
def test_any_input_gives_a_config_or_a_config_error(data: dict[str, object]) -> None:
    problems: tuple[str, ...] = ()
    try:
        config: Config | None = parse_config(data)
    except ConfigError as exc:
        config, problems = None, exc.problems
    # Exactly one outcome: a configuration, or at least one non-empty problem line.
    assert (config is None) == bool(problems)
    assert all(isinstance(p, str) and p for p in problems)


def test_parse_config_accepts_tomllib_output() -> None:
    data = tomllib.loads("[reports]\ncadence_s = 60\n")
    assert parse_config(data).reports.cadence_s == 60.0


def test_configuration_doc_documents_every_key() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    text = doc.read_text(encoding="utf-8")
    for key in _leaf_keys(Config):
        assert f"| `{key}` |" in text, key


def test_the_file_may_name_its_version_and_a_newer_one_is_refused() -> None:
    assert parse_config(tomllib.loads("version = 1\n")) == Config()
    for text in ("version = 2\n", "version = 0\n", "version = true\n", 'version = "1"\n'):
        with pytest.raises(ConfigError) as caught:
            parse_config(tomllib.loads(text), source="t.toml")
        assert len(caught.value.problems) == 1, caught.value.problems
        assert caught.value.problems[0].startswith(f"version = {text.split(' = ')[1].strip()}:")
    with pytest.raises(ConfigError, match=r"must be at most 1 \(this release reads version 1"):
        parse_config({"version": 2})


def mqtt_pair(tmp_path: Path) -> tuple[Path, Path]:
    from tests.mqtt_certs import issue, make_ca

    ca = make_ca(tmp_path / "pki", "ca")
    client = issue(ca, tmp_path / "pki", "client", "gw-1", server=False)
    return client.cert, client.key


def test_mqtt_client_certificate_is_read(tmp_path: Path) -> None:
    cert, key = mqtt_pair(tmp_path)
    config = load_config(
        write(tmp_path, f'[vtn]\nmqtt_cert_file = "{cert}"\nmqtt_key_file = "{key}"\n')
    )
    assert (config.vtn.mqtt_cert_file, config.vtn.mqtt_key_file) == (cert, key)
    assert config.vtn.mqtt_ca_file is None


def test_mqtt_key_readable_by_others_is_refused_with_the_chmod(tmp_path: Path) -> None:
    cert, key = mqtt_pair(tmp_path)
    key.chmod(0o644)
    (problem,) = problems_of(
        tmp_path, f'[vtn]\nmqtt_cert_file = "{cert}"\nmqtt_key_file = "{key}"\n'
    )
    assert problem.startswith("vtn.mqtt_key_file")
    assert f"chmod 0640 {key}" in problem
    assert "BEGIN" not in problem  # never the key itself


def test_mqtt_certificate_half_or_mismatched_is_refused(tmp_path: Path) -> None:
    cert, _ = mqtt_pair(tmp_path)
    (problem,) = problems_of(tmp_path, f'[vtn]\nmqtt_cert_file = "{cert}"\n')
    assert "go together" in problem
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = mqtt_pair(other)
    (problem,) = problems_of(
        tmp_path, f'[vtn]\nmqtt_cert_file = "{cert}"\nmqtt_key_file = "{other_key}"\n'
    )
    assert "not usable with vtn.mqtt_cert_file" in problem
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\0" * 70_000)
    garbage.chmod(0o600)
    (problem,) = problems_of(
        tmp_path, f'[vtn]\nmqtt_cert_file = "{cert}"\nmqtt_key_file = "{garbage}"\n'
    )
    assert "too big for a private key" in problem
