"""`lgmock contract server` against real Prism serving the vendor spec (issue 19, item 6).

Prism answers each operation with the spec's own examples, and the vendor's examples
break its schemas: the device profile's example is the string
"<<디바이스 프로파일 페이지에서 참조>>" where the schema wants an object. The kit once
died on it with a traceback; it must report it as a finding.

Prism is npm's `@stoplight/prism-cli`: `.ci/run` installs it and points `LGMOCK_PRISM`
at it (with `LGMOCK_REQUIRE_PRISM=1`, so CI fails rather than skips without it); the
launcher is the recorder's (tests/contract/recording.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.recording import prism_mock
from tests.contract.support import lgmock
from tests.contract.test_server_command import failure_text, results, status
from tests.support import REPO

pytestmark = pytest.mark.slow

VENDOR_SPEC = REPO / "openapi" / "business-connect.vendor.yaml"


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prism_mock(VENDOR_SPEC, tmp_path_factory.mktemp("prism")) as url:
        yield url


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
