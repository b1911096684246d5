"""The client verification report, from a real sandbox's journal, judged by the specs."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from contract_tests.client_report import (
    Thresholds,
    build,
    fetch_journal,
    journal_mark,
    render,
)
from contract_tests.sandbox import Sandbox
from tests.support import KR_AC, RunningServer, bc_headers, connect_headers, lgmock_command


def test_clean_client_passes_and_violations_fail(http: httpx.Client) -> None:
    mark = journal_mark("", client=http)
    headers = bc_headers(http)
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    report = build(fetch_journal("", since=mark, client=http))
    assert report.violations == [] and not report.failures(Thresholds())
    assert report.operations["getDevices"].calls == 1
    assert report.operations["createAPIToken"].calls == 1

    bad = {k: v for k, v in headers.items() if k != "X-Use-Account"}
    assert http.get("/bc/v1/devices", headers=bad).status_code == 400
    http.get("/bc/v1/nowhere", headers=headers)
    report = build(fetch_journal("", since=mark, client=http))
    fields = {v["field"] for v in report.violations}
    assert "X-Use-Account" in fields and "path" in fields
    assert report.failures(Thresholds()) and not report.failures(Thresholds(max_violations=5))
    markdown = render(report, Thresholds(), "md")
    assert "**FAILED**" in markdown and "X-Use-Account" in markdown


def test_coverage_counts_what_the_spec_documents_per_operation(http: httpx.Client) -> None:
    mark = journal_mark("", client=http)
    headers = bc_headers(http)
    for code in ("4304", "5000"):
        http.get("/bc/v1/devices", headers={**headers, "Prefer": f"error={code}"})
    report = build(fetch_journal("", since=mark, client=http))
    devices = report.operations["getDevices"]
    # The repaired spec documents 200, 400, 401, 403, 404 and 500 for getDevices, and
    # 4000, 4101-4103, 4201, 4202, 4304 and 5000 as its refusals' codes.
    assert devices.documented_statuses == (200, 400, 401, 403, 404, 500)
    assert devices.documented_codes == (
        "4000", "4101", "4102", "4103", "4201", "4202", "4304", "5000",
    )  # fmt: skip
    assert devices.statuses_met == [404, 500] and devices.codes_met == ["4304", "5000"]
    assert report.violations == []  # errors a client was made to meet are not its fault
    codes = report.code_coverage()
    assert codes.met == 2 and codes.of == sum(
        len(op.documented_codes) for op in report.operations.values()
    )
    # Business Connect 24, ThinQ asynchronous 7, ThinQ Connect 19 operations.
    assert str(report.operation_coverage()) == "2 of 50 (4.0%)"  # token and devices
    assert report.failures(Thresholds(min_operation_coverage=90))
    assert report.failures(Thresholds(min_code_coverage=99))
    assert not report.failures(Thresholds(min_operation_coverage=4, min_code_coverage=0.1))
    text = render(report, Thresholds(), "md")
    assert "| operations called | 2 of 50 (4.0%) |" in text
    assert "| bc | `getDevices` | 2 | 2 of 6: 404, 500 | 2 of 8: 4304, 5000 | 0 |" in text


def test_thinq_connect_calls_are_covered_and_judged_by_its_spec(http: httpx.Client) -> None:
    mark = journal_mark("", client=http)
    headers = connect_headers()
    assert http.get("/connect/devices", headers=headers).status_code == 200
    state = http.get(f"/connect/devices/{KR_AC}/state", headers=connect_headers())
    assert state.status_code == 200
    missing = {k: v for k, v in connect_headers().items() if k != "x-client-id"}
    assert http.get("/connect/devices", headers=missing).status_code == 400
    report = build(fetch_journal("", since=mark, client=http))
    listed = report.operations["getDeviceList"]
    assert listed.api == "connect" and listed.calls == 2
    assert listed.statuses_met == [200, 400] and listed.codes_met == ["1101"]
    assert report.operations["getDeviceState"].calls == 1
    assert [v["field"] for v in report.violations] == ["x-client-id"]
    assert "| connect | `getDeviceList` | 2 |" in render(report, Thresholds(), "md")


def report_command(server: RunningServer | Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lgmock_command(), "contract", "report", "--url", server.base_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_report_command_gates_on_violations(tmp_path: Path, server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        mark = str(journal_mark("", client=http))
        headers = bc_headers(http)
        http.get("/bc/v1/devices", headers=headers)
        clean = report_command(server, "--since", mark, "--format", "json")
        assert clean.returncode == 0, clean.stderr
        assert json.loads(clean.stdout)["passed"] is True
        http.get("/bc/v1/devices", headers={**headers, "X-Message-Id": "short"})
    output = tmp_path / "report.md"
    failed = report_command(server, "--since", mark, "--output", str(output))
    assert failed.returncode == 1
    assert "X-Message-Id" in output.read_text() and "**FAILED**" in failed.stdout
    assert report_command(server, "--since", mark, "--max-violations", "1").returncode == 0
    gated = report_command(
        server, "--since", mark, "--min-operation-coverage", "50", "--max-violations", "9"
    )
    assert gated.returncode == 1
    assert "operation coverage 4.0% < 50% (--min-operation-coverage)" in gated.stdout
    unreachable = subprocess.run(
        [*lgmock_command(), "contract", "report", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 2
    assert "cannot read http://127.0.0.1:1/_sandbox/journal" in unreachable.stderr


@pytest.mark.slow
def test_a_run_marker_scopes_the_report_and_kit_traffic_is_left_out(
    server: RunningServer,
) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        headers = bc_headers(http)
        http.get("/bc/v1/devices", headers={**headers, "X-Use-Account": "NOPE"})  # before
        marked = subprocess.run(
            [*lgmock_command(), "contract", "mark", "--url", server.base_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert marked.returncode == 0, marked.stderr
        mark = marked.stdout.strip()
        assert mark.isdigit()
        http.get("/bc/v1/devices", headers=headers)
        # What `lgmock contract server` sends is marked by its User-Agent.
        kit = {**headers, "X-Use-Account": "NOPE", "User-Agent": "lgmock-contract/0.1.0"}
        http.get("/bc/v1/devices", headers=kit)
    scoped = report_command(server, "--since", mark, "--format", "json")
    assert scoped.returncode == 0, scoped.stdout
    report = json.loads(scoped.stdout)
    assert report["violations"] == [] and report["leftOut"] == 1
    assert report["scope"].startswith(f"journal entries after #{mark}")
    devices = next(op for op in report["operations"] if op["operationId"] == "getDevices")
    assert devices["calls"] == 1
    markdown = report_command(server, "--since", mark).stdout
    assert "1 request(s) sent by `lgmock contract server` left out." in markdown
    counted = report_command(server, "--since", mark, "--include-kit-traffic", "--format", "json")
    assert counted.returncode == 1
    assert json.loads(counted.stdout)["violations"][0]["field"] == "X-Use-Account"


@pytest.mark.slow
def test_junit_xml_has_a_case_per_operation_and_per_threshold(
    tmp_path: Path, server: RunningServer
) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        mark = str(journal_mark("", client=http))
        http.get("/bc/v1/devices", headers={**bc_headers(http), "X-Message-Id": "short"})
    junit = tmp_path / "client.xml"
    done = report_command(
        server, "--since", mark, "--junit-xml", str(junit), "--min-code-coverage", "1"
    )
    assert done.returncode == 1
    root = ET.parse(junit).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    failure = cases["getDevices"].find("failure")
    assert failure is not None and "X-Message-Id" in (failure.text or "")
    assert cases["getDrGroup"].find("skipped") is not None  # never called
    gate = next(case for name, case in cases.items() if name.startswith("vendor code coverage"))
    gate_failure = gate.find("failure")
    assert gate_failure is not None and "--min-code-coverage" in gate_failure.get("message", "")
    suite = root.find("testsuite[@name='lgmock.contract.client']")
    assert suite is not None and suite.get("tests") == "50"


def test_a_reader_that_stops_early_gets_no_traceback(server: RunningServer) -> None:
    command = " ".join([*lgmock_command(), "contract", "report", "--url", server.base_url])

    def piped(reader: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", f"{command} | {reader}"], capture_output=True, text=True, timeout=60
        )

    first = piped("head -1")
    assert first.stdout == "# Contract report\n"
    # `true` reads nothing and exits at once: every line the report prints meets a
    # closed pipe, the case that raised BrokenPipeError.
    closed = piped("true")
    assert closed.stderr == ""


@pytest.mark.slow
def test_a_conformance_run_is_not_counted_as_the_clients(lg_sandbox: Sandbox) -> None:
    # Its own sandbox: a conformance run fills the journal other tests read.
    server = lg_sandbox
    with httpx.Client(base_url=server.base_url) as http:
        mark = str(journal_mark("", client=http))
    conformance = subprocess.run(
        [*lgmock_command(), "contract", "server", "--base-url", server.base_url, "--api", "bc",
         "--no-domain", "--include-operation", "getDevices", "--phases", "examples,coverage",
         "--max-examples", "3", "--seed", "1", "--no-reset"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert conformance.returncode == 0, conformance.stdout + conformance.stderr
    # The run says where its requests went and how a client's report leaves them out.
    assert "`lgmock contract report` leaves them out" in conformance.stdout
    report = json.loads(report_command(server, "--since", mark, "--format", "json").stdout)
    assert report["leftOut"] > 10  # its negative requests, many of them
    assert report["violations"] == []
    counted = json.loads(
        report_command(server, "--since", mark, "--format", "json", "--include-kit-traffic").stdout
    )
    assert len(counted["violations"]) > 0
