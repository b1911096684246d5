"""A foreign server may answer anything; `lgmock contract server` reports it, never crashes.

Against a server done right (``Foreign()``) every domain check passes. Then each route
the checks call answers, in turn, in each bad shape a real server or gateway produces (a
string where an object is due, wrong types, HTML, an empty body, a 500, a connection
closed mid-answer, no answer in time), and so do the callbacks. Each run must end in a
report whose failures are typed: what was expected, what came, the request, and a curl
line to reproduce it with no credential in it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.contract.foreign_server import CALLBACKS, ROUTES, SHAPES, Foreign
from tests.contract.support import lgmock, serving
from tests.contract.test_server_command import failure_text, results, status
from tests.support import free_port

DOMAIN_CHECKS = (
    "bc control_shows_in_status",
    "bc unsubscribed_device_is_gone",
    "bc deleted_dr_user_is_gone",
    "thinq callback_per_device",
    "thinq control_async_shows_in_status",
)


def run(foreign: Foreign, tmp_path: Path) -> tuple[int, dict[str, ET.Element]]:
    """`lgmock contract server` (domain checks only) against ``foreign``."""
    port = free_port()
    foreign.callback_url = f"http://127.0.0.1:{port}/thinq"
    junit = tmp_path / "contract.xml"
    with serving(foreign) as (url, _server):
        code = lgmock(
            "contract", "server", "--base-url", url, "--no-schemathesis",
            "--request-timeout", "0.5", "--callback-timeout", "1.5",
            "--callback-url", foreign.callback_url, "--receiver-port", str(port),
            "--junit-xml", str(junit),
        )  # fmt: skip
    return code, results(junit) if junit.exists() else {}


def test_a_foreign_server_done_right_passes_every_domain_check(tmp_path: Path) -> None:
    code, cases = run(Foreign(), tmp_path)
    assert {name: status(cases[name]) for name in DOMAIN_CHECKS} == dict.fromkeys(
        DOMAIN_CHECKS, "passed"
    ), [failure_text(case) for case in cases.values()]
    assert code == 0


def assert_typed(cases: dict[str, ET.Element]) -> list[str]:
    """Every failure says what was expected, what came and how to reproduce it."""
    texts = []
    for name, case in cases.items():
        assert case.find("error") is None, f"{name}: the checker broke:\n{failure_text(case)}"
        for failure in case.findall("failure"):
            text = failure.text or ""
            texts.append(text)
            if failure.get("message") == "No answer":
                assert "Expected: an HTTP answer within 0.5 s" in text, text
            else:
                assert "\nExpected: " in text and "\nGot: " in text, text
            assert "\ncurl -sS -i -X " in text, text
            assert "acme-api-secret-0001" not in text and "kr-user-oauth-token-0001" not in text
    return texts


# Answers whose body no domain check reads, only their status: a bent body there is
# schemathesis' finding (response_schema_conformance), not a domain check's.
STATUS_ONLY = {"control", "push-subscribe", "push-delete", "dr-group-create", "dr-user-read",
               "dr-user-delete"}  # fmt: skip
KEEPS_STATUS = set(SHAPES) - {"server-error", "closed", "timeout"}


def expected_exit(route: str, shape: str) -> int:
    if route == "token":
        # Every check needs a token, so the run cannot start (2)... unless the bent answer
        # still carries a string token ({"access_token": "surprise"}), which this server takes.
        return 0 if shape == "members-are-strings" else 2
    if route in STATUS_ONLY and shape in KEEPS_STATUS:
        return 0
    if route in ("profile", "status") and shape == "wrong-types":
        # An object whose every value has another type offers no command to send and read
        # back: control_shows_in_status is skipped, saying so (asserted below).
        return 0
    return 1


# The quick tier: the case (a string where the profile object is due) and one of
# each kind of transport; the whole matrix is slow (about 200 runs).
QUICK = {("profile", "members-are-strings"), ("devices", "html"), ("status-async", "closed"),
         ("control-async", "timeout"), (CALLBACKS, "wrong-types"), ("token", "empty")}  # fmt: skip
ROUTE_SHAPES = [
    pytest.param(
        route,
        shape,
        id=f"{route}-{shape}",
        marks=() if (route, shape) in QUICK else pytest.mark.slow,
    )
    for route in [*ROUTES, CALLBACKS]
    for shape in SHAPES
]


@pytest.mark.parametrize(("route", "shape"), ROUTE_SHAPES)
def test_any_shape_of_answer_is_a_finding_never_a_crash(
    route: str, shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, cases = run(Foreign(route, shape, hang=1.5), tmp_path)
    out = capsys.readouterr()
    assert code == expected_exit(route, shape), out.out + out.err
    if code == 2:
        assert "POST http://127.0.0.1:" in out.err and "/bc/v1/token" in out.err, out.err
        return
    texts = assert_typed(cases)
    if route in ("profile", "status") and shape == "wrong-types":
        assert status(cases["bc control_shows_in_status"]) == "skipped"
    if code == 1:
        # The failure names the request that met the bent answer.
        method, pattern = ROUTES.get(route, ("POST", r"/v2/devices/[a-z]+-async"))
        served = re.compile(rf"{method} http://127\.0\.0\.1:\d+{pattern}(\s|$)")
        assert any(served.search(text) for text in texts), texts


@pytest.mark.slow
def test_schemathesis_reports_a_server_whose_every_answer_is_bent(tmp_path: Path) -> None:
    """The whole command, schemathesis included, against answers of every shape in turn."""
    junit = tmp_path / "contract.xml"
    with serving(Foreign(rotate=True, hang=1.0)) as (url, _server):
        code = lgmock(
            "contract", "server", "--base-url", url, "--max-examples", "2",
            "--phases", "examples,fuzzing", "--max-time", "60", "--request-timeout", "0.5",
            "--junit-xml", str(junit),
        )  # fmt: skip
    assert code == 1
    cases = results(junit)
    # Every operation of both specs is in the report (one schemathesis gave up on reads as
    # untested, not as passed), and only the one answered right (the token) passed.
    assert len([name for name in cases if "/v" in name]) == 24 + 7
    passed = {name for name, case in cases.items() if status(case) == "passed"}
    assert passed == {"bc POST /v1/token"}
    for case in cases.values():
        skipped = case.find("skipped")
        if skipped is not None and "/v" in (case.get("name") or ""):
            assert "schemathesis ran no test case" in skipped.get("message", "")
    # What schemathesis itself could not read (a connection closed mid-answer, JSON nested
    # 100,000 deep) is an error of that operation, with schemathesis' reason.
    for case in cases.values():
        for error in case.findall("error"):
            assert error.get("message") in ("Network Error", "Runtime Error"), failure_text(case)
