"""Schemathesis over the two specs, against any server: the sandbox, staging, another mock.

The spec comes from this package (it is the contract), the server from ``--base-url``.
Schemathesis generates the requests (examples, coverage, fuzzing, stateful sequences
along the specs' OpenAPI links) and runs its checks on every answer; credentials and a
fresh X-Message-Id are put on each request by an auth provider, except on the header a
negative case deliberately breaks.

Two of our rules sit on top of schemathesis's results:
- A 501 answer means the operation is not implemented. Every check a 501 trips is
  folded into one finding, ``operation_implemented``, so the report says what is wrong
  once instead of as "server error" plus "undocumented status". With
  ``skip_unimplemented`` that operation is reported as skipped, with a note.
- Findings are deduplicated per operation and check; the first reproduction is kept.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contract_tests import contracts
from contract_tests.contracts import new_message_id, user_agent
from contract_tests.lgapi import LgApi
from contract_tests.report import Finding, Outcome, Report, Status
from contract_tests.thinq_connect import CONNECT_CLIENT_ID, SDK_API_KEY

Progress = Callable[[str], None]

# Checks that hold for both LG APIs as documented. Each left out is unsound for them:
DEFAULT_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    # The kit's own (contract_tests/checks.py): the vendor code is documented.
    "vendor_code_conformance",
)
LEFT_OUT = {
    # Both APIs document 400 (4101 / 1101) for a missing or invalid header, credentials
    # included, where these two checks expect 401/403.
    "missing_required_header": "both APIs answer a missing header with 400 (4101 / 1101)",
    "ignored_auth": "a missing X-Api-Key is a missing header: 400 4101, as documented",
    # Validity depends on state (the user's country, the device's profile), so a
    # schema-valid request may rightly be refused with a documented 400.
    "positive_data_acceptance": "schema-valid is not enough: commands depend on the profile",
    # RFC 9110's Allow header on 405 is not in either spec; opt in with --checks.
    "unsupported_method": "RFC 9110 Allow header on 405 is beyond both specs",
}
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class ConformanceOptions:
    max_examples: int = 10
    max_time: float = 120.0  # seconds per API; the run is stopped, not failed, when spent
    mode: str = "all"  # positive | negative | all
    phases: tuple[str, ...] = PHASES
    checks: tuple[str, ...] = DEFAULT_CHECKS
    seed: int | None = None
    skip_unimplemented: bool = False
    request_timeout: float = 10.0
    include: tuple[str, ...] = ()  # operationIds to test (default: all)
    exclude: tuple[str, ...] = ()  # operationIds not to test


@dataclass
class ApiUnderTest:
    name: str  # "bc" | "thinq" | "connect"
    document: dict[str, Any]
    base_url: str


def api_under_test(name: str, api: LgApi) -> ApiUnderTest:
    if name not in contracts.APIS:
        raise ValueError(f"unknown API {name!r}: use {', '.join(contracts.APIS)}")
    # A fresh copy: schemathesis may annotate the document it is given.
    document = copy.deepcopy(contracts.contract(name).document)
    urls = {"bc": api.bc_url, "thinq": api.thinq_url, "connect": api.connect_url}
    return ApiUnderTest(name, document, urls[name])


def run(
    target: ApiUnderTest,
    api: LgApi,
    options: ConformanceOptions,
    report: Report,
    progress: Progress,
) -> None:
    """Run schemathesis on one API and add one Outcome per operation to ``report``."""
    from schemathesis.engine import from_schema

    schema = _load(target, options)
    _install_credentials(schema, target.name, api)
    collector = _Collector(target.name, options, progress)
    stream = from_schema(schema).execute()
    deadline = time.monotonic() + options.max_time
    stopped = False
    for event in stream:
        collector.handle(event)
        if not stopped and time.monotonic() > deadline:
            # A budget, not a failure: what ran is reported, the rest is not started.
            stream.stop()
            stopped = True
            report.notes.append(
                f"{target.name}: schemathesis stopped after --max-time {options.max_time:g} s"
            )
    outcomes = collector.outcomes()
    for outcome in outcomes:
        report.add(outcome)
    # An operation schemathesis never reported (its engine gave up on it, or the time ran
    # out) is in the report too, as untested: silence must not read as a pass.
    reported = {outcome.name for outcome in outcomes}
    for operation in contracts.contract(target.name).operations:
        selected = not options.include or operation.operation_id in options.include
        if operation.label in reported or not selected or operation.operation_id in options.exclude:
            continue
        report.add(
            Outcome(
                target.name,
                operation.label,
                "schemathesis",
                Status.SKIPPED,
                note="schemathesis ran no test case of it (see its errors in this report)",
            )
        )


def check_options(options: ConformanceOptions) -> None:
    """ValueError naming what to choose from, before anything is sent."""
    import schemathesis.specs.openapi.checks  # noqa: F401  (registers the OpenAPI checks)
    from schemathesis.checks import CHECKS

    from contract_tests import checks  # noqa: F401  (registers the kit's checks)

    unknown = set(options.phases) - set(PHASES)
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}: choose from {', '.join(PHASES)}")
    known = CHECKS.get_all_names()
    unknown = set(options.checks) - set(known)
    if unknown:
        raise ValueError(
            f"unknown checks {sorted(unknown)}: choose from {', '.join(sorted(known))}"
        )


def _load(target: ApiUnderTest, options: ConformanceOptions) -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    from contract_tests import checks  # noqa: F401  (registers the kit's checks)

    config: dict[str, Any] = {
        "base-url": target.base_url,
        "request-timeout": options.request_timeout,
        "generation": {
            "max-examples": options.max_examples,
            "mode": options.mode,
            # No example database: nothing is written to the user's working directory.
            "database": "none",
        },
        "checks": {"enabled": False, **{name: {"enabled": True} for name in options.checks}},
        "phases": {phase: {"enabled": phase in options.phases} for phase in PHASES},
        # No crash cache either: a run replays nothing from an earlier run.
        "cache": {"enabled": False},
        "workers": 1,
    }
    if options.seed is not None:
        config["seed"] = options.seed
        config["generation"]["deterministic"] = True
    schema = schemathesis.openapi.from_dict(
        target.document, config=SchemathesisConfig.from_dict(config)
    )
    if options.include:
        schema = schema.include(operation_id=list(options.include))
    if options.exclude:
        schema = schema.exclude(operation_id=list(options.exclude))
    # No control characters or backslashes in generated path parameters (Schemathesis'
    # own adaptation to servers whose routing cannot take them): no id of either spec
    # holds one, and many HTTP routers never hand them to an operation (the sandbox's
    # Starlette mounts answer `%0A` with their unknown-route 404), so the answer would
    # say nothing about the contract.
    # (After include/exclude: a filtered schema is a fresh copy.)
    schema.adapt_to_path_decoder_rejection()
    return schema


# ------------------------------------------------------------------------- credentials


def _install_credentials(schema: Any, api_name: str, api: LgApi) -> None:
    """Put the caller's credentials and a fresh message id on every generated request."""
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.generation.meta import negated_parameters

    credentials = api.credentials
    agent = user_agent()
    token = _TokenCache(api) if api_name == "bc" else None
    fixed = {
        "bc": {
            "x-api-key": credentials.api_key,
            "x-api-secret": credentials.api_secret,
            "authorization": f"Bearer {credentials.user_token}",
            "x-country-code": credentials.country,
        },
        "thinq": {
            "authorization": f"Bearer {credentials.user_token}",
            "x-country-code": credentials.country,
            "x-service-id": credentials.service_id,
            "x-service-key": credentials.service_key,
        },
        # What LG's thinqconnect SDK sends (its published key, the user's PAT).
        "connect": {
            "authorization": f"Bearer {credentials.pat}",
            "x-country": credentials.country,
            "x-client-id": CONNECT_CLIENT_ID,
            "x-api-key": SDK_API_KEY,
            "x-service-phase": "OP",
        },
    }[api_name]

    class Credentials:
        def get(self, case: Any, context: Any) -> str | None:
            return token.get() if token is not None else None

        def set(self, case: Any, data: str | None, context: Any) -> None:
            broken = {
                name.lower()
                for name, location in negated_parameters(case.meta)
                if location == ParameterLocation.HEADER
            }
            if case.headers is None:
                case.headers = {}
            declared = {
                parameter.name.lower(): parameter.name for parameter in case.operation.headers
            }
            if api_name == "bc":
                # The API key travels as a security scheme, not a declared parameter.
                declared.setdefault("x-api-key", "X-Api-Key")
            values = dict(fixed)
            if data is not None:
                values["x-api-token"] = data
            values["x-message-id"] = new_message_id()
            for lower, name in declared.items():
                if lower in values and lower not in broken:
                    case.headers[name] = values[lower]
            # So the sandbox's journal tells this run's requests from a client's.
            case.headers["User-Agent"] = agent

    schema.auth(refresh_interval=None)(Credentials)


