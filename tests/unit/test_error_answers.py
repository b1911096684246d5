"""The error renderer: one envelope per API, looked up by table, reading no request state."""

from __future__ import annotations

import json

from mockserver.error_answers import ENVELOPES, Call, Violation, respond
from mockserver.errors import CATALOGUES, Api, ApiError, Err
from tests.unit.test_import_cycles import import_graph

CALL = Call(path="/bc/v1/devices/abc", message_id="m-1", timestamp="2026-01-02T03:04:05.000006")


def test_every_api_has_an_envelope_and_every_reporting_api_a_catalogue() -> None:
    assert set(ENVELOPES) == set(Api)
    for api, envelope in ENVELOPES.items():
        if envelope.reports_violations:
            assert api in CATALOGUES, f"{api} counts violations but has no code catalogue"


def test_business_connect_echoes_the_call_and_refuses_with_its_code() -> None:
    answer = respond(Api.BUSINESS_CONNECT, ApiError(Err.DEVICE_NOT_FOUND, "no device x"), CALL)
    assert (answer.status, answer.code) == (404, "4304")
    assert json.loads(answer.body) == {
        "messageId": "m-1",
        "timestamp": "2026-01-02T03:04:05.000006",
        "error": {"code": "4304", "message": "Resource Not Found: Device: no device x"},
    }


def test_dr_paths_answer_code_and_message() -> None:
    call = Call(path="/bc/v1/dr/events", message_id="m-2", timestamp="t")
    answer = respond(Api.BUSINESS_CONNECT, ApiError(Err.DR_EVENT_NOT_FOUND), call)
    assert json.loads(answer.body) == {
        "code": 4302,
        "message": "Resource Not Found: Event: DR event not found",
    }


def test_thinq_wraps_the_error_in_its_envelope() -> None:
    answer = respond(Api.THINQ_ASYNC, ApiError(Err.DEVICE_POWER_OFF), CALL)
    body = json.loads(answer.body)
    assert (answer.status, answer.code) == (400, "2304")
    assert body["messageId"] == "m-1" and body["timestamp"] == CALL.timestamp
    assert (body["responseCode"], body["statusCode"]) == ("2304", 400)
    assert body["response"]["error"]["code"] == "2304"


def test_the_control_api_answers_the_reason_name() -> None:
    error = ApiError(Err.FAULT_RULE_NOT_FOUND, details=["one", "two"])
    answer = respond(Api.SANDBOX, error)
    assert (answer.status, answer.code) == (404, "FAULT_RULE_NOT_FOUND")
    assert json.loads(answer.body)["error"]["problems"] == ["one", "two"]


def test_client_faults_are_violations_in_vendor_apis_only() -> None:
    fault = ApiError(Err.MISSING_HEADER, "X-Api-Key is required", field="X-Api-Key")
    assert respond(Api.BUSINESS_CONNECT, fault, CALL).violation == Violation(
        "4101", "X-Api-Key", "X-Api-Key is required"
    )
    assert respond(Api.SANDBOX, fault).violation is None
    pinned = ApiError(Err.MISSING_HEADER, field="X-Api-Key", vendor_code="4101")
    assert respond(Api.BUSINESS_CONNECT, pinned, CALL).violation is None  # an injected fault
    assert respond(Api.BUSINESS_CONNECT, ApiError(Err.DEVICE_NOT_FOUND), CALL).violation is None


def test_method_not_allowed_carries_allow_and_405() -> None:
    error = ApiError(Err.METHOD_NOT_ALLOWED, allow=("GET", "POST"))
    answer = respond(Api.THINQ_ASYNC, error, CALL)
    assert (answer.status, answer.headers) == (405, {"Allow": "GET, POST"})


def test_without_a_call_the_timestamp_is_now() -> None:
    body = json.loads(respond(Api.BUSINESS_CONNECT, ApiError(Err.BAD_REQUEST)).body)
    assert body["messageId"] == "" and len(body["timestamp"]) == len(CALL.timestamp)


def test_the_renderer_and_the_vocabulary_reach_no_request_state() -> None:
    graph = import_graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    request_state = {"mockserver.request_context", "mockserver.runtime"}
    assert reach("mockserver.error_answers") & request_state == set()
    assert reach("mockserver.errors") == set()  # its one import, the mount table, is lgspecs'
