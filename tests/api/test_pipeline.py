"""The request pipeline as a client sees it: tracking headers, 405s, bodies at the edge."""

from __future__ import annotations

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from lgspecs import documents
from mockserver import operations
from tests.api.test_thinq_async import SERVICE, thinq_headers
from tests.api.test_token_and_auth import assert_refused
from tests.support import OFFICE_AC, bc_headers


@pytest.mark.parametrize(
    ("method", "path", "allow", "code"),
    [
        ("PUT", "/bc/v1/devices", "GET", "4000"),
        ("DELETE", f"/bc/v1/devices/{OFFICE_AC}", "GET, POST", "4000"),
        ("GET", "/v2/devices/event-async", "POST, DELETE", "1000"),
        ("PUT", "/_sandbox/faults", "GET, POST, DELETE", None),
    ],
)
def test_405_names_the_methods_of_the_path(
    http: httpx.Client, method: str, path: str, allow: str, code: str | None
) -> None:
    answer = http.request(method, path)
    assert answer.status_code == 405, answer.text
    assert answer.headers["Allow"] == allow
    assert answer.headers["X-Request-Id"]
    assert answer.headers.get("X-Response-Code") == code


def test_every_answer_carries_its_tracking_headers_once(http: httpx.Client) -> None:
    headers = bc_headers(http)
    answer = http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers.get_list("X-Request-Id") == [answer.headers["X-Request-Id"]]
    assert answer.headers.get_list("X-Message-Id") == [headers["X-Message-Id"]]
    assert answer.headers.get_list("X-Response-Code") == ["2000"]
    health = http.get("/_sandbox/health")
    assert health.headers["X-Request-Id"]
    assert "X-Response-Code" not in health.headers


def thinq_refused(answer: httpx.Response, code: str, names: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.headers["X-Response-Code"] == code
    error = answer.json()["response"]["error"]
    assert error["code"] == code and names in error["message"], error


def test_json_null_body_is_refused_with_the_apis_body_code(http: httpx.Client) -> None:
    # event-async's body is optional, but when sent it is an object: `null` is not one.
    headers = {**thinq_headers(), "Content-Type": "application/json"}
    answer = http.post("/v2/devices/event-async", headers=headers, content=b"null")
    thinq_refused(answer, "1102", "body")
    bc = {**bc_headers(http), "Content-Type": "application/json"}
    answer = http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=bc, content=b"null")
    assert_refused(answer, 400, "4102", "body")


def test_an_integer_written_as_1_0_is_an_integer(http: httpx.Client) -> None:
    # The vendor documents are OpenAPI 3.1 (JSON Schema 2020-12): 1.0 is an integer.
    with CallbackReceiver() as receiver:
        patched = http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": receiver.url})
        assert patched.status_code == 200, patched.text
        answer = http.post(
            "/v2/devices/event-async",
            headers=thinq_headers(),
            json={"expire": {"unit": "HOUR", "timer": 2.0}},
        )
        assert answer.status_code == 202, answer.text
    refused = http.post(
        "/v2/devices/event-async",
        headers=thinq_headers(),
        json={"expire": {"unit": "HOUR", "timer": 2.5}},
    )
    thinq_refused(refused, "1102", "timer")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/_sandbox/journal?limit=many", None),
        ("POST", "/_sandbox/clock", {"advance": "soon"}),
        ("PATCH", "/_sandbox/devices/no-such-device", {"online": True}),
        ("DELETE", "/_sandbox/faults/no-such-rule", None),
        ("POST", "/_sandbox/faults", {"effect": {}}),
    ],
)
def test_control_api_answers_only_statuses_its_spec_declares(
    http: httpx.Client, method: str, path: str, body: object
) -> None:
    answer = http.request(method, path, json=body)
    assert answer.status_code >= 400, answer.text
    template = next(
        op.template
        for op in operations.table()
        if op.method == method and op.pattern.match(path.split("?")[0])
    )
    item = documents.sandbox_spec()["paths"][template.removeprefix("/_sandbox")]
    declared = set(map(str, item[method.lower()]["responses"]))
    assert str(answer.status_code) in declared, (answer.status_code, declared)
    assert answer.json()["error"]["code"]


def test_the_journal_keeps_the_answer_as_the_client_got_it(http: httpx.Client) -> None:
    headers = bc_headers(http)
    answer = http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers)
    assert answer.status_code == 200, answer.text
    entries = http.get("/_sandbox/journal", params={"limit": 10000}).json()["items"]
    entry = next(
        e for e in entries if e["request"]["headers"].get("x-message-id") == headers["X-Message-Id"]
    )
    assert entry["response"]["code"] == "2000"
    kept = {k.lower(): v for k, v in entry["response"]["headers"].items()}
    assert kept["x-request-id"] == answer.headers["X-Request-Id"]
    assert kept["x-response-code"] == "2000"
    assert kept["x-message-id"] == headers["X-Message-Id"]
