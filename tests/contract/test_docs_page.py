"""docs/contract-kit.md: each command it shows, run as written against a real sandbox."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract_tests.sandbox import Sandbox
from tests.doc_blocks import REPO, run_doc_block
from tests.support import free_port

# The kit's own sandbox (lg_sandbox), not the shared test server: a conformance run
# resets it and fills its journal.
pytestmark = pytest.mark.slow


@pytest.fixture
def written() -> Iterator[list[Path]]:
    """Files a block writes into the checkout (as a reader's CI would): removed after."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)


def test_the_server_command_passes_the_sandbox(lg_sandbox: Sandbox, written: list[Path]) -> None:
    written += [REPO / "contract.xml", REPO / "contract.md"]
    run = run_doc_block(
        "docs/contract-kit.md", "kit-server", sandbox=lg_sandbox.base_url, timeout=600
    ).check()
    assert "PASSED" in run.stdout
    suites = ET.parse(REPO / "contract.xml").getroot().findall("testsuite")
    assert {suite.get("name") for suite in suites} >= {"lgmock.contract.bc"}
    assert all(suite.get("failures") == "0" for suite in suites)
    assert (REPO / "contract.md").read_text().startswith("# lgmock contract server:")


def test_the_callbacks_command_passes_lgmocks_own_receiver(lg_sandbox: Sandbox) -> None:
    run = run_doc_block(
        "docs/contract-kit.md",
        "kit-callbacks",
        sandbox=lg_sandbox.base_url,
        receiver_port=free_port(),
        timeout=600,
    ).check()
    assert "PASSED" in run.stdout
    assert "| bc | `receiver_stays_up`" in run.stdout
    assert "| thinq | `receiver_stays_up`" in run.stdout


def test_the_report_covers_the_client_run_after_the_mark(
    lg_sandbox: Sandbox, written: list[Path]
) -> None:
    written.append(REPO / "contract-report.xml")
    run = run_doc_block(
        "docs/contract-kit.md", "kit-report", sandbox=lg_sandbox.base_url, timeout=600
    ).check()
    assert "**PASSED**" in run.stdout
    assert "Scope: journal entries after #" in run.stdout
    cases = {case.get("name") for case in ET.parse(REPO / "contract-report.xml").iter("testcase")}
    assert {"getDevices", "controlDevice", "statusAsync"} <= cases