class _TokenCache:
    """One token for many requests, renewed well before the 24 h a token lives."""

    LIFETIME = 600.0

    def __init__(self, api: LgApi) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._token = api.token()  # fails early, with what to fix, on bad credentials
        self._at = time.monotonic()

    def get(self) -> str:
        with self._lock:
            if time.monotonic() - self._at > self.LIFETIME:
                self._token = self._api.token()
                self._at = time.monotonic()
            return self._token


# ------------------------------------------------------------------------- results


@dataclass
class _Operation:
    outcome: Outcome
    unimplemented: Finding | None = None


class _Collector:
    def __init__(self, api_name: str, options: ConformanceOptions, progress: Progress) -> None:
        self.api_name = api_name
        self.options = options
        self.progress = progress
        self.operations: dict[str, _Operation] = {}
        self.documented = {operation.label for operation in contracts.contract(api_name).operations}
        self.errors: list[Outcome] = []
        self.stateful_scenarios = 0
        self.stateful_failed = 0

    def operation(self, label: str) -> _Operation:
        if label not in self.operations:
            outcome = Outcome(self.api_name, label, "schemathesis", checks=set(self.options.checks))
            self.operations[label] = _Operation(outcome)
        return self.operations[label]

    def handle(self, event: Any) -> None:
        from schemathesis.engine import events

        if isinstance(event, events.PhaseStarted) and event.phase.name.value in PHASES:
            links = ""
            if event.payload is not None:
                links = (
                    f" ({event.payload.transitions_total} links, "
                    f"{event.payload.inferred_transitions} of them inferred)"
                )
            self.progress(f"[{self.api_name}] {event.phase.name.value} ...{links}")
        elif isinstance(event, events.ScenarioFinished):
            self._scenario(event)
        elif isinstance(event, events.PhaseFinished) and event.phase.name.value == "stateful":
            if self.stateful_scenarios:
                self.progress(
                    f"[{self.api_name}] stateful: {self.stateful_scenarios} sequences, "
                    f"{self.stateful_failed} with failures"
                )
        elif isinstance(event, events.NonFatalError) and "Missing Open API links" in (
            event.info.title
        ):
            # Links lead to operations --include/--exclude-operation left out: nothing to
            # chain, which is a consequence of the selection, not a defect of the server.
            self.progress(f"[{self.api_name}] stateful: no links among the selected operations")
        elif isinstance(event, events.NonFatalError):
            finding = Finding("schemathesis", event.info.title, event.info.message)
            if event.label in self.documented:
                # The operation's own outcome carries it: one line per operation, and an
                # operation whose answer could not be read never reads as passed.
                outcome = self.operation(event.label).outcome
                if outcome.status is not Status.FAILED:
                    outcome.status = Status.ERROR
            else:
                outcome = Outcome(self.api_name, event.label, "schemathesis", Status.ERROR)
                self.errors.append(outcome)
            if all(existing.key() != finding.key() for existing in outcome.findings):
                outcome.findings.append(finding)
            outcome.note = outcome.note or event.info.title
            self.progress(f"[{self.api_name}] ERROR {event.label}: {event.info.title}")
        elif isinstance(event, events.FatalError):
            outcome = Outcome(self.api_name, "schemathesis engine", "schemathesis", Status.ERROR)
            outcome.findings.append(Finding("schemathesis", "engine error", repr(event.exception)))
            self.errors.append(outcome)

    def _scenario(self, event: Any) -> None:
        recorder = event.recorder
        phase = event.phase.value
        failed = unimplemented = False
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                label = failure.operation or _operation_of(recorder, case_id) or recorder.label
                status, answer = _response_of(recorder, case_id)
                finding = Finding(
                    check.name,
                    failure.title,
                    failure.message.strip() or f"The server answered {status}: {answer}",
                    check.failure_info.code_sample,
                )
                entry = self.operation(label)
                if status == 501:
                    unimplemented = True
                    entry.unimplemented = entry.unimplemented or Finding(
                        "operation_implemented",
                        "Operation not implemented (501)",
                        f"{label} answered 501 Not Implemented: the spec declares it, the server "
                        "does not implement it. Implement it, or run with --skip-unimplemented to "
                        "report it as skipped.",
                        check.failure_info.code_sample,
                    )
                else:
                    failed = True
                    entry.outcome.fail(finding)
        # Cases count against the operation they called, stateful steps included.
        for node in recorder.cases.values():
            entry = self.operation(node.value.operation.label)
            entry.outcome.cases += 1
        if phase == "stateful":
            self.stateful_scenarios += 1
            self.stateful_failed += failed
            return
        label = recorder.label
        entry = self.operation(label)
        entry.outcome.duration += event.elapsed_time
        if event.status.value == "skip" and not recorder.cases:
            entry.outcome.note = entry.outcome.note or (event.skip_reason or "skipped")
        if failed:
            verdict = "FAILED"
        elif unimplemented:
            verdict = "501 not implemented"
        else:
            verdict = "skipped" if event.status.value == "skip" else "ok"
        self.progress(
            f"[{self.api_name}] {phase:<9} {label:<48} {len(recorder.cases):>4} requests  {verdict}"
        )

    def outcomes(self) -> list[Outcome]:
        result = []
        for label in sorted(self.operations, key=_sort_key):
            entry = self.operations[label]
            outcome = entry.outcome
            if entry.unimplemented is not None:
                if self.options.skip_unimplemented and not outcome.findings:
                    outcome.status = Status.SKIPPED
                    outcome.note = "answers 501 Not Implemented: skipped (--skip-unimplemented)"
                else:
                    outcome.fail(entry.unimplemented)
            elif outcome.status is Status.PASSED and not outcome.cases:
                outcome.status = Status.SKIPPED
                outcome.note = outcome.note or "no request was sent"
            result.append(outcome)
        return result + self.errors


def _operation_of(recorder: Any, case_id: str) -> str | None:
    node = recorder.cases.get(case_id)
    return node.value.operation.label if node is not None else None


def _response_of(recorder: Any, case_id: str) -> tuple[int | None, str]:
    """The status and the start of the body the failing case was answered with."""
    interaction = recorder.interactions.get(case_id)
    response = getattr(interaction, "response", None)
    if response is None:
        return None, "(no response)"
    content = getattr(response, "content", b"") or b""
    return response.status_code, content[:500].decode("utf-8", "replace")


def _sort_key(label: str) -> tuple[str, str]:
    method, _, path = label.partition(" ")
    return (path, method)
