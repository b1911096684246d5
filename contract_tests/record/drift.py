"""Drift: where an upstream's answer parts from the spec of its API.

Each answer the proxy relays is judged by the contract kit's own response checks
(Schemathesis' status, Content-Type, header and schema conformance, its server-error
check, and the kit's ``vendor_code_conformance``), run on the very request the client
sent and the very answer the upstream gave. Each failure is a ``DriftFinding``: the
operation, what the upstream answered, what the spec says, and a curl line that
replays the call with every credential read from an environment variable.

The checks that send requests of their own (``negative_data_rejection``,
``use_after_free``, ``ensure_resource_availability``) are left out: a recorder only
watches, it never calls the upstream on its own.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from contract_tests import contracts
from contract_tests.record.redact import Redactor
from contract_tests.report import Finding, Outcome, Report, Status

# The kit's checks that judge an answer alone (see the module docstring for the others).
RESPONSE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "vendor_code_conformance",
)


@dataclass
class Exchange:
    """One call as the proxy relayed it: the client's request and the upstream's answer."""

    method: str
    path: str  # as the client sent it, e.g. /bc/v1/devices
    query: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    upstream_url: str  # where it was forwarded, query included
    elapsed: float = 0.0
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def request_header(self, name: str) -> str | None:
        return _first(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return _first(self.response_headers, name)

    def json(self) -> Any:
        try:
            return json.loads(self.response_body) if self.response_body else None
        except ValueError:
            return None

    def request_json(self) -> Any:
        try:
            return json.loads(self.request_body) if self.request_body else None
        except ValueError:
            return None


@dataclass
class DriftFinding:
    api: str
    operation: str  # "GET /v1/devices/{deviceId}"
    operation_id: str
    check: str
    title: str
    received: str  # what the upstream answered: status, Content-Type, body
    spec_says: str  # the check's message: what was found and what the spec documents
    reproduce: str
    call: str  # the call as the client made it: "GET /bc/v1/devices/0a1b..."
    at: str

    def line(self) -> str:
        return f"DRIFT {self.operation_id} ({self.call}): {self.title} [{self.check}]"


@dataclass
class Judgement:
    """What the checks made of one exchange."""

    api: str | None
    operation: str | None  # the operation's label, None when no operation matches
    operation_id: str | None
    findings: list[DriftFinding]
    # (operationId, path parameters) of the matched operation, for the learner
    path_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.operation is not None and not self.findings


# ThinQ Connect has a spec and a mount, but no contract of the kit yet: its answers are
# judged by its document alone (the kit's vendor-code check skips what it has no table of).
EXTRA_APIS = ("connect",)


def recordable_apis() -> tuple[str, ...]:
    """Every API whose answers the recorder can judge: the kit's, then any extra mounted."""
    found = list(contracts.APIS)
    for name in EXTRA_APIS:
        try:
            contracts.mount(name)
        except ValueError:
            continue
        found.append(name)
    return tuple(found)


def document(api: str) -> dict[str, Any]:
    """The spec an API's answers are judged by."""
    if api in contracts.APIS:
        return contracts.contract(api).document
    return contracts.mount(api).document()


def api_of(path: str, apis: tuple[str, ...]) -> str | None:
    """The API a request path belongs to, by the mount table (/bc, /v2, ...)."""
    for name in apis:
        if contracts.mount(name).owns(path):
            return name
    return apis[0] if len(apis) == 1 else None


def spec_path(api: str, path: str) -> str:
    """The path as the spec writes it: Business Connect's documents start at /v1."""
    mount = contracts.mount(api)
    sample = next(iter(document(api).get("paths") or {}), "/")
    if not sample.startswith(mount.prefix + "/") and mount.owns(path):
        return path[len(mount.prefix) :] or "/"
    return path


