"""`lgmock contract server` against real Prism serving the vendor spec (issue 19, item 6).

Prism answers each operation with the spec's own examples, and the vendor's examples
break its schemas: the device profile's example is the string
"<<디바이스 프로파일 페이지에서 참조>>" where the schema wants an object. The kit once
died on it with a traceback; it must report it as a finding.

Prism is npm's `@stoplight/prism-cli`: `.ci/run` installs it and points `LGMOCK_PRISM`
at it (with `LGMOCK_REQUIRE_PRISM=1`, so CI fails rather than skips without it). Locally:
`npm install --prefix .ci/node @stoplight/prism-cli@5.14.2` and
`LGMOCK_PRISM=.ci/node/node_modules/.bin/prism`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.contract.support import lgmock
from tests.contract.test_server_command import failure_text, results, status
from tests.support import REPO, free_port

pytestmark = pytest.mark.slow

VENDOR_SPEC = REPO / "openapi" / "business-connect.vendor.yaml"


def prism_command() -> str | None:
    return os.environ.get("LGMOCK_PRISM") or shutil.which("prism")


@pytest.fixture(scope="module")
def prism() -> Iterator[str]:
    command = prism_command()
    if command is None:
        message = "Prism is not installed: set LGMOCK_PRISM (see this module's docstring)"
        if os.environ.get("LGMOCK_REQUIRE_PRISM"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    process = subprocess.Popen(
        [command, "mock", str(VENDOR_SPEC), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # Prism reads and checks the spec first
        while True:
            assert process.poll() is None, "Prism exited at start"
            try:
                httpx.post(f"{url}/v1/token", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "Prism did not listen within 90 s"
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_the_vendor_examples_are_findings_not_a_crash(prism: str, tmp_path: Path) -> None:
    junit = tmp_path / "prism.xml"
    code = lgmock(
        "contract", "server", "--base-url", prism, "--bc-url", prism, "--api", "bc",
        "--max-examples", "2", "--phases", "examples,fuzzing", "--max-time", "90",
        "--seed", "1", "--junit-xml", str(junit),
    )  # fmt: skip
    assert code == 1
    cases = results(junit)
    # The crash, now a typed finding with the request and a way to replay it.
    control = failure_text(cases["bc control_shows_in_status"])
    assert "answered `response` that is not an object" in control
    assert 'Got: a string: "<<디바이스 프로파일 페이지에서 참조>>"' in control
    assert "Request: GET http://127.0.0.1:" in control and "/v1/devices/profile/" in control
    assert "-H 'x-api-token: '\"$TOKEN\"" in control
    for name in ("bc control_shows_in_status", "bc unsubscribed_device_is_gone",
                 "bc deleted_dr_user_is_gone"):  # fmt: skip
        assert status(cases[name]) == "failure", failure_text(cases[name])
    # Every operation of the spec was tried and reported.
    assert len([name for name in cases if name.startswith("bc ") and "/v1/" in name]) == 24


def test_a_base_url_without_the_bc_prefix_names_the_option_to_set(
    prism: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The issue's own command: Prism serves the spec's paths at its root, not under /bc.
    code = lgmock("contract", "server", "--base-url", prism, "--no-schemathesis")
    assert code == 2
    err = capsys.readouterr().err
    assert f"POST {prism}/bc/v1/token answered 404" in err and "--bc-url" in err
