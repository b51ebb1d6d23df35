"""URLs and error texts shown in the log, on the page and by ``ven-edge check`` hide secrets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:secret@vtn.example.com:8443/oadr3/?token=abc#x",
            "https://vtn.example.com:8443/oadr3/",
        ),
        ("http://127.0.0.1:8000/openadr3/3.1.0", "http://127.0.0.1:8000/openadr3/3.1.0"),
        ("http://[::1]:8000/api", "http://[::1]:8000/api"),
        ("https://key@vtn.example.com", "https://vtn.example.com"),
        ("http://[::1", "(invalid URL)"),
        (None, None),
    ],
)
def test_redact_url(url: str | None, shown: str | None) -> None:
    assert redact_url(url) == shown


def test_a_secret_spelled_bearer_hides_only_itself() -> None:
    url = "https://000:BEARER@a.com?client_secret=BEARER#BEARER"
    assert (
        redact_text(f"GET {url} failed; Bearer abc")
        == "GET https://a.com failed; Bearer [redacted]"
    )


def test_query_values_of_urls_in_text_are_dropped() -> None:
    text = "using https://vtnuser:S3cretPw@vtn.example/oadr3?site=4711&apikey=K9/auth/token (x)"
    assert redact_text(text) == "using https://vtn.example/oadr3 (x)"


def test_secret_parameters_outside_urls_are_hidden() -> None:
    assert redact_text("form client_secret=hunter2&grant_type=x") == (
        "form client_secret=[redacted]&grant_type=x"
    )


@given(
    user=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=3, max_size=12),
    password=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=6, max_size=20),
    host=st.from_regex(r"[a-z]{1,10}\.(com|net|local)", fullmatch=True),
    path=st.from_regex(r"(/[a-z0-9]{1,8}){0,3}", fullmatch=True),
    query=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=6, max_size=20),
)
def test_redacted_url_never_shows_credentials(
    user: str, password: str, host: str, path: str, query: str
) -> None:
    url = f"https://{user}:{password}@{host}{path}?site={query}&client_secret={password}#{password}"
    assert redact_url(url) == f"https://{host}{path}"
    assert redact_text(f"GET {url} failed") == f"GET https://{host}{path} failed"


def test_redact_error_text() -> None:
    text = (
        "POST https://ven:hunter2@vtn.example/auth/token failed; Authorization: Bearer eyJabc.def"
    )
    cleaned = redact_text(text)
    assert cleaned is not None
    assert "hunter2" not in cleaned
    assert "eyJabc" not in cleaned
    assert "https://vtn.example/auth/token" in cleaned
