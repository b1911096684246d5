"""Hostile bodies over real HTTP: refused in the called API's envelope, never a 500,
and the journal and the contract report keep working afterwards."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from mockserver.limits import MIB
from mockserver.wire import new_message_id
from tests.support import KR_TOKEN, OFFICE_AC, RunningServer, bc_headers, lgmock_command

NESTED = b"[" * 2000 + b"]" * 2000  # about 4 KB: the body that used to answer 500


def thinq_headers() -> dict[str, str]:
    return {
        "Authorization": f"Bearer {KR_TOKEN}",
        "x-message-id": new_message_id(),
        "x-service-id": "acme-thinq-service",
        "x-service-key": "acme-thinq-service-key",
        "x-country-code": "KR",
    }


def targets(http: httpx.Client) -> list[tuple[str, dict[str, str], str]]:
    """(path, headers, which envelope) for one operation of each API family."""
    bc = bc_headers(http)
    return [
        (f"/bc/v1/devices/{OFFICE_AC}", bc, "bc"),
        ("/bc/v1/dr/groups", {**bc, "X-Country-Code": "KR"}, "dr"),
        ("/v2/devices/control-async", thinq_headers(), "thinq"),
        ("/_sandbox/clock", {}, "sandbox"),
    ]


def assert_refused(answer: httpx.Response, envelope: str, words: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    if envelope == "bc":
        assert body["error"]["code"] == "4102" and words in body["error"]["message"]
        assert answer.headers["X-Response-Code"] == "4102"
    elif envelope == "dr":
        assert body["code"] == 4102 and words in body["message"]
    elif envelope == "thinq":
        assert body["responseCode"] == "1102" and body["statusCode"] == 400
        assert words in body["response"]["error"]["message"]
    else:
        assert body["error"]["code"] == "INVALID_BODY" and words in body["error"]["message"]


@pytest.fixture
def hostile(http: httpx.Client) -> Iterator[httpx.Client]:
    http.delete("/_sandbox/journal")
    yield http
    http.delete("/_sandbox/journal")  # leave no violations behind for other tests


def test_deeply_nested_bodies_are_refused_in_each_apis_envelope(hostile: httpx.Client) -> None:
    for path, headers, envelope in targets(hostile):
        answer = hostile.post(
            path, content=NESTED, headers={**headers, "Content-Type": "application/json"}
        )
        assert_refused(answer, envelope, "levels deep")


def test_a_yaml_scenario_nested_by_indentation_is_refused(hostile: httpx.Client) -> None:
    document = "".join(" " * depth + "a:\n" for depth in range(1500)).encode()
    answer = hostile.post(
        "/_sandbox/scenario", content=document, headers={"Content-Type": "application/yaml"}
    )
    assert_refused(answer, "sandbox", "levels deep")
    assert hostile.get("/_sandbox/health").json()["devices"] > 0  # the state did not change


def test_a_yaml_alias_bomb_is_refused_at_once(hostile: httpx.Client) -> None:
    # 60 aliases, under 400 bytes, 10 million nodes once expanded: used to hold the
    # server for 20 s; 9 levels would hold it for hours.
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for n in range(1, 9):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 10) + "]")
    answer = hostile.post(
        "/_sandbox/scenario",
        content="\n".join(lines).encode(),
        headers={"Content-Type": "application/yaml"},
        timeout=10,
    )
    assert_refused(answer, "sandbox", "YAML aliases")


@pytest.mark.parametrize("size", [MIB + 1, 10 * MIB])
def test_bodies_over_the_size_limit_are_refused(hostile: httpx.Client, size: int) -> None:
    body = b'{"a": "' + b"x" * size + b'"}'
    for path, headers, envelope in targets(hostile)[:3]:
        answer = hostile.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert_refused(answer, envelope, "larger than the 1048576 bytes")


def test_a_chunked_body_is_cut_off_at_the_limit(hostile: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"a": "'
        for _ in range(20):  # 2 MB without a Content-Length
            yield b"x" * 100_000
        yield b'"}'

    path, headers, envelope = targets(hostile)[0]
    answer = hostile.post(
        path, content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert "content-length" not in answer.request.headers
    assert_refused(answer, envelope, "larger than the 1048576 bytes")


def test_journal_and_report_still_work_after_hostile_bodies(
    hostile: httpx.Client, server: RunningServer
) -> None:
    path, headers, _ = targets(hostile)[0]
    hostile.post(path, content=NESTED, headers={**headers, "Content-Type": "application/json"})
    hostile.post(
        path,
        content=b"\xff\xfe not utf-8 " + NESTED,
        headers={**headers, "Content-Type": "application/json"},
    )
    page = hostile.get("/_sandbox/journal", params={"limit": 1000})
    assert page.status_code == 200, page.text
    bodies = [item["request"]["body"] for item in page.json()["items"]]
    # Whatever was sent is shown, as text when it is not safe to parse.
    assert NESTED.decode() in bodies
    assert any(isinstance(b, str) and b.startswith("\ufffd") for b in bodies)
    refused = next(i for i in page.json()["items"] if i["request"]["body"] == NESTED.decode())
    assert refused["violations"][0]["code"] == "4102"
    assert refused["violations"][0]["field"] == "body"

    journal = subprocess.run(
        [*lgmock_command(), "journal", "--url", server.base_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert journal.returncode == 0, journal.stderr
    report = subprocess.run(
        [*lgmock_command(), "contract", "report", "--url", server.base_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Exit 1: the client's hostile bodies are violations the report names; 2 would mean
    # the report could not read the journal.
    assert report.returncode == 1, report.stdout + report.stderr
    assert "4102" in report.stdout


# Characters Python's str.strip() takes for whitespace and JSON does not (RFC 8259 allows
# space, tab, CR and LF only): a body of them is not "no body", it is not JSON.
NOT_JSON_WHITESPACE = ["\x1f", "\x1c\x1d\x1e", "\x0b", "\x0c", "\x85", "\u00a0", "\u2028", "\u3000"]


@pytest.mark.parametrize("text", NOT_JSON_WHITESPACE)
def test_a_body_of_whitespace_json_does_not_know_is_refused(
    hostile: httpx.Client, text: str
) -> None:
    # event-async takes an optional body: the one that used to answer 202.
    everywhere = [*targets(hostile), ("/v2/devices/event-async", thinq_headers(), "thinq")]
    for path, headers, envelope in everywhere:
        answer = hostile.post(
            path,
            content=text.encode(),
            headers={
                **headers,
                "Content-Type": "application/json",
                "X-Message-Id": new_message_id(),
            },
        )
        assert_refused(answer, envelope, "not valid JSON")


def test_json_whitespace_is_still_no_body_where_the_body_is_optional(
    hostile: httpx.Client,
) -> None:
    answer = hostile.post(
        "/v2/devices/event-async",
        content=b" \r\n\t",
        headers={**thinq_headers(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"advance": 2.5e71}, "advance"),
        ({"advance": 1e11 + 1}, "advance"),
        # Within the spec's maximum, but past 9000-01-01 from the instant set.
        ({"set": "8000-01-01T00:00:00+00:00", "advance": 9e10}, "advance"),
        ({"set": "8999-12-31T23:00:00+00:00", "advance": 7200}, "advance"),
        ({"set": "9999-12-31T23:59:59+00:00"}, "set"),
        ({"set": "0001-01-01T00:00:00+00:00", "freeze": True}, "set"),
        ({"set": "1969-12-31T23:59:59+00:00"}, "set"),
    ],
)
def test_a_clock_out_of_range_is_refused_naming_the_field_and_changes_nothing(
    hostile: httpx.Client, body: dict, field: str
) -> None:
    before = hostile.post("/_sandbox/clock", json={"freeze": True}).json()
    answer = hostile.post("/_sandbox/clock", json=body)
    assert_refused(answer, "sandbox", field)
    assert hostile.get("/_sandbox/clock").json() == before  # frozen, and not moved
    hostile.post("/_sandbox/clock", json={"freeze": False})
    assert hostile.get("/_sandbox/health").status_code == 200


@pytest.mark.parametrize("value", ["\xb2", "1\xb3", "\xb9"])  # ², 1³, ¹ in latin-1
def test_a_prefer_delay_of_digits_int_refuses_is_a_400(hostile: httpx.Client, value: str) -> None:
    headers = {**thinq_headers(), "Prefer": f"delay={value}".encode("latin-1")}
    answer = hostile.post("/v2/devices/status-async", headers=headers)
    assert answer.status_code == 400, answer.text
    assert "Prefer: delay takes milliseconds" in answer.text


def test_a_scenario_whose_clock_is_out_of_range_is_refused(hostile: httpx.Client) -> None:
    state = hostile.get("/_sandbox/state").json()
    state["clock"] = {"now": "9999-12-31T23:59:59+00:00", "frozen": False}
    answer = hostile.post("/_sandbox/scenario", json=state)
    assert answer.status_code == 400, answer.text
    assert any("$.clock.now" in problem for problem in answer.json()["error"]["problems"])
    assert hostile.get("/_sandbox/health").status_code == 200
