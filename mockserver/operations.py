"""The route table: which operation a request is, compiled once from ``mounts.MOUNTS``.

The gateway asks it first (the journal and the fault rules need the operationId and
path parameters before anything else runs, and a fault may drop the connection), and
the pipeline serves the operation it names: one router for every served call. Paths
no operation has go to connexion's app, which answers 404 or 405 (``allowed_methods``
gives the 405's Allow header).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from lgspecs import mounts
from lgspecs.mounts import Api

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    api: Api
    operation_id: str
    method: str
    template: str  # the served path template, mount included
    pattern: re.Pattern[str]

    def path_params(self, path: str) -> dict[str, str]:
        match = self.pattern.match(path)
        return match.groupdict() if match else {}


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")


@cache
def table() -> tuple[Operation, ...]:
    operations = []
    for mount in mounts.MOUNTS:
        for path, item in mount.document().get("paths", {}).items():
            for method in HTTP_METHODS:
                operation = item.get(method)
                if isinstance(operation, dict) and operation.get("operationId"):
                    template = mount.served_path(path)
                    operations.append(
                        Operation(
                            mount.api,
                            operation["operationId"],
                            method.upper(),
                            template,
                            _compile(template),
                        )
                    )
    # Literal segments before templates, as the router does (/targets/batch first).
    operations.sort(key=lambda op: [(s.startswith("{"), s) for s in op.template.split("/")])
    return tuple(operations)


@cache
def _by_shape() -> dict[tuple[str, int], tuple[Operation, ...]]:
    """The table split by method and number of path segments: a request tries only the
    few operations of its shape, in the table's order (literal segments first)."""
    shapes: dict[tuple[str, int], list[Operation]] = {}
    for operation in table():
        key = (operation.method, operation.template.count("/"))
        shapes.setdefault(key, []).append(operation)
    return {key: tuple(ops) for key, ops in shapes.items()}


def find(method: str, path: str) -> Operation | None:
    for operation in _by_shape().get((method, path.count("/")), ()):
        if operation.pattern.match(path):
            return operation
    return None


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods some operation answers at ``path``: a 405's Allow header (RFC 9110)."""
    methods = {op.method for op in table() if op.pattern.match(path)}
    return tuple(method.upper() for method in HTTP_METHODS if method.upper() in methods)
