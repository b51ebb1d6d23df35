"""The gateway's layers point one way and its import graph has no cycle (docs/architecture.md).

Every import statement counts: module level, inside functions (the CLI's lazy imports) and under
``if TYPE_CHECKING`` (a type-only import still ties the two modules together for a reader and for
mypy). A new module must be placed in a layer below, which is the point: where it belongs is a
decision, not an accident.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

#: Layers from the bottom; a module may import its own layer and the layers before it. The first
#: matching prefix (longest first) places a module; a prefix ending in "." is a package's modules.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",  # no protocol, no policy: names, files, clocks, logs, configuration
        (
            "ven_edge",
            "ven_edge.redact",
            "ven_edge.paths",
            "ven_edge.clock",
            "ven_edge.units",
            "ven_edge.clocksync",
            "ven_edge.logsetup",
            "ven_edge.errorlog",
            "ven_edge.sdnotify",
            "ven_edge.store",
            "ven_edge.config",
            # The TLS pieces of the configuration (stdlib only): ven_edge.config checks with it.
            "ven_edge.oadr2b.tlsconf",
            "ven_edge.cta2045",
            "ven_edge.oadr3",
            "ven_edge.oadr2b",
            "ven_edge.plan",
            "ven_edge.web",
        ),
    ),
    (
        "wire",  # bytes and JSON in, values out: codecs and the internal signal model
        (
            "ven_edge.signals",
            "ven_edge.cta2045.frames",
            "ven_edge.cta2045.fields",
            "ven_edge.cta2045.table",
            "ven_edge.cta2045.encodings",
            "ven_edge.cta2045.command_kind",
            "ven_edge.cta2045.message",
            "ven_edge.cta2045.typed",
            "ven_edge.cta2045.typegen",
            "ven_edge.cta2045.codec",
            "ven_edge.cta2045.messages",
            "ven_edge.cta2045.stream",
            "ven_edge.cta2045.errors",
            "ven_edge.oadr3.operations",
            "ven_edge.oadr3.timefmt",
            "ven_edge.oadr3.eventparse",
            "ven_edge.oadr3.boundedjson",
            "ven_edge.oadr3.spans",
            "ven_edge.oadr3.errors",
            "ven_edge.oadr3.readings",
            "ven_edge.oadr3.reportbodies",
            "ven_edge.oadr3.planning",
            "ven_edge.oadr2b.ns",
            "ven_edge.oadr2b.codes",
            "ven_edge.oadr2b.errors",
            "ven_edge.oadr2b.xmlsafe",
            "ven_edge.oadr2b.build",
            "ven_edge.oadr2b.timevalues",
            "ven_edge.oadr2b.events",
            "ven_edge.oadr2b.envelope",
            "ven_edge.oadr2b.distribute",
            "ven_edge.oadr2b.replies",
            "ven_edge.oadr2b.registration",
            "ven_edge.oadr2b.reports",
            "ven_edge.oadr2b.signalmap",
            "ven_edge.oadr2b.xmlsig",
        ),
    ),
    (
        "engines",  # protocol state: the CTA-2045 link and session, the OpenADR client and reports
        (
            "ven_edge.cta2045.transport",
            "ven_edge.cta2045.link",
            "ven_edge.cta2045.driver",
            "ven_edge.cta2045.device",
            "ven_edge.cta2045.ucm",
            "ven_edge.oadr3.backoff",
            "ven_edge.oadr3.timeline",
            "ven_edge.oadr3.vtnhttp",
            "ven_edge.oadr3.eventstore",
            "ven_edge.oadr3.client",
            "ven_edge.oadr3.mqttloop",
            "ven_edge.oadr3.push",
            "ven_edge.oadr3.webhook",
            "ven_edge.oadr3.mqttpush",
            "ven_edge.oadr3.reporttiming",
            "ven_edge.oadr3.readinglog",
            "ven_edge.oadr3.reports",
            "ven_edge.oadr3.outbox",
            "ven_edge.oadr3.link",
            "ven_edge.oadr2b.eventbook",
            "ven_edge.oadr2b.engine",
            "ven_edge.oadr2b.vtnhttp",
            "ven_edge.oadr2b.outbox",
            "ven_edge.oadr2b.link",
        ),
    ),
    (
        "control",  # the core: planning, the control loop, and its ports onto the engines
        (
            "ven_edge.plan.",
            "ven_edge.signal_profile",
            "ven_edge.command_policy",
            "ven_edge.heater_commands",
            "ven_edge.household",
            "ven_edge.control",
            "ven_edge.ports",
            "ven_edge.heater_port",
            "ven_edge.grid_port",
            "ven_edge.oadr2b_port",
            "ven_edge.status_model",
        ),
    ),
    (
        "daemon",  # wiring, the status page and the command line
        (
            "ven_edge.daemon",
            "ven_edge.run",
            "ven_edge.check",
            "ven_edge.cli",
            "ven_edge.__main__",
            "ven_edge.web.",
            "ven_edge.cta2045.cli",
            "ven_edge.cta2045.cli_send",
            "ven_edge.plan.cli",
        ),
    ),
)

#: Imports against the layers that the code has today, each (importer, imported). The list may
#: only shrink: an entry that no longer matches an import fails the test too.
ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset()


#: Top-level packages the gateway never imports: the bench and the lab VTN are not in its .deb.
FORBIDDEN_PACKAGES = ("hil", "vtn_lite")


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every name an import statement anywhere in ``path`` may denote, with its line: for
    ``from a import b`` both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


def import_graph(root: Path, package: str) -> dict[str, dict[str, int]]:
    """Module -> {imported module or forbidden name: line}, within ``package`` and the
    forbidden packages."""
    modules = module_files(root, package)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for name, line in imported_names(module, path):
            forbidden = name.split(".")[0] in FORBIDDEN_PACKAGES
            if forbidden or (name in modules and name != module):
                edges.setdefault(name, line)
        graph[module] = edges
    return graph


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            hit = module.startswith(prefix) if prefix.endswith(".") else module == prefix
            if hit and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank)
    return None if best is None else best[1]


def find_cycle(graph: Mapping[str, Mapping[str, int]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, successors = stack[-1]
            nxt = next((s for s in successors if s in graph and s not in done), None)
            if nxt is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            else:
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
                on_path.add(nxt)
    return None


def layer_violations(graph: Mapping[str, Mapping[str, int]]) -> list[str]:
    problems = []
    for module, edges in sorted(graph.items()):
        rank = layer_of(module)
        if rank is None:
            problems.append(f"{module} is in no layer: place it in LAYERS")
            continue
        for name, line in sorted(edges.items()):
            if name.split(".")[0] in FORBIDDEN_PACKAGES:
                problems.append(f"{module}:{line} imports {name} (not shipped with the gateway)")
                continue
            target = layer_of(name)
            if target is None or target <= rank or (module, name) in ALLOWED_UPWARD:
                continue
            problems.append(
                f"{module}:{line} ({LAYERS[rank][0]}) imports {name} ({LAYERS[target][0]})"
            )
    return problems


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    return import_graph(REPO_ROOT, "ven_edge")


def test_the_gateway_imports_only_down_its_layers(graph: dict[str, dict[str, int]]) -> None:
    assert layer_violations(graph) == []


def test_the_allowed_upward_imports_still_exist(graph: dict[str, dict[str, int]]) -> None:
    # An allowance whose import is gone would let the same import come back unnoticed.
    stale = sorted(pair for pair in ALLOWED_UPWARD if pair[1] not in graph.get(pair[0], {}))
    assert stale == [], "remove these from ALLOWED_UPWARD"


def test_the_gateway_import_graph_has_no_cycle(graph: dict[str, dict[str, int]]) -> None:
    assert find_cycle(graph) is None


def test_no_gateway_module_imports_pydantic() -> None:
    """The gateway parses OpenADR by hand; the pydantic wire models are vtn_lite's, so the
    gateway's package neither ships nor depends on pydantic (docs/packaging.md)."""
    found = [
        f"{module}:{line}"
        for module, path in module_files(REPO_ROOT, "ven_edge").items()
        for name, line in imported_names(module, path)
        if name.split(".")[0] in ("pydantic", "pydantic_core")
    ]
    assert found == []


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The checks on a made-up package: a cycle through a function-level import, a type-only
    upward import, and an import of the bench."""
    package = tmp_path / "ven_edge"
    (package / "cta2045").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cta2045" / "__init__.py").write_text("")
    (package / "signals.py").write_text("def f():\n    from ven_edge import control\n")
    (package / "control.py").write_text("from ven_edge.signals import f\n")
    (package / "cta2045" / "frames.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import link\n"
        "import hil.sim\n"
    )
    (package / "cta2045" / "link.py").write_text("")
    made_up = import_graph(tmp_path, "ven_edge")
    assert find_cycle(made_up) == ["ven_edge.control", "ven_edge.signals", "ven_edge.control"]
    assert layer_violations(made_up) == [
        "ven_edge.cta2045.frames:4 imports hil.sim (not shipped with the gateway)",
        "ven_edge.cta2045.frames:3 (wire) imports ven_edge.cta2045.link (engines)",
        "ven_edge.signals:2 (wire) imports ven_edge.control (control)",
    ]
