"""``lgmock contract server``: is the server at a base URL a conforming implementation?

Order matters: the domain checks run first, on the state the server starts with (they
need devices that answer), then schemathesis, whose fuzzing may leave devices
controlled and users disconnected. Against an lgmock sandbox the run resets it before
and after, and registers its own callback receiver as the ThinQ service's callback URL
for the duration; against any other server callbacks are checked only when
``--callback-url`` says where the server will deliver them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from contract_tests import conformance, domain_checks
from contract_tests.contracts import user_agent
from contract_tests.credentials import Credentials
from contract_tests.lgapi import KitError, LgApi
from contract_tests.receiver import CallbackReceiver
from contract_tests.report import Finding, Outcome, Report, Status
from contract_tests.sandbox import Sandbox
from contract_tests.schemas import thinq_problems

Progress = Callable[[str], None]
APIS = ("bc", "thinq", "connect")


@dataclass
class ServerSuiteOptions:
    base_url: str
    apis: tuple[str, ...] = APIS
    credentials: Credentials = field(default_factory=Credentials.resolve)
    bc_url: str | None = None
    thinq_url: str | None = None
    connect_url: str | None = None
    conformance: conformance.ConformanceOptions = field(
        default_factory=conformance.ConformanceOptions
    )
    schemathesis: bool = True
    domain: bool = True
    callback_url: str | None = None
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 0
    callback_timeout: float = 10.0
    reset: bool = True


def run_server_suite(options: ServerSuiteOptions, progress: Progress = print) -> Report:
    if options.schemathesis:
        conformance.check_options(options.conformance)
    report = Report(f"lgmock contract server: {options.base_url} ({', '.join(options.apis)})")
    api = LgApi(
        options.base_url,
        options.credentials,
        bc_url=options.bc_url,
        thinq_url=options.thinq_url,
        connect_url=options.connect_url,
        timeout=options.conformance.request_timeout,
    )
    sandbox = Sandbox.detect(options.base_url)
    receiver: CallbackReceiver | None = None
    restore_callback: str | None = None
    try:
        bc_available = _token_works(api, required="bc" in options.apis)
        if sandbox is not None:
            report.notes.append(
                "The server is an lgmock sandbox"
                + (": reset before and after the run." if options.reset else ".")
            )
            # The run's requests (many invalid on purpose) stay in the sandbox's journal.
            report.notes.append(
                "This run's requests are in the sandbox's journal (User-Agent "
                f"{user_agent()}, or Schemathesis' X-Schemathesis-TestCaseId header): "
                "`lgmock contract report` leaves them out of a client's report. To report "
                "on one client run, take `lgmock contract mark` before it and pass "
                "`--since MARK`."
            )
            if options.reset:
                sandbox.reset()
        receiver, reason = _start_receiver(options, sandbox)
        if receiver is not None and sandbox is not None:
            restore_callback = sandbox.set_service_callback(
                options.credentials.service_id, f"{receiver.url}/thinq"
            )
        context = domain_checks.DomainContext(
            api=api,
            receiver=receiver,
            no_receiver_reason=reason,
            callback_timeout=options.callback_timeout,
            skip_unimplemented=options.conformance.skip_unimplemented,
            bc_available=bc_available,
        )
        if options.domain:
            _run_domain_checks(options, context, report, progress)
        if options.schemathesis:
            if receiver is not None:
                receiver.clear()
            for name in options.apis:
                target = conformance.api_under_test(name, api)
                progress(f"[{name}] schemathesis on {target.base_url}")
                conformance.run(target, api, options.conformance, report, progress)
            if receiver is not None and "thinq" in options.apis:
                report.add(_callbacks_match_spec(receiver))
    finally:
        if sandbox is not None:
            if receiver is not None:
                sandbox.set_service_callback(options.credentials.service_id, restore_callback)
            if options.reset:
                sandbox.reset()
            sandbox.close()
        if receiver is not None:
            receiver.stop()
        api.close()
    return report.finish()


def _token_works(api: LgApi, *, required: bool) -> bool:
    """Is Business Connect served here with these credentials? Required: say what to fix."""
    try:
        api.token()
        return True
    except KitError:
        if required:
            raise
        return False


def _start_receiver(
    options: ServerSuiteOptions, sandbox: Sandbox | None
) -> tuple[CallbackReceiver | None, str]:
    if "thinq" not in options.apis:
        return None, "ThinQ is not under test"
    if sandbox is None and not options.callback_url:
        return None, (
            f"{options.base_url} is not an lgmock sandbox, so this run cannot register a "
            "callback receiver there. Register a URL that reaches this machine as the "
            f"callback URL of service {options.credentials.service_id}, then pass it as "
            "--callback-url URL (with --receiver-port PORT, where that URL arrives)."
        )
    receiver = CallbackReceiver(options.receiver_host, options.receiver_port).start()
    return receiver, ""


def _run_domain_checks(
    options: ServerSuiteOptions,
    context: domain_checks.DomainContext,
    report: Report,
    progress: Progress,
) -> None:
    plan = [("bc", check) for check in domain_checks.BC_CHECKS if "bc" in options.apis]
    plan += [("thinq", check) for check in domain_checks.THINQ_CHECKS if "thinq" in options.apis]
    for suite, check in plan:
        if context.receiver is not None:
            context.receiver.clear()
        outcome = report.add(domain_checks.run_check(suite, check, context))
        detail = outcome.note or "; ".join(f.message for f in outcome.findings)
        progress(f"[{suite}] domain    {outcome.name:<45} {outcome.status.value}: {detail[:160]}")


def _callbacks_match_spec(receiver: CallbackReceiver) -> Outcome:
    """Every callback the ThinQ run produced validates against the spec's schema."""
    started = time.monotonic()
    # A callback of the last request may still be on its way.
    time.sleep(0.5)
    bodies = receiver.bodies()
    outcome = Outcome("thinq", "callbacks_match_spec", "domain", cases=len(bodies))
    outcome.checks.add("callbacks_match_spec")
    for body in bodies:
        problems = thinq_problems(body)
        if problems:
            outcome.fail(
                Finding(
                    "callbacks_match_spec",
                    "A callback breaks the spec",
                    "\n".join(problems[:5]) + f"\n\nbody: {str(body)[:1000]}",
                )
            )
    if outcome.status is Status.PASSED:
        outcome.note = f"{len(bodies)} callbacks delivered during the run, all valid"
        if not bodies:
            outcome.status = Status.SKIPPED
            outcome.note = "no callback arrived during the schemathesis run"
    outcome.duration = time.monotonic() - started
    return outcome
