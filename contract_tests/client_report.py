"""`lgmock contract report`: what a client did against the sandbox, judged by the specs.

The sandbox's journal says what each call asked and got; the specs say what there is to
exercise. Per operation of both vendor APIs: called or not, the documented HTTP
statuses the client's traffic met, the documented vendor codes it met (by its own
mistakes, ``Prefer: error=`` or fault rules), and each spec violation in its requests
with the field at fault. Totals are "N of M" with a percentage, and the exit status
gates CI on them (``Thresholds``), the way Specmatic's ``minThresholdPercentage`` or
Microcks' conformance score do.

A report covers one client run, not whatever the journal held before: ``since`` takes
the marker ``lgmock contract mark`` printed before the run (a journal id) or a time on
the sandbox clock, and the kit's own traffic (``lgmock contract server`` sends its
requests with the ``lgmock-contract`` User-Agent, and Schemathesis marks each of its
own with an ``X-Schemathesis-TestCaseId`` header) is left out unless asked for.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from contract_tests import contracts

PAGE = 1000
JOURNAL = f"{contracts.mount('sandbox').prefix}/journal"


@dataclass
class OperationReport:
    api: str
    operation_id: str
    method: str
    path: str
    documented_statuses: tuple[int, ...]
    documented_codes: tuple[str, ...]  # vendor codes of its refusals
    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def statuses_met(self) -> list[int]:
        return sorted(set(self.statuses) & set(self.documented_statuses))

    @property
    def codes_met(self) -> list[str]:
        return sorted(set(self.codes) & set(self.documented_codes))


@dataclass
class Thresholds:
    max_violations: int = 0
    min_operation_coverage: float = 0.0  # percent of operations called
    min_status_coverage: float = 0.0  # percent of documented (operation, status) met
    min_code_coverage: float = 0.0  # percent of documented (operation, error code) met


@dataclass(frozen=True)
class Coverage:
    met: int
    of: int

    @property
    def percent(self) -> float:
        return 100.0 * self.met / self.of if self.of else 100.0

    def __str__(self) -> str:
        return f"{self.met} of {self.of} ({self.percent:.1f}%)"


@dataclass
class ClientReport:
    operations: dict[str, OperationReport]
    unknown_calls: list[dict[str, Any]]  # calls to no documented operation
    scope: str = "the whole journal"
    left_out: int = 0  # the kit's own requests, not counted

    @property
    def violations(self) -> list[dict[str, Any]]:
        found = [v for op in self.operations.values() for v in op.violations]
        return found + [{"operationId": None, **c} for c in self.unknown_calls]

    def operation_coverage(self) -> Coverage:
        ops = self.operations.values()
        return Coverage(sum(1 for op in ops if op.calls), len(self.operations))

    def status_coverage(self) -> Coverage:
        ops = self.operations.values()
        return Coverage(
            sum(len(op.statuses_met) for op in ops),
            sum(len(op.documented_statuses) for op in ops),
        )

    def code_coverage(self) -> Coverage:
        ops = self.operations.values()
        return Coverage(
            sum(len(op.codes_met) for op in ops), sum(len(op.documented_codes) for op in ops)
        )

    def codes_met_by_api(self) -> dict[str, list[str]]:
        met: dict[str, set[str]] = {}
        for op in self.operations.values():
            met.setdefault(op.api, set()).update(op.codes_met)
        return {api: sorted(codes) for api, codes in met.items()}

    def failures(self, thresholds: Thresholds) -> list[str]:
        problems = []
        if len(self.violations) > thresholds.max_violations:
            problems.append(
                f"{len(self.violations)} contract violation(s), at most "
                f"{thresholds.max_violations} allowed (--max-violations)"
            )
        for what, coverage, minimum, option in (
            (
                "operation",
                self.operation_coverage(),
                thresholds.min_operation_coverage,
                "operation",
            ),
            ("status", self.status_coverage(), thresholds.min_status_coverage, "status"),
            ("vendor code", self.code_coverage(), thresholds.min_code_coverage, "code"),
        ):
            if coverage.percent < minimum:
                problems.append(
                    f"{what} coverage {coverage.percent:.1f}% < {minimum:g}% "
                    f"(--min-{option}-coverage)"
                )
        return problems


# ------------------------------------------------------------------------- the journal


def parse_since(text: str | None) -> int | str | None:
    """A marker from ``lgmock contract mark`` (a journal id) or a sandbox-clock time."""
    if text is None or text == "":
        return None
    stripped = text.strip().lstrip("#")
    if stripped.isdigit():
        return int(stripped)
    return text.strip()


def journal_mark(base_url: str, *, client: httpx.Client | None = None) -> int:
    """The id of the newest journal entry (0 when empty): what comes later is a new run."""
    own = client is None
    http = client or httpx.Client(base_url=base_url, timeout=30)
    try:
        page = http.get(JOURNAL, params={"limit": 1})
        page.raise_for_status()
        items = page.json()["items"]
        return int(items[0]["id"]) if items else 0
    finally:
        if own:
            http.close()


def fetch_journal(
    base_url: str, *, since: int | str | None = None, client: httpx.Client | None = None
) -> list[dict[str, Any]]:
    """The journal entries of a running sandbox after ``since``, oldest first.

    The journal answers newest first, so a marker (a journal id) stops the paging as
    soon as it is reached: a report on one run reads only that run.
    """
    own = client is None
    http = client or httpx.Client(base_url=base_url, timeout=30)
    params: dict[str, Any] = {"limit": PAGE}
    if isinstance(since, str):
        params["since"] = since
    try:
        entries: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = http.get(JOURNAL, params={**params, "offset": offset})
            page.raise_for_status()
            items = page.json()["items"]
            if isinstance(since, int):
                newer = [item for item in items if int(item["id"]) > since]
                entries.extend(newer)
                if len(newer) < len(items):
                    break
            else:
                entries.extend(items)
            offset += len(items)
            if len(items) < PAGE:
                break
        entries.reverse()
        return entries
    finally:
        if own:
            http.close()


# Headers Schemathesis puts on every request it sends (its test cases, its probes),
# whether or not an auth provider (which sets the kit's User-Agent) ran for the case.
SCHEMATHESIS_HEADERS = ("x-schemathesis-testcaseid", "x-schemathesis-probe")


def sent_by_the_kit(entry: dict[str, Any]) -> bool:
    """Was this request sent by `lgmock contract server` (its checks or Schemathesis)?"""
    headers = {k.lower(): v for k, v in ((entry.get("request") or {}).get("headers") or {}).items()}
    if str(headers.get("user-agent", "")).startswith(contracts.KIT_USER_AGENT):
        return True
    return any(name in headers for name in SCHEMATHESIS_HEADERS)


# ------------------------------------------------------------------------- building


def empty_report() -> ClientReport:
    reports = {}
    for name in contracts.APIS:
        for op in contracts.contract(name).operations:
            reports[op.operation_id] = OperationReport(
                name, op.operation_id, op.method, op.path, op.statuses, op.error_codes
            )
    return ClientReport(reports, [])


def build(
    entries: Iterable[dict[str, Any]],
    *,
    scope: str = "the whole journal",
    include_kit: bool = False,
) -> ClientReport:
    report = empty_report()
    report.scope = scope
    for entry in entries:
        if not include_kit and sent_by_the_kit(entry):
            report.left_out += 1
            continue
        operation = report.operations.get(entry.get("operationId") or "")
        request, response = entry["request"], entry["response"]
        if operation is None:
            report.unknown_calls.append(
                {
                    "journalId": entry["id"],
                    "field": "path",
                    "code": response.get("code"),
                    "message": f"{request['method']} {request['path']} is no documented operation",
                }
            )
            continue
        operation.calls += 1
        operation.statuses[int(response["status"])] += 1
        if response.get("code"):
            operation.codes[str(response["code"])] += 1
        for violation in entry.get("violations", []):
            operation.violations.append(
                {"journalId": entry["id"], "operationId": operation.operation_id, **violation}
            )
    return report


# ------------------------------------------------------------------------- rendering


def coverage(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The dashboard's coverage page: the report of the whole journal, no thresholds.

    The `coverage` entry point of the group `lgmock.reports` (pyproject.toml), through
    which the server's dashboard reaches the kit without importing it.
    """
    return as_json(build(entries), Thresholds())