class DriftChecker:
    """Judges exchanges by the specs of ``apis`` (names of ``contracts.APIS``)."""

    def __init__(self, apis: tuple[str, ...], redactor: Redactor) -> None:
        self.apis = apis
        self.redactor = redactor

    @cached_property
    def _schemas(self) -> dict[str, Any]:
        import schemathesis
        from schemathesis.config import SchemathesisConfig

        from contract_tests import checks  # noqa: F401  (registers the kit's checks)

        config = SchemathesisConfig.from_dict({"checks": {"enabled": True}})
        return {
            name: schemathesis.openapi.from_dict(copy.deepcopy(document(name)), config=config)
            for name in self.apis
        }

    @cached_property
    def _checks(self) -> list[tuple[str, Callable[..., Any]]]:
        import schemathesis.specs.openapi.checks  # noqa: F401  (registers the OpenAPI checks)
        from schemathesis.checks import CHECKS

        from contract_tests import checks  # noqa: F401

        return [(name, CHECKS.get_one(name)) for name in RESPONSE_CHECKS]

    def judge(self, exchange: Exchange) -> Judgement:
        api = api_of(exchange.path, self.apis)
        if api is None:
            return Judgement(None, None, None, [])
        path = spec_path(api, exchange.path)
        operation = self._schemas[api].find_operation_by_path(exchange.method, path)
        if operation is None:
            return Judgement(api, None, None, [])
        raw = operation.definition.raw if isinstance(operation.definition.raw, dict) else {}
        operation_id = str(raw.get("operationId") or operation.label)
        parameters = _path_parameters(operation.path, path)
        findings = [
            self._finding(api, operation.label, operation_id, exchange, check, title, message)
            for check, title, message in self._failures(operation, parameters, exchange)
        ]
        return Judgement(api, operation.label, operation_id, findings, parameters)

    def _failures(
        self, operation: Any, parameters: dict[str, str], exchange: Exchange
    ) -> list[tuple[str, str, str]]:
        import httpx
        from schemathesis.core.failures import Failure

        case = operation.Case(
            path_parameters=parameters,
            headers=self.redactor.headers(dict(exchange.request_headers)),
            query=_query(exchange.query),
        )
        response = httpx.Response(
            exchange.status,
            headers=exchange.response_headers,
            content=exchange.response_body,
            request=httpx.Request(exchange.method, exchange.upstream_url),
        )
        response.read()
        response.elapsed = timedelta(seconds=exchange.elapsed)
        found: list[tuple[str, str, str]] = []
        # One check at a time, so each failure is reported under the check that found it.
        for name, check in self._checks:
            try:
                case.validate_response(response, checks=[check])
            except (Exception, BaseExceptionGroup) as group:  # noqa: BLE001
                # A FailureGroup (schemathesis' failures), or a check that broke.
                for failure in getattr(group, "exceptions", None) or [group]:
                    if isinstance(failure, Failure):
                        found.append((name, failure.title, failure.message or failure.title))
                    else:
                        # A check that cannot read this answer must not take the proxy
                        # down: the answer is reported with what the check raised.
                        found.append((name, "The answer could not be checked", repr(failure)))
        # Two checks may find the same fault (no Content-Type: no media type, no JSON body):
        # it is one finding, under the first check that found it.
        unique: dict[tuple[str, str], tuple[str, str, str]] = {}
        for name, title, message in found:
            unique.setdefault((title, message), (name, title, message))
        return list(unique.values())

    def _finding(
        self,
        api: str,
        label: str,
        operation_id: str,
        exchange: Exchange,
        check: str,
        title: str,
        message: str,
    ) -> DriftFinding:
        redact = self.redactor
        content_type = exchange.response_header("content-type") or "(no Content-Type)"
        received = (
            f"{exchange.status} {content_type}\n"
            + "".join(
                f"{name}: {redact.text(value)}\n"
                for name, value in exchange.response_headers
                if name.lower().startswith("x-")
            )
            + redact.body(exchange.response_body)
        )
        call = f"{exchange.method} {exchange.path}" + (
            f"?{exchange.query}" if exchange.query else ""
        )
        return DriftFinding(
            api=api,
            operation=label,
            operation_id=operation_id,
            check=check,
            title=title,
            received=received,
            spec_says=redact.text(message.strip()),
            reproduce=redact.curl(
                exchange.method,
                exchange.upstream_url,
                exchange.request_headers,
                exchange.request_body,
            ),
            call=redact.text(call),
            at=exchange.at,
        )


class DriftLog:
    """Every finding of a run, and the three files ``--drift`` writes (JSON, Markdown, XML)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.findings: list[DriftFinding] = []
        self.calls: dict[str, int] = {}  # operation label -> calls checked
        self.unchecked: dict[str, int] = {}  # calls no operation of the specs matches
        self.callbacks = 0
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")

    def add(self, judgement: Judgement, call: str) -> None:
        if judgement.operation is None:
            self.unchecked[call] = self.unchecked.get(call, 0) + 1
            return
        key = f"{judgement.api} {judgement.operation}"
        self.calls[key] = self.calls.get(key, 0) + 1
        self.findings.extend(judgement.findings)

    def add_callback_findings(self, findings: list[DriftFinding]) -> None:
        self.callbacks += 1
        self.findings.extend(findings)

    def document(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream,
            "started": self.started_at,
            "callsChecked": sum(self.calls.values()),
            "callbacksChecked": self.callbacks,
            "operations": self.calls,
            "unchecked": self.unchecked,
            "drift": len(self.findings),
            "findings": [asdict(finding) for finding in self.findings],
        }

    def report(self) -> Report:
        """The findings in the kit's report form: one test case per operation seen."""
        report = Report(f"lgmock record: drift of {self.upstream}")
        outcomes: dict[str, Outcome] = {}
        for key, count in self.calls.items():
            api, _, label = key.partition(" ")
            outcomes[key] = report.add(Outcome(api, label, "record", cases=count))
        for finding in self.findings:
            key = f"{finding.api} {finding.operation}"
            if key not in outcomes:
                outcomes[key] = report.add(Outcome(finding.api, finding.operation, "record"))
            outcome = outcomes[key]
            outcome.findings.append(
                Finding(
                    finding.check,
                    finding.title,
                    f"{finding.call} at {finding.at}\nReceived: {finding.received}\n"
                    f"{finding.spec_says}",
                    finding.reproduce,
                )
            )
            outcome.status = Status.FAILED
        if self.unchecked:
            report.notes.append(
                "not in the specs, relayed unchecked: "
                + ", ".join(f"{call} ({n})" for call, n in sorted(self.unchecked.items()))
            )
        report.duration = time.monotonic() - self.started
        return report

    def write(self, path: Path) -> list[Path]:
        """``path`` (JSON) and beside it ``.md`` (Markdown) and ``.xml`` (JUnit XML)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        written = [path, path.with_suffix(".md"), path.with_suffix(".xml")]
        path.write_text(json.dumps(self.document(), indent=2, ensure_ascii=False) + "\n")
        report = self.report()
        report.write(junit_xml=written[2], summary=written[1])
        return written


def _path_parameters(template: str, path: str) -> dict[str, str]:
    names = template.strip("/").split("/")
    values = path.strip("/").split("/")
    if len(names) != len(values):
        return {}
    return {
        name[1:-1]: value
        for name, value in zip(names, values, strict=True)
        if name.startswith("{") and name.endswith("}")
    }


def _query(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query, keep_blank_values=True))


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    lower = name.lower()
    return next((value for key, value in headers if key.lower() == lower), None)
