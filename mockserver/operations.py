"""Which operation a request is, before connexion sees it.

The journal and the fault rules work in the outermost ASGI layer (a fault may drop the
connection before any framework code runs), so they need their own cheap answer to
"which operationId, which path parameters, which API": a table compiled once from the
same specs connexion serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mockserver import specs
from mockserver.specs import Api

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
    for mount in specs.MOUNTS:
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


def find(method: str, path: str) -> Operation | None:
    for operation in table():
        if operation.method == method and operation.pattern.match(path):
            return operation
    return None


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods some operation answers at ``path``: a 405's Allow header (RFC 9110)."""
    methods = {op.method for op in table() if op.pattern.match(path)}
    return tuple(method.upper() for method in HTTP_METHODS if method.upper() in methods)
