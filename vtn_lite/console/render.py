"""Pages from the template files in ``templates/`` (``string.Template``, ``$name`` fields).

Every value is HTML-escaped when it is substituted unless it is a :class:`Safe` fragment, which
only this package builds (from escaped parts): VEN names, event names and report values that
come from clients can never become markup.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template
from typing import Final

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"


class Safe(str):
    """Markup built from escaped parts; substituted as is."""


def esc(value: object) -> Safe:
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


def join(parts: list[Safe] | list[str], sep: str = "") -> Safe:
    return Safe(sep.join(esc(part) for part in parts))


def tag(name: str, content: object = "", **attrs: object) -> Safe:
    """``<name attr="...">content</name>``; ``class_`` for class, ``data_x`` for data-x."""
    rendered = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{esc(value)}"'
        if value is not True
        else f" {key.rstrip('_').replace('_', '-')}"
        for key, value in attrs.items()
        if value is not None and value is not False
    )
    return Safe(f"<{name}{rendered}>{esc(content)}</{name}>")


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def render(template: str, /, **values: object) -> str:
    return _template(template).substitute({key: esc(value) for key, value in values.items()})
