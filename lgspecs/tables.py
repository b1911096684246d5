"""What a spec document promises per operation: HTTP statuses, vendor codes, push types.

Read from the documents themselves, never from the server's catalogue, so the contract
kit (which imports nothing of the server, only ``lgspecs``) has an oracle of its own,
and ``lgmock spec lint`` reads the same tables. The vendor writes its code tables in
the response descriptions, one row per code::

    `4304`: Resource Not Found: Device<br>

Every status an operation lists is documented; the codes in its description are the
vendor codes that status may carry. A status listed without a table (DR's 405 "Not
Allowed") documents no code of its own: see ``DocumentedOperation.allowed_codes``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# A titled row of a code table: "`4304`: Resource Not Found: Device<br>".
CODE_ROW = re.compile(r"`(\d{4})`:\s*([^<\n]+)")
# Any code a description names, titled or not ("`4101` header, `4102` body").
CODE_MENTION = re.compile(r"`(\d{4})`")


@dataclass(frozen=True)
class DocumentedOperation:
    """One operation as its spec documents it."""

    api: str  # the mount's name: "bc" | "thinq"
    operation_id: str
    method: str  # upper case, as in "GET /v1/devices"
    path: str  # as written in the document
    # status -> the vendor codes its description documents (empty: none named)
    responses: Mapping[int, tuple[str, ...]]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def statuses(self) -> tuple[int, ...]:
        return tuple(sorted(self.responses))

    @property
    def error_codes(self) -> tuple[str, ...]:
        """Every vendor code a refusal of this operation may carry, sorted."""
        return tuple(
            sorted(
                {
                    code
                    for status, codes in self.responses.items()
                    if status >= 400
                    for code in codes
                }
            )
        )

    def allowed_codes(self, status: int, success: frozenset[str]) -> tuple[str, ...] | None:
        """The codes an answer with ``status`` may carry; None when the spec does not say.

        A success carries the code its description names, else one of the API's success
        codes (``success``: what the document names on any 2xx). A refusal carries a
        code of its status's table; a documented status without a table names none, so
        any code goes there except a success code (the caller checks that). An
        undocumented status is ``status_code_conformance``'s finding, not a code's: None.
        """
        if status not in self.responses:
            return None
        named = self.responses[status]
        if 200 <= status < 300:
            return named or tuple(sorted(success))
        return named or None


def iter_operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation, in document order."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def code_rows(description: str | None) -> dict[str, str]:
    """code -> title of each titled row of a description's code table."""
    return {code: title.strip() for code, title in CODE_ROW.findall(description or "")}


def codes_named(description: str | None) -> tuple[str, ...]:
    """Every vendor code a description names, titled or not, in order, once each."""
    return tuple(dict.fromkeys(CODE_MENTION.findall(description or "")))


def resolve(document: Document, node: Any) -> Any:
    """``node`` with a local ``$ref`` (``#/components/...``) followed, repeatedly."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or seen > 20:
            raise ValueError(f"cannot follow $ref {ref!r}: only local references are read")
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
    return node


def operations(document: Document, api: str) -> list[DocumentedOperation]:
    """Every operation of ``document`` with what each documented status may carry."""
    found = []
    for path, method, operation in iter_operations(document):
        responses: dict[int, tuple[str, ...]] = {}
        for status, response in (operation.get("responses") or {}).items():
            if not str(status).isdigit():
                continue  # "default" or "4XX": no single status to hold a table
            response = resolve(document, response)
            responses[int(status)] = codes_named((response or {}).get("description"))
        found.append(
            DocumentedOperation(
                api=api,
                operation_id=str(operation.get("operationId") or f"{method.upper()} {path}"),
                method=method.upper(),
                path=path,
                responses=responses,
            )
        )
    return found


def success_codes(documented: list[DocumentedOperation]) -> frozenset[str]:
    """The codes a document names on any 2xx: what a success carries in this API."""
    return frozenset(
        code
        for operation in documented
        for status, codes in operation.responses.items()
        if 200 <= status < 300
        for code in codes
    )


def code_statuses(documented: list[DocumentedOperation]) -> dict[str, set[int]]:
    """code -> every HTTP status some operation documents it with."""
    found: dict[str, set[int]] = {}
    for operation in documented:
        for status, codes in operation.responses.items():
            for code in codes:
                found.setdefault(code, set()).add(status)
    return found


def code_titles(document: Document) -> dict[str, str]:
    """code -> the title the document's tables give it (the first one, where they differ)."""
    titles: dict[str, str] = {}
    for _, _, operation in iter_operations(document):
        for response in (operation.get("responses") or {}).values():
            description = (resolve(document, response) or {}).get("description")
            for code, title in code_rows(description).items():
                titles.setdefault(code, title)
    return titles


# ------------------------------------------------------------------------- ThinQ push types


def push_types(thinq_document: Document) -> tuple[str, ...]:
    """The pushType of every callback the ThinQ spec declares (its PushType enum)."""
    schema = resolve(thinq_document, {"$ref": "#/components/schemas/PushType"})
    return tuple(schema["enum"])


def message_push_types(thinq_document: Document) -> tuple[str, ...]:
    """The pushType of every message that follows a subscription."""
    body = resolve(thinq_document, {"$ref": "#/components/schemas/MessageBody"})
    return tuple(resolve(thinq_document, body["properties"]["pushType"])["enum"])


def request_id_pattern(thinq_document: Document) -> str | None:
    """The pattern the spec gives a 202's requestId, if any."""
    accepted = resolve(thinq_document, {"$ref": "#/components/schemas/Accepted"})
    return (accepted.get("properties", {}).get("requestId") or {}).get("pattern")
