"""The kit's own Schemathesis checks: what the vendor specs promise beyond the schema.

Registered with ``@schemathesis.check`` (importing this module registers them), so they
run beside Schemathesis' own checks, are chosen with ``--checks`` by name, and their
failures come with Schemathesis' reproduce command (curl) like any other.

``vendor_code_conformance``: each answer's vendor code (the ``X-Response-Code`` header
and the code in the body) is one the operation documents for that HTTP status. A relay
that renames a documented code, or a server that answers a documented code with the
wrong status, passes every schema check and fails this one.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure, Severity

from contract_tests import contracts
from lgspecs.tables import DocumentedOperation


class UndocumentedVendorCode(Failure):
    """An answer carries a vendor code its operation does not document for its status."""

    code = "LG101"
    checks = ("vendor_code_conformance",)
    kind_title = "Undocumented vendor code"

    __slots__ = ("status_code", "vendor_code", "allowed_codes")

    def __init__(
        self,
        *,
        operation: str,
        status_code: int,
        vendor_code: str | None,
        allowed_codes: tuple[str, ...],
        message: str,
        title: str | None = None,
        case_id: str | None = None,
    ) -> None:
        super().__init__(
            operation=operation,
            title=title,
            message=message,
            case_id=case_id,
            severity=Severity.HIGH,
        )
        self.status_code = status_code
        self.vendor_code = vendor_code
        self.allowed_codes = allowed_codes

    @property
    def _unique_key(self) -> str:
        # One finding per status and code got: a renamed 4102 and a renamed 4304 are two.
        return f"{self.status_code}:{self.vendor_code}"


class InconsistentVendorCode(Failure):
    """The header and the body of one answer name different vendor codes."""

    code = "LG102"
    checks = ("vendor_code_conformance",)
    kind_title = "Vendor code differs between header and body"

    def __init__(self, *, operation: str, message: str, case_id: str | None = None) -> None:
        super().__init__(
            operation=operation, message=message, case_id=case_id, severity=Severity.MEDIUM
        )


def vendor_codes(headers: dict[str, Any], content: bytes) -> dict[str, str]:
    """Where an answer names its vendor code -> the code, as text.

    The header every operation of both APIs declares, and the body's code in each
    envelope the specs define: Business Connect ``error.code`` (Device, Event, User
    APIs) and ``code`` (DR API), ThinQ ``responseCode`` and ``response.error.code``.
    """
    found: dict[str, str] = {}
    header = _header(headers, "x-response-code")
    if header:
        found["X-Response-Code"] = header
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        for where, value in (
            ("body code", body.get("code")),
            ("body error.code", _get(body, "error", "code")),
            ("body responseCode", body.get("responseCode")),
            ("body response.error.code", _get(body, "response", "error", "code")),
        ):
            if isinstance(value, int | str) and not isinstance(value, bool) and str(value):
                found[where] = str(value)
    return found


def problems(
    operation: DocumentedOperation, status: int, found: dict[str, str]
) -> list[tuple[str, str | None, str]]:
    """(title, code, message) of each way an answer breaks the operation's code table."""
    api = contracts.contract(operation.api)
    allowed = operation.allowed_codes(status, api.success_codes)
    if status not in operation.responses:
        return []  # an undocumented status: status_code_conformance says so
    success = 200 <= status < 300
    if allowed is None:
        # The status is documented without a code table: any error code of the API,
        # never a success code.
        allowed = tuple(sorted(api.error_codes))
    shown = ", ".join(allowed) or "(none)"
    documented_for = f"Documented for {status} of {operation.operation_id}: {shown}"
    found_problems: list[tuple[str, str | None, str]] = []
    if not found and not success and operation.responses[status]:
        found_problems.append(
            (
                "Missing vendor code",
                None,
                f"Received: {status} with no vendor code (no X-Response-Code header, no code "
                f"in the body)\n{documented_for}",
            )
        )
    for code in dict.fromkeys(found.values()):
        if code in allowed:
            continue
        where = ", ".join(w for w, c in found.items() if c == code)
        if not success and code in api.success_codes:
            title = "Success code on a refusal"
        elif success and code not in api.success_codes:
            title = "Error code on a success"
        elif code in api.code_statuses():
            title = "Vendor code with the wrong HTTP status"
            statuses = ", ".join(str(s) for s in sorted(api.code_statuses()[code]))
            documented_for += f"\n{code} is documented with HTTP {statuses}"
        else:
            title = "Undocumented vendor code"
            documented_for += f"\n{code} is documented by no operation of this API"
        found_problems.append(
            (title, code, f"Received: {status} with vendor code {code} ({where})\n{documented_for}")
        )
    return found_problems


@schemathesis.check
def vendor_code_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The answer's vendor code is documented for its operation and HTTP status."""
    operation = _documented(case)
    if operation is None:
        return None
    found = vendor_codes(response.headers, response.content)
    distinct = set(found.values())
    if len(distinct) > 1:
        raise InconsistentVendorCode(
            operation=case.operation.label,
            message="Received: "
            + ", ".join(f"{where} {code}" for where, code in found.items())
            + "\nThe header and the body must name the same code.",
        )
    for title, code, message in problems(operation, response.status_code, found):
        api = contracts.contract(operation.api)
        allowed = operation.allowed_codes(response.status_code, api.success_codes) or ()
        raise UndocumentedVendorCode(
            operation=case.operation.label,
            status_code=response.status_code,
            vendor_code=code,
            allowed_codes=allowed,
            title=title,
            message=message,
        )
    return None


# Every check this module registers, for --checks' default.
KIT_CHECKS = ("vendor_code_conformance",)


def _documented(case: Any) -> DocumentedOperation | None:
    raw = getattr(case.operation.definition, "raw", None) or {}
    operation_id = raw.get("operationId") if isinstance(raw, dict) else None
    return contracts.operation(operation_id) if operation_id else None


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list):
                return str(value[0]) if value else None
            return str(value)
    return None


def _get(body: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body
