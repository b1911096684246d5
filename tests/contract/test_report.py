"""The report's two forms: JUnit XML a CI system reads, Markdown a person reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from contract_tests.report import Finding, Outcome, Report, Status


def sample() -> Report:
    report = Report("lgmock contract server: http://x")
    report.add(Outcome("bc", "GET /v1/devices", "schemathesis", cases=12))
    failed = report.add(Outcome("bc", "GET /v1/push", "schemathesis", cases=3))
    failed.fail(
        Finding("not_a_server_error", "Server error", "answered 500", "curl -X GET http://x")
    )
    failed.fail(Finding("not_a_server_error", "Server error", "answered 500 again", "curl ..."))
    skipped = report.add(Outcome("bc", "POST /v1/dr/users", "schemathesis", Status.SKIPPED))
    skipped.note = "answers 501 Not Implemented: skipped (--skip-unimplemented)"
    return report.finish()


def test_junit_counts_and_details() -> None:
    root = ET.fromstring(sample().junit_xml())
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    failure = root.find(".//testcase[@name='GET /v1/push']/failure")
    assert failure is not None and failure.get("type") == "not_a_server_error"
    assert "answered 500" in (failure.text or "") and "curl -X GET" in (failure.text or "")
    skipped = root.find(".//testcase[@name='POST /v1/dr/users']/skipped")
    assert skipped is not None and "501" in skipped.get("message", "")


def test_markdown_names_each_failure_once_with_how_to_reproduce() -> None:
    report = sample()
    text = report.markdown()
    assert not report.ok
    assert text.startswith(
        "# lgmock contract server: http://x\n\n**FAILED: 1 passed, 1 failed, 1 skipped"
    )
    assert text.count("### bc `GET /v1/push`: not_a_server_error") == 1  # deduplicated
    assert "curl -X GET http://x" in text
