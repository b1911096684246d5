"""`vendor_code_conformance`: the kit fails a server whose vendor codes break the spec.

Over real HTTP: a relay in front of a real sandbox renames a documented code to one no
operation documents, or moves a documented code to a status that does not document it.
Every schema check still passes on those answers; the vendor-code check must not.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contract_tests import checks, contracts
from contract_tests.sandbox import Sandbox
from tests.contract.relay import relay
from tests.contract.support import lgmock, serving


def failures(junit: Path) -> dict[str, str]:
    """testcase name -> the text of its failures, for the cases that failed."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        texts = [
            f"{f.get('type')}: {f.get('message')}\n{f.text or ''}" for f in case.findall("failure")
        ]
        if texts:
            found[str(case.get("name"))] = "\n".join(texts)
    return found


def run_bc(base_url: str, operation: str, junit: Path) -> int:
    return lgmock(
        "contract", "server", "--base-url", base_url, "--api", "bc", "--no-domain",
        "--include-operation", operation, "--phases", "examples,coverage",
        "--max-examples", "5", "--seed", "1", "--junit-xml", str(junit),
    )  # fmt: skip


@pytest.mark.slow
def test_a_relay_renaming_a_documented_code_fails_and_names_it(
    lg_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "renamed.xml"
    with serving(relay(lg_sandbox.base_url, replace={b"4102": b"4199"})) as (url, _):
        code = run_bc(url, "controlDevice", junit)
    out = capsys.readouterr().out
    assert code == 1, out
    found = failures(junit)
    text = found["POST /v1/devices/{deviceId}"]
    assert "vendor_code_conformance: Undocumented vendor code" in text
    assert "Received: 400 with vendor code 4199 (X-Response-Code, body error.code)" in text
    assert "Documented for 400 of controlDevice: 4000, 4101, 4102, 4103" in text
    assert "4199 is documented by no operation of this API" in text
    # Schemathesis' reproduce command comes with it.
    assert "curl -X POST" in out


@pytest.mark.slow
def test_a_documented_code_with_the_wrong_status_fails(
    lg_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "moved.xml"
    with serving(relay(lg_sandbox.base_url, statuses={404: 400})) as (url, _):
        code = run_bc(url, "getStatusOfDevice", junit)
    out = capsys.readouterr().out
    assert code == 1, out
    text = failures(junit)["GET /v1/devices/{deviceId}"]
    assert "Vendor code with the wrong HTTP status" in text
    assert "Received: 400 with vendor code 4304" in text
    assert "4304 is documented with HTTP 404" in text


@pytest.mark.slow
def test_the_sandbox_answers_only_documented_codes(
    lg_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "sandbox.xml"
    for operation in ("controlDevice", "getStatusOfDevice"):
        assert run_bc(lg_sandbox.base_url, operation, junit) == 0, capsys.readouterr().out
        assert failures(junit) == {}


# ------------------------------------------------------------------------- the rules


def test_codes_are_read_from_the_header_and_every_envelope() -> None:
    body = {"messageId": "m", "error": {"code": "4304", "message": "x"}}
    assert checks.vendor_codes({"x-response-code": ["4304"]}, json.dumps(body).encode()) == {
        "X-Response-Code": "4304",
        "body error.code": "4304",
    }
    dr = json.dumps({"code": 4308, "message": "x"}).encode()
    assert checks.vendor_codes({}, dr) == {"body code": "4308"}
    thinq = {"responseCode": "1101", "response": {"error": {"code": "1101"}}, "statusCode": 400}
    assert checks.vendor_codes({}, json.dumps(thinq).encode()) == {
        "body responseCode": "1101",
        "body response.error.code": "1101",
    }


def test_the_rules_each_name_what_was_allowed() -> None:
    control = contracts.operation("controlDevice")
    accepted = contracts.operation("statusAsync")
    assert control is not None and accepted is not None

    def titles(operation, status, code):  # type: ignore[no-untyped-def]
        found = {"X-Response-Code": code} if code else {}
        return [title for title, _, _ in checks.problems(operation, status, found)]

    assert titles(control, 400, "4102") == []
    assert titles(control, 200, "2000") == []
    assert titles(control, 404, "2000") == ["Success code on a refusal"]
    assert titles(control, 200, "4102") == ["Error code on a success"]
    assert titles(control, 400, "4304") == ["Vendor code with the wrong HTTP status"]
    assert titles(control, 400, "4199") == ["Undocumented vendor code"]
    assert titles(control, 404, None) == ["Missing vendor code"]
    assert titles(control, 418, "4199") == []  # status_code_conformance's finding
    # ThinQ: 0000 is its success; its 2000 is an internal error, documented with 500.
    assert titles(accepted, 202, "0000") == []
    assert titles(accepted, 500, "2000") == []
    assert titles(accepted, 202, "2000") == ["Error code on a success"]
