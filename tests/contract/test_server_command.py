"""`lgmock contract server`: passes the sandbox, fails a broken server, says why."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract_tests.sandbox import Sandbox
from tests.contract import broken_server
from tests.contract.support import lgmock, serving
from tests.support import free_port, lgmock_command


def results(junit: Path) -> dict[str, ET.Element]:
    """'suite name' -> testcase element, from the JUnit XML the command wrote."""
    root = ET.parse(junit).getroot()
    return {
        f"{case.get('classname', '').split('.')[2]} {case.get('name')}": case
        for case in root.iter("testcase")
    }


def status(case: ET.Element) -> str:
    for tag in ("failure", "error", "skipped"):
        if case.find(tag) is not None:
            return tag
    return "passed"


def failure_text(case: ET.Element) -> str:
    return "\n".join(
        f"{f.get('type')}: {f.get('message')}\n{f.text or ''}"
        for f in [*case.findall("failure"), *case.findall("error")]
    )


@pytest.fixture(scope="module")
def broken() -> Iterator[str]:
    with serving(broken_server.app) as (url, _server):
        yield url


@pytest.mark.slow
def test_the_sandbox_conforms_to_every_spec(
    lg_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, summary = tmp_path / "contract.xml", tmp_path / "contract.md"
    code = lgmock(
        "contract", "server", "--base-url", lg_sandbox.base_url, "--skip-unimplemented",
        "--seed", "7", "--junit-xml", str(junit), "--summary", str(summary),
    )  # fmt: skip
    out = capsys.readouterr().out
    cases = results(junit)
    failed = [failure_text(case) for case in cases.values() if status(case) in ("failure", "error")]
    assert failed == [], out
    assert code == 0, out
    # Every domain check ran and passed; every operation was tested, none skipped (with
    # --skip-unimplemented an operation answering 501 would show here as skipped).
    for name in (
        "bc control_shows_in_status",
        "bc unsubscribed_device_is_gone",
        "bc deleted_dr_user_is_gone",
        "thinq callback_per_device",
        "thinq control_async_shows_in_status",
        "thinq callbacks_match_spec",
    ):
        assert status(cases[name]) == "passed", name
    assert [name for name, case in cases.items() if status(case) == "skipped"] == []
    # Every operation of the three specs was exercised, and progress was shown meanwhile.
    operations = [name for name, case in cases.items() if "/v" in name]
    assert len(operations) == 24 + 7
    connect = [name for name in cases if name.startswith("connect ")]
    assert len(connect) == 19, connect
    assert "[bc] fuzzing" in out and "[thinq] stateful" in out and "[connect] stateful" in out
    assert summary.read_text().startswith(f"# lgmock contract server: {lg_sandbox.base_url}")
    # The run resets the sandbox and gives the service its callback URL back.
    service = lg_sandbox.state()["services"][0]
    assert service["callbackUrl"] is None  # the default scenario's: the sandbox's inbox


@pytest.mark.slow
def test_schemathesis_over_thinq_connect_finds_no_server_error_nor_schema_violation(
    lg_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "connect.xml"
    code = lgmock(
        "contract", "server", "--base-url", lg_sandbox.base_url, "--api", "connect",
        "--seed", "11", "--max-examples", "8", "--junit-xml", str(junit),
    )  # fmt: skip
    out = capsys.readouterr().out
    cases = results(junit)
    assert len(cases) == 19, sorted(cases)
    failed = [failure_text(case) for case in cases.values() if status(case) != "passed"]
    assert failed == [], out
    assert code == 0, out
    # not_a_server_error and response_schema_conformance ran on every operation.
    assert "[connect] stateful" in out
    assert "Traceback" not in lg_sandbox.log()


@pytest.mark.slow
def test_a_broken_server_fails_with_the_reasons(
    broken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "broken.xml"
    code = lgmock(
        "contract", "server", "--base-url", broken, "--max-examples", "5", "--seed", "1",
        "--junit-xml", str(junit),
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    cases = results(junit)
    planted = {
        "bc GET /v1/devices": "response_schema_conformance",
        "thinq POST /v2/devices/status-async": "status_code_conformance",
        "bc GET /v1/push": "not_a_server_error",
        "bc POST /v1/dr/users": "operation_implemented",
        "bc control_shows_in_status": "Got: powerSave.powerSaveEnabled = True",
        "bc unsubscribed_device_is_gone": "GET /bc/v1/push answered 500",
    }
    for name, reason in planted.items():
        assert status(cases[name]) == "failure", name
        assert reason in failure_text(cases[name]), (name, failure_text(cases[name]))
    # Not a sandbox: callbacks cannot be registered, and the report says what to do.
    skipped = cases["thinq callback_per_device"].find("skipped")
    assert skipped is not None and "--callback-url" in skipped.get("message", "")
    assert "## Failures" in out and "Reproduce:" in out


def test_unimplemented_operations_fail_unless_skipped(
    broken: str, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("contract", "server", "--base-url", broken, "--api", "bc", "--no-domain")
    selected = ("--include-operation", "createDrUser", "--max-examples", "3", "--seed", "1")
    assert lgmock(*common, *selected) == 1
    out = capsys.readouterr().out
    assert "POST /v1/dr/users answered 501 Not Implemented" in out
    assert "--skip-unimplemented" in out
    assert lgmock(*common, *selected, "--skip-unimplemented") == 0
    assert "answers 501 Not Implemented: skipped (--skip-unimplemented)" in capsys.readouterr().out


def test_refused_credentials_say_what_to_fix(
    lg_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = lgmock("contract", "server", "--base-url", lg_sandbox.base_url, "--api-key", "nope")
    assert code == 2
    assert "check --api-key and --api-secret" in capsys.readouterr().err


def test_the_console_script_runs_the_domain_checks(lg_sandbox: Sandbox) -> None:
    done = subprocess.run(
        [*lgmock_command(), "contract", "server", "--base-url", lg_sandbox.base_url,
         "--no-schemathesis", "--api", "bc", "--skip-unimplemented"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "control_shows_in_status" in done.stdout


def test_callback_checks_run_on_any_server_given_a_callback_url(
    broken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "callbacks.xml"
    port = str(free_port())
    code = lgmock(
        "contract", "server", "--base-url", broken, "--api", "thinq", "--no-schemathesis",
        "--callback-url", f"http://127.0.0.1:{port}/thinq", "--receiver-port", port,
        "--callback-timeout", "1", "--junit-xml", str(junit),
    )  # fmt: skip
    assert code == 1
    case = results(junit)["thinq callback_per_device"]
    assert status(case) == "failure"  # ran, rather than skipped for want of a receiver
    text = failure_text(case)
    assert "POST /v2/devices/profile-async answered 404\nExpected: 202\nGot: 404" in text
    assert "\ncurl -sS -i -X POST http://127.0.0.1:" in text


def test_an_unknown_check_is_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = lgmock("contract", "server", "--base-url", "http://127.0.0.1:9", "--checks", "nonsense")
    assert code == 2
    assert "unknown checks ['nonsense']: choose from" in capsys.readouterr().err