def as_json(report: ClientReport, thresholds: Thresholds) -> dict[str, Any]:
    failures = report.failures(thresholds)

    def coverage(value: Coverage) -> dict[str, Any]:
        return {"met": value.met, "of": value.of, "percent": round(value.percent, 1)}

    return {
        "passed": not failures,
        "failures": failures,
        "scope": report.scope,
        "leftOut": report.left_out,
        "coverage": {
            "operations": coverage(report.operation_coverage()),
            "statuses": coverage(report.status_coverage()),
            "codes": coverage(report.code_coverage()),
        },
        # The headline figures on their own (the dashboard's coverage page shows these).
        "operationCoverage": round(report.operation_coverage().percent, 1),
        "statusCoverage": round(report.status_coverage().percent, 1),
        "codeCoverage": round(report.code_coverage().percent, 1),
        "codesMet": report.codes_met_by_api(),
        "violations": report.violations,
        "operations": [
            {
                "api": op.api,
                "operationId": op.operation_id,
                "method": op.method,
                "path": op.path,
                "called": op.calls > 0,
                "calls": op.calls,
                "statuses": {str(s): n for s, n in sorted(op.statuses.items())},
                "statusesMet": op.statuses_met,
                "statusesDocumented": list(op.documented_statuses),
                "codes": dict(sorted(op.codes.items())),
                "codesMet": op.codes_met,
                "codesDocumented": list(op.documented_codes),
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
        f"Scope: {report.scope}."
        + (
            f" {report.left_out} request(s) sent by `lgmock contract server` left out."
            if report.left_out
            else ""
        ),
        "",
        "| Coverage | met |",
        "| --- | --- |",
        f"| operations called | {report.operation_coverage()} |",
        f"| documented statuses met | {report.status_coverage()} |",
        f"| documented vendor codes met | {report.code_coverage()} |",
        f"| contract violations | {len(report.violations)} |",
        "",
        "| API | operation | calls | statuses met | vendor codes met | violations |",
        "| --- | --- | ---: | --- | --- | ---: |",
    ]
    for op in report.operations.values():
        statuses = ", ".join(str(s) for s in op.statuses_met) or "-"
        codes = ", ".join(op.codes_met) or "-"
        lines.append(
            f"| {op.api} | `{op.operation_id}` | {op.calls} "
            f"| {len(op.statuses_met)} of {len(op.documented_statuses)}: {statuses} "
            f"| {len(op.codes_met)} of {len(op.documented_codes)}: {codes} "
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


def as_junit_xml(report: ClientReport, thresholds: Thresholds) -> str:
    """One test case per operation (failed by its violations, skipped if never called)
    and one per threshold, so a CI system shows what gated the build."""
    failures = report.failures(thresholds)
    root = ET.Element("testsuites", name="lgmock contract report")
    suite = ET.SubElement(root, "testsuite", name="lgmock.contract.client")
    failed = skipped = 0
    for op in report.operations.values():
        case = ET.SubElement(
            suite, "testcase", classname=f"lgmock.contract.client.{op.api}", name=op.operation_id
        )
        if op.violations:
            failed += 1
            element = ET.SubElement(
                case,
                "failure",
                type="contract_violation",
                message=f"{len(op.violations)} violation(s)",
            )
            element.text = "\n".join(
                f"journal #{v['journalId']}: {v.get('code')} field {v.get('field')}: "
                f"{v.get('message')}"
                for v in op.violations
            )
        elif not op.calls:
            skipped += 1
            ET.SubElement(case, "skipped", message="never called")
        out = ET.SubElement(case, "system-out")
        out.text = (
            f"{op.calls} calls; statuses met {len(op.statuses_met)} of "
            f"{len(op.documented_statuses)}; vendor codes met {len(op.codes_met)} of "
            f"{len(op.documented_codes)}"
        )
    gates = ET.SubElement(root, "testsuite", name="lgmock.contract.thresholds")
    gate_failures = 0
    for name, problem in _gates(report, thresholds, failures):
        case = ET.SubElement(gates, "testcase", classname="lgmock.contract.thresholds", name=name)
        if problem:
            gate_failures += 1
            ET.SubElement(case, "failure", type="threshold", message=problem)
    for element, tests, fails, skips in (
        (suite, len(report.operations), failed, skipped),
        (gates, len(gates), gate_failures, 0),
    ):
        element.set("tests", str(tests))
        element.set("failures", str(fails))
        element.set("errors", "0")
        element.set("skipped", str(skips))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _gates(
    report: ClientReport, thresholds: Thresholds, failures: list[str]
) -> list[tuple[str, str]]:
    def problem(option: str) -> str:
        return next((f for f in failures if option in f), "")

    return [
        (f"violations <= {thresholds.max_violations}", problem("--max-violations")),
        (
            f"operation coverage >= {thresholds.min_operation_coverage:g}% "
            f"({report.operation_coverage()})",
            problem("--min-operation-coverage"),
        ),
        (
            f"status coverage >= {thresholds.min_status_coverage:g}% ({report.status_coverage()})",
            problem("--min-status-coverage"),
        ),
        (
            f"vendor code coverage >= {thresholds.min_code_coverage:g}% ({report.code_coverage()})",
            problem("--min-code-coverage"),
        ),
    ]


FORMATS = ("md", "json", "junit")


def render(report: ClientReport, thresholds: Thresholds, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(report, thresholds), indent=2)
    if fmt == "junit":
        return as_junit_xml(report, thresholds)
    return as_markdown(report, thresholds)
