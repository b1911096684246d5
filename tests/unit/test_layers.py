"""The backends never see HTTP: no module of ``mockserver.backends`` reaches, through any
chain of imports (type-only ones included), the request path, the delivery engine or an
HTTP library. design.md: "Backends never see a request object"."""

from __future__ import annotations

import ast

from tests.unit.test_import_cycles import ROOT, import_graph, module_name

REQUEST_PATH = {
    "mockserver.app",
    "mockserver.gateway",
    "mockserver.pipeline",
    "mockserver.answers",
    "mockserver.request_context",
    "mockserver.runtime",
    "mockserver.callbacks",
}
HTTP_LIBRARIES = {"aiohttp", "starlette", "connexion", "uvicorn", "httpx"}


def reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def third_party(module: str) -> set[str]:
    """The top-level names of what ``module`` imports from outside ``mockserver``."""
    path = ROOT.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_no_backend_reaches_the_request_path_or_an_http_library() -> None:
    graph = import_graph()
    backends = [name for name in graph if name.startswith("mockserver.backends")]
    assert "mockserver.backends.dr.backend" in backends
    found = []
    for backend in sorted(backends):
        reached = reach(graph, backend) | {backend}
        found += [f"{backend} reaches {m}" for m in sorted(reached & REQUEST_PATH)]
        found += [
            f"{backend} reaches {lib} (through {m})"
            for m in sorted(reached)
            for lib in sorted(third_party(m) & HTTP_LIBRARIES)
        ]
    assert found == []


def test_the_check_sees_a_reach_through_a_chain() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert reach(graph, "a") == {"b", "c"}
    assert "aiohttp" in third_party(module_name(ROOT / "callbacks.py"))
