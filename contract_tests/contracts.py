"""The kit's oracle: the vendor specs and what they document, nothing of the server's.

Everything the kit judges by comes from the documents in ``openapi/`` (the repaired
Business Connect spec, the ThinQ asynchronous spec, the ThinQ Connect spec) through
``lgspecs`` (the loader, the mount table and the parsing of their code tables), which
the server reads too. The kit
never imports the server, nor reads its catalogues, so a wrong constant in the server is caught here
rather than agreed with. ``tests/contract/test_independence.py`` enforces it.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from lgspecs import mounts, tables
from lgspecs.tables import DocumentedOperation

APIS = ("bc", "thinq", "connect")
# The User-Agent of every request the kit sends, so a client report can leave the kit's
# own (often deliberately invalid) traffic out of the client's.
KIT_USER_AGENT = "lgmock-contract"


def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{KIT_USER_AGENT}/{version('lgmock')}"
    except PackageNotFoundError:
        return f"{KIT_USER_AGENT}/dev"


@dataclass(frozen=True)
class ApiContract:
    """One vendor API as its spec documents it."""

    name: str  # "bc" | "thinq" | "connect"
    document: dict[str, Any]
    operations: tuple[DocumentedOperation, ...]
    success_codes: frozenset[str]  # what a 2xx carries (BC 2000, ThinQ 0000)

    @property
    def error_codes(self) -> frozenset[str]:
        return frozenset(code for op in self.operations for code in op.error_codes)

    def code_statuses(self) -> dict[str, set[int]]:
        return tables.code_statuses(list(self.operations))


def mount(name: str) -> mounts.Mount:
    """The server's mount table row of an API ("bc", "thinq", "sandbox"): its URL prefix."""
    for row in mounts.MOUNTS:
        if row.api.value == name:
            return row
    raise ValueError(f"unknown API {name!r}: use {', '.join(m.api.value for m in mounts.MOUNTS)}")


def api_root(base_url: str, name: str) -> str:
    """Where a server at ``base_url`` serves the spec's paths of API ``name``.

    Business Connect's paths (`/v1/...`) sit under its mount (`/bc`); the ThinQ spec's
    paths already begin with theirs (`/v2/...`).
    """
    path = next(iter(contract(name).document.get("paths") or {"/": None}))
    served = mount(name).served_path(path)
    return base_url.rstrip("/") + served[: len(served) - len(path)]


@cache
def contract(name: str) -> ApiContract:
    if name not in APIS:
        raise ValueError(f"unknown API {name!r}: use {', '.join(APIS)}")
    document = mount(name).document()
    operations = tuple(tables.operations(document, name))
    return ApiContract(name, document, operations, tables.success_codes(list(operations)))


@cache
def operation(operation_id: str) -> DocumentedOperation | None:
    """An operation of a vendor spec by its operationId (they are unique across the specs)."""
    for name in APIS:
        for documented in contract(name).operations:
            if documented.operation_id == operation_id:
                return documented
    return None


def push_types() -> tuple[str, ...]:
    """Every pushType of a ThinQ callback, from the spec's PushType enum."""
    return tables.push_types(contract("thinq").document)


def message_push_types() -> tuple[str, ...]:
    return tables.message_push_types(contract("thinq").document)


def new_message_id() -> str:
    """A fresh X-Message-Id in the format both specs demand: url-safe base64 of a UUIDv4."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
