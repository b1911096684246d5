"""The client verification report, from a real sandbox's journal."""

from __future__ import annotations

import httpx
import pytest

from contract_tests.client_report import Thresholds, build, fetch_journal, render
from tests.support import bc_headers


def test_clean_client_passes_and_violations_fail(http: httpx.Client) -> None:
    http.delete("/_sandbox/journal")
    headers = bc_headers(http)
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    report = build(fetch_journal("", client=http))
    assert report.violations == [] and not report.failures(Thresholds())
    assert report.operations["getDevices"].calls == 1
    assert report.operations["createAPIToken"].calls == 1

    bad = {k: v for k, v in headers.items() if k != "X-Use-Account"}
    assert http.get("/bc/v1/devices", headers=bad).status_code == 400
    http.get("/bc/v1/nowhere", headers=headers)
    report = build(fetch_journal("", client=http))
    fields = {v["field"] for v in report.violations}
    assert "X-Use-Account" in fields and "path" in fields
    assert report.failures(Thresholds()) and not report.failures(Thresholds(max_violations=5))
    markdown = render(report, Thresholds(), "md")
    assert "**FAILED**" in markdown and "X-Use-Account" in markdown


def test_codes_met_and_coverage_thresholds(http: httpx.Client) -> None:
    http.delete("/_sandbox/journal")
    headers = bc_headers(http)
    for code in ("4304", "5000"):
        http.get("/bc/v1/devices", headers={**headers, "Prefer": f"error={code}"})
    report = build(fetch_journal("", client=http))
    assert {"4304", "5000"} <= report.codes_met()["bc"]
    assert report.violations == []  # errors a client was made to meet are not its fault
    assert 0 < report.code_coverage() < 100
    assert report.failures(Thresholds(min_operation_coverage=90))
    assert report.failures(Thresholds(min_code_coverage=99))


@pytest.mark.slow
def test_report_command_gates_on_violations(tmp_path, server) -> None:
    import json
    import subprocess

    from tests.support import lgmock_command

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*lgmock_command(), "contract", "report", "--url", server.base_url, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    with httpx.Client(base_url=server.base_url) as http:
        http.delete("/_sandbox/journal")
        headers = bc_headers(http)
        http.get("/bc/v1/devices", headers=headers)
        clean = report("--format", "json")
        assert clean.returncode == 0, clean.stderr
        assert json.loads(clean.stdout)["passed"] is True
        http.get("/bc/v1/devices", headers={**headers, "X-Message-Id": "short"})
    output = tmp_path / "report.md"
    failed = report("--output", str(output))
    assert failed.returncode == 1
    assert "X-Message-Id" in output.read_text() and "**FAILED**" in failed.stdout
    assert report("--max-violations", "1").returncode == 0
    assert report("--min-operation-coverage", "50", "--max-violations", "9").returncode == 1
    unreachable = subprocess.run(
        [*lgmock_command(), "contract", "report", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 2
