"""`lgmock contract report`: what a client did against the sandbox, from its journal.

Per operation of both vendor APIs: how many calls, each spec violation in the client's
requests with the offending field, which documented error codes the client met
(answered with, whether by its own mistakes, ``Prefer: error=`` or fault rules), and
coverage of operations and codes. The exit status gates CI: non-zero when the client
violated the contract (or missed a configured coverage threshold).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from mockserver import operations
from mockserver.errors import BC_CODES, THINQ_CODES, Api

SUCCESS_CODES = {"2000", "0000"}
PAGE = 1000


@dataclass
class OperationReport:
    api: str
    operation_id: str
    method: str
    path: str
    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    violations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Thresholds:
    max_violations: int = 0
    min_operation_coverage: float = 0.0  # percent of operations called
    min_code_coverage: float = 0.0  # percent of documented error codes met


@dataclass
class ClientReport:
    operations: dict[str, OperationReport]
    unknown_calls: list[dict[str, Any]]  # calls to no documented operation
    documented_codes: dict[str, set[str]]

    @property
    def violations(self) -> list[dict[str, Any]]:
        found = [v for op in self.operations.values() for v in op.violations]
        return found + [{"operationId": None, **c} for c in self.unknown_calls]

    def operation_coverage(self) -> float:
        called = sum(1 for op in self.operations.values() if op.calls)
        return 100.0 * called / max(len(self.operations), 1)

    def codes_met(self) -> dict[str, set[str]]:
        met: dict[str, set[str]] = defaultdict(set)
        for op in self.operations.values():
            met[op.api].update(c for c in op.codes if c not in SUCCESS_CODES)
        return met

    def code_coverage(self) -> float:
        met = self.codes_met()
        total = sum(len(codes) for codes in self.documented_codes.values())
        hit = sum(len(met[api] & codes) for api, codes in self.documented_codes.items())
        return 100.0 * hit / max(total, 1)

    def failures(self, thresholds: Thresholds) -> list[str]:
        problems = []
        if len(self.violations) > thresholds.max_violations:
            problems.append(
                f"{len(self.violations)} contract violation(s), at most "
                f"{thresholds.max_violations} allowed"
            )
        if self.operation_coverage() < thresholds.min_operation_coverage:
            problems.append(
                f"operation coverage {self.operation_coverage():.1f}% < "
                f"{thresholds.min_operation_coverage:.1f}%"
            )
        if self.code_coverage() < thresholds.min_code_coverage:
            problems.append(
                f"error code coverage {self.code_coverage():.1f}% < "
                f"{thresholds.min_code_coverage:.1f}%"
            )
        return problems


def fetch_journal(base_url: str, *, client: httpx.Client | None = None) -> list[dict[str, Any]]:
    """Every journal entry of a running sandbox, oldest first."""
    own = client is None
    http = client or httpx.Client(base_url=base_url, timeout=30)
    try:
        entries: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = http.get("/_sandbox/journal", params={"limit": PAGE, "offset": offset})
            page.raise_for_status()
            items = page.json()["items"]
            entries.extend(items)
            offset += len(items)
            if len(items) < PAGE:
                break
        entries.reverse()
        return entries
    finally:
        if own:
            http.close()


def build(entries: list[dict[str, Any]]) -> ClientReport:
    reports = {
        op.operation_id: OperationReport(op.api.value, op.operation_id, op.method, op.template)
        for op in operations.table()
        if op.api is not Api.SANDBOX
    }
    unknown = []
    for entry in entries:
        report = reports.get(entry.get("operationId") or "")
        request = entry["request"]
        if report is None:
            unknown.append(
                {
                    "journalId": entry["id"],
                    "field": "path",
                    "code": entry["response"].get("code"),
                    "message": f"{request['method']} {request['path']} is no documented operation",
                }
            )
            continue
        report.calls += 1
        report.statuses[entry["response"]["status"]] += 1
        if entry["response"].get("code"):
            report.codes[str(entry["response"]["code"])] += 1
        for violation in entry.get("violations", []):
            report.violations.append(
                {"journalId": entry["id"], "operationId": report.operation_id, **violation}
            )
    documented = {
        Api.BUSINESS_CONNECT.value: set(BC_CODES) - SUCCESS_CODES,
        Api.THINQ_ASYNC.value: set(THINQ_CODES) - SUCCESS_CODES,
    }
    return ClientReport(reports, unknown, documented)


def as_json(report: ClientReport, thresholds: Thresholds) -> dict[str, Any]:
    return {
        "passed": not report.failures(thresholds),
        "failures": report.failures(thresholds),
        "operationCoverage": round(report.operation_coverage(), 1),
        "codeCoverage": round(report.code_coverage(), 1),
        "violations": report.violations,
        "codesMet": {api: sorted(codes) for api, codes in report.codes_met().items()},
        "operations": [
            {
                "api": op.api,
                "operationId": op.operation_id,
                "method": op.method,
                "path": op.path,
                "calls": op.calls,
                "statuses": dict(op.statuses),
                "codes": dict(op.codes),
                "violations": len(op.violations),
            }
            for op in report.operations.values()
        ],
    }


def as_markdown(report: ClientReport, thresholds: Thresholds) -> str:
    failures = report.failures(thresholds)
    lines = [
        "# Contract report",
        "",
        f"**{'FAILED' if failures else 'PASSED'}**"
        + ("" if not failures else ": " + "; ".join(failures)),
        "",
        f"- operations called: {report.operation_coverage():.1f}% of {len(report.operations)}",
        f"- documented error codes met: {report.code_coverage():.1f}%",
        f"- contract violations: {len(report.violations)}",
        "",
        "| API | operation | calls | statuses | codes met | violations |",
        "| --- | --- | ---: | --- | --- | ---: |",
    ]
    for op in report.operations.values():
        statuses = ", ".join(f"{s}x{n}" for s, n in sorted(op.statuses.items())) or "-"
        codes = ", ".join(f"{c}x{n}" for c, n in sorted(op.codes.items())) or "-"
        lines.append(
            f"| {op.api} | `{op.operation_id}` | {op.calls} | {statuses} | {codes} "
            f"| {len(op.violations)} |"
        )
    if report.violations:
        lines += ["", "## Violations", ""]
        for violation in report.violations:
            lines.append(
                f"- journal #{violation['journalId']} `{violation.get('operationId')}`: "
                f"{violation.get('code')} field `{violation.get('field')}`: "
                f"{violation.get('message')}"
            )
    never = [op.operation_id for op in report.operations.values() if not op.calls]
    if never:
        lines += ["", "## Operations never called", "", ", ".join(f"`{o}`" for o in never)]
    return "\n".join(lines) + "\n"


def render(report: ClientReport, thresholds: Thresholds, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(report, thresholds), indent=2)
    return as_markdown(report, thresholds)
