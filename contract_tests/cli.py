"""`lgmock contract ...`: the contract test kit's commands (registered by mockserver.cli).

Exit status: 0 when everything passed (skips allowed), 1 when a check failed, 2 when the
run could not start as configured (the message says what to change).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from contract_tests.credentials import ENVIRONMENT


def register(commands: argparse._SubParsersAction) -> None:
    contract = commands.add_parser("contract", help="contract test kit")
    kit = contract.add_subparsers(dest="contract_command", required=True)
    _server_parser(kit)
    _callbacks_parser(kit)
    _report_parser(kit)
    _mark_parser(kit)
    # `lgmock record` is the kit's too (it judges by the kit's checks), so the kit's one
    # entry point registers it: a new command group needs no reinstall of the metadata.
    from contract_tests.receiver_cli import register as register_receiver
    from contract_tests.record.cli import register as register_record

    register_record(commands)
    register_receiver(commands)


# ------------------------------------------------------------------------- report


def _sandbox_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("LGMOCK_SANDBOX_URL", "http://127.0.0.1:8080"),
        help="the sandbox the client ran against (env LGMOCK_SANDBOX_URL)",
    )


def _mark_parser(kit: argparse._SubParsersAction) -> None:
    mark = kit.add_parser(
        "mark",
        help="print a run marker: `lgmock contract report --since MARK` covers what follows",
        description=(
            "Prints the id of the sandbox journal's newest entry. Take it before a client "
            "run; `lgmock contract report --since MARK` then reports on that run alone."
        ),
    )
    _sandbox_url(mark)
    mark.set_defaults(run=_run_mark)


def _run_mark(args: argparse.Namespace) -> int:
    import httpx

    from contract_tests.client_report import JOURNAL, journal_mark

    try:
        _emit(str(journal_mark(args.url)))
    except httpx.HTTPError as exc:
        return _refuse(f"cannot read {args.url}{JOURNAL}: {exc}")
    return 0


def _report_parser(kit: argparse._SubParsersAction) -> None:
    from contract_tests.client_report import FORMATS

    report = kit.add_parser(
        "report",
        help="gate a client's CI on what it did against the sandbox (from the journal)",
        description=(
            "Per operation of both APIs, judged by the specs: called or not, documented "
            "statuses and vendor codes met, spec violations in the client's requests (with "
            "the offending field); totals as N of M and %%. Exit 1 when the client violated "
            "the contract or missed a threshold. Requests sent by `lgmock contract server` "
            "are left out; --since scopes the report to one client run."
        ),
    )
    _sandbox_url(report)
    report.add_argument(
        "--since",
        metavar="MARK",
        help="only what came after MARK: the id `lgmock contract mark` printed before the "
        "client ran, or an ISO-8601 time on the sandbox clock",
    )
    report.add_argument(
        "--include-kit-traffic",
        action="store_true",
        help="count the requests of `lgmock contract server` runs too",
    )
    report.add_argument("--format", choices=FORMATS, default="md", help="what to print (md)")
    report.add_argument("--output", type=Path, help="also write the printed report to FILE")
    report.add_argument("--junit-xml", type=Path, metavar="FILE", help="write JUnit XML here")
    report.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    report.add_argument(
        "--max-violations", type=int, default=0, help="violations tolerated (default 0)"
    )
    for name, what in (
        ("operation", "operations the client must call"),
        ("status", "documented (operation, HTTP status) pairs the client must meet"),
        ("code", "documented (operation, vendor code) pairs the client must meet"),
    ):
        report.add_argument(
            f"--min-{name}-coverage",
            type=float,
            default=0.0,
            metavar="PERCENT",
            help=f"percent of {what} (default 0)",
        )
    report.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    import httpx

    from contract_tests.client_report import (
        JOURNAL,
        Thresholds,
        build,
        fetch_journal,
        parse_since,
        render,
    )

    thresholds = Thresholds(
        max_violations=args.max_violations,
        min_operation_coverage=args.min_operation_coverage,
        min_status_coverage=args.min_status_coverage,
        min_code_coverage=args.min_code_coverage,
    )
    since = parse_since(args.since)
    if since is None:
        scope = f"the whole journal of {args.url}"
    elif isinstance(since, int):
        scope = f"journal entries after #{since} ({args.url})"
    else:
        scope = f"journal entries since {since} on the sandbox clock ({args.url})"
    try:
        entries = fetch_journal(args.url, since=since)
    except httpx.HTTPError as exc:
        return _refuse(f"cannot read {args.url}{JOURNAL}: {exc}")
    report = build(entries, scope=scope, include_kit=args.include_kit_traffic)
    text = render(report, thresholds, args.format)
    for path, fmt in ((args.output, args.format), (args.junit_xml, "junit"), (args.json, "json")):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(report, thresholds, fmt), encoding="utf-8")
    _emit(text.rstrip("\n"))
    return 1 if report.failures(thresholds) else 0


# ------------------------------------------------------------------------- server


def _server_parser(kit: argparse._SubParsersAction) -> None:
    from contract_tests.conformance import DEFAULT_CHECKS, LEFT_OUT, PHASES

    server = kit.add_parser(
        "server",
        help="prove a server implements the Business Connect and ThinQ specs",
        description=(
            "Schemathesis over both specs plus domain checks, against any server. "
            "Credentials: the options, else LGMOCK_* variables, else the built-in default "
            "scenario's. Against an lgmock sandbox the run resets it before and after."
        ),
    )
    server.add_argument(
        "--base-url",
        default=os.environ.get("LGMOCK_BASE_URL"),
        help="server under test, e.g. http://127.0.0.1:8080 (env LGMOCK_BASE_URL)",
    )
    server.add_argument(
        "--api",
        choices=["bc", "thinq", "connect", "all"],
        default="all",
        help="what to test (default all: Business Connect, ThinQ asynchronous, ThinQ Connect)",
    )
    server.add_argument("--bc-url", help="Business Connect base URL (default: BASE/bc)")
    server.add_argument("--thinq-url", help="ThinQ base URL (default: BASE)")
    server.add_argument(
        "--connect-url",
        help="ThinQ Connect base URL (default: BASE/connect; LG's: https://api-kic.lgthinq.com)",
    )
    _credential_options(server)
    tuning = server.add_argument_group("generation (keep CI bounded)")
    tuning.add_argument(
        "--max-examples", type=int, default=10, help="per operation and phase (default 10)"
    )
    tuning.add_argument(
        "--max-time", type=float, default=120.0, help="seconds of schemathesis per API (120)"
    )
    tuning.add_argument(
        "--mode",
        choices=["positive", "negative", "all"],
        default="all",
        help="valid requests, invalid ones, or both (default all)",
    )
    tuning.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated (default {','.join(PHASES)})"
    )
    tuning.add_argument(
        "--checks",
        default=",".join(DEFAULT_CHECKS),
        help=f"schemathesis checks, comma-separated (default {','.join(DEFAULT_CHECKS)}); "
        "left out as unsound for these APIs: "
        + "; ".join(f"{name} ({why})" for name, why in LEFT_OUT.items()),
    )
    tuning.add_argument("--seed", type=int, help="make generation reproducible")
    tuning.add_argument("--request-timeout", type=float, default=10.0, help="seconds (10)")
    tuning.add_argument(
        "--include-operation",
        action="append",
        default=[],
        metavar="OPERATION_ID",
        help="fuzz only this operation (repeatable), e.g. getDevices",
    )
    tuning.add_argument(
        "--exclude-operation",
        action="append",
        default=[],
        metavar="OPERATION_ID",
        help="do not fuzz this operation (repeatable)",
    )
    server.add_argument(
        "--skip-unimplemented",
        action="store_true",
        help="report operations answering 501 as skipped (with a note) instead of failed",
    )
    server.add_argument("--no-schemathesis", action="store_true", help="domain checks only")
    server.add_argument("--no-domain", action="store_true", help="schemathesis only")
    server.add_argument(
        "--no-reset", action="store_true", help="do not reset a sandbox before and after"
    )
    callbacks = server.add_argument_group("callbacks (ThinQ domain checks)")
    callbacks.add_argument(
        "--callback-url",
        help="for a server that is not a sandbox: the callback URL registered for the "
        "service, which must reach the receiver this run starts",
    )
    callbacks.add_argument(
        "--receiver-host", default="127.0.0.1", help="where the receiver listens (127.0.0.1)"
    )
    callbacks.add_argument(
        "--receiver-port", type=int, default=0, help="where it listens (default: a free port)"
    )
    callbacks.add_argument(
        "--callback-timeout", type=float, default=10.0, help="seconds to wait for callbacks (10)"
    )
    _output_options(server)
    server.set_defaults(run=_run_server)


def _run_server(args: argparse.Namespace) -> int:
    missing = _missing("schemathesis", "hypothesis")
    if missing:
        return _refuse(missing)
    from contract_tests.conformance import ConformanceOptions
    from contract_tests.credentials import Credentials
    from contract_tests.lgapi import KitError
    from contract_tests.server_suite import APIS, ServerSuiteOptions, run_server_suite

    if not args.base_url:
        return _refuse("--base-url is required (or set LGMOCK_BASE_URL)")
    options = ServerSuiteOptions(
        base_url=args.base_url,
        apis=APIS if args.api == "all" else (args.api,),
        credentials=Credentials.resolve(vars(args)),
        bc_url=args.bc_url,
        thinq_url=args.thinq_url,
        connect_url=args.connect_url,
        conformance=ConformanceOptions(
            max_examples=args.max_examples,
            max_time=args.max_time,
            mode=args.mode,
            phases=_listed(args.phases),
            checks=_listed(args.checks),
            seed=args.seed,
            skip_unimplemented=args.skip_unimplemented,
            request_timeout=args.request_timeout,
            include=tuple(args.include_operation),
            exclude=tuple(args.exclude_operation),
        ),
        schemathesis=not args.no_schemathesis,
        domain=not args.no_domain,
        callback_url=args.callback_url,
        receiver_host=args.receiver_host,
        receiver_port=args.receiver_port,
        callback_timeout=args.callback_timeout,
        reset=not args.no_reset,
    )
    try:
        report = run_server_suite(options, progress=_progress)
    except (KitError, ValueError) as exc:
        return _refuse(str(exc))
    return _finish(report, args)


# ------------------------------------------------------------------------- callbacks


def _callbacks_parser(kit: argparse._SubParsersAction) -> None:
    callbacks = kit.add_parser(
        "callbacks",
        help="prove a callback receiver takes every callback the platform may send",
        description=(
            "POSTs hypothesis-generated, spec-valid callbacks to a receiver: every pushType, "
            "success and per-device failures, unknown fields, unicode, large results, "
            "duplicate and out-of-order delivery. The receiver must answer 2xx in time and "
            "stay up; a failure is shown with the smallest payload that causes it."
        ),
    )
    callbacks.add_argument("--target", required=True, help="the receiver's URL")
    callbacks.add_argument(
        "--api",
        choices=["thinq", "bc", "all"],
        default="thinq",
        help="ThinQ callbacks and messages, Business Connect push messages, or both "
        "(default thinq)",
    )
    callbacks.add_argument(
        "--bc-target", help="where Business Connect push messages go (default: --target)"
    )
    callbacks.add_argument(
        "--timeout", type=float, default=5.0, help="seconds a delivery may take (default 5)"
    )
    callbacks.add_argument(
        "--max-examples", type=int, default=20, help="per kind of delivery (default 20)"
    )
    callbacks.add_argument(
        "--max-body-bytes",
        type=int,
        default=256 * 1024,
        help="largest result to send (default 262144)",
    )
    callbacks.add_argument(
        "--shrink-time",
        type=float,
        default=20.0,
        help="seconds per kind spent shrinking a failure to its smallest payload (default 20)",
    )
    callbacks.add_argument("--seed", type=int, help="make generation reproducible")
    callbacks.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="extra header on every delivery (repeatable), e.g. a shared secret",
    )
    _output_options(callbacks)
    callbacks.set_defaults(run=_run_callbacks)


def _run_callbacks(args: argparse.Namespace) -> int:
    missing = _missing("hypothesis")
    if missing:
        return _refuse(missing)
    from contract_tests.callback_tester import CallbackTester, CallbackTesterOptions

    targets = {}
    if args.api in ("thinq", "all"):
        targets["thinq"] = args.target
    if args.api in ("bc", "all"):
        targets["bc"] = args.bc_target or args.target
    headers = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            return _refuse(f"--header {item!r}: write it as NAME:VALUE")
        headers[name.strip()] = value.strip()
    options = CallbackTesterOptions(
        targets=targets,
        timeout=args.timeout,
        max_examples=args.max_examples,
        max_body_bytes=args.max_body_bytes,
        seed=args.seed,
        headers=headers,
        shrink_time=args.shrink_time,
    )
    silent = _nothing_listens(targets.values())
    if silent:
        return _refuse(silent)
    _emit(f"lgmock contract callbacks: sending to {', '.join(targets.values())}")
    return _finish(CallbackTester(options, progress=_progress).run(), args)


# ------------------------------------------------------------------------- shared


def _credential_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "credentials (default: environment, then the built-in default scenario)"
    )
    for name, variable in ENVIRONMENT.items():
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"env {variable}")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit-xml", type=Path, metavar="FILE", help="write JUnit XML here")
    parser.add_argument(
        "--summary", type=Path, metavar="FILE", help="write the Markdown summary here"
    )


def _finish(report: object, args: argparse.Namespace) -> int:
    from contract_tests.report import Report

    assert isinstance(report, Report)
    report.write(junit_xml=args.junit_xml, summary=args.summary)
    _emit("\n" + report.markdown())
    return 0 if report.ok else 1


def _progress(line: str) -> None:
    _emit(line)


def _emit(text: str) -> None:
    """Print to stdout; a reader that went away (`| head`) ends the output, not the run.

    The run still finishes and its exit status still says whether it passed; what is
    left to print goes nowhere instead of raising BrokenPipeError at every line.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _nothing_listens(urls: Iterable[str]) -> str:
    """Why a run cannot start: no server accepts connections at a target URL."""
    import socket
    from urllib.parse import urlsplit

    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"--target {url!r} is not an http(s) URL"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=3):
                pass
        except OSError as exc:
            return (
                f"nothing listens at {url} ({exc.strerror or exc}): start the receiver "
                "there first, or point --target at the one that is running"
            )
    return ""


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _missing(*modules: str) -> str:
    """Why the kit cannot run here: a dependency of lgmock is missing from this environment.

    They install with lgmock itself; one is missing only from an environment changed
    since, so the hint names the packages, which works from a checkout and a wheel alike.
    """
    import importlib.util

    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    if not absent:
        return ""
    return (
        f"{', '.join(absent)} not installed (lgmock depends on them; this environment lost "
        f"them): {sys.executable} -m pip install {' '.join(absent)}"
    )


def _refuse(message: str) -> int:
    print(f"lgmock contract: {message}", file=sys.stderr)
    return 2
