"""The recorder's parts in-process: what counts as a secret, what a contradiction, what drift.

The whole proxy runs over real processes in tests/e2e/test_record*.py; these pin down
the rules those tests only sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract_tests.record.drift import DriftChecker, DriftFinding, Exchange
from contract_tests.record.learn import Learner
from contract_tests.record.proxy import Recorder, RecordOptions
from contract_tests.record.redact import FILTERED, Redactor
from contract_tests.record.scenario_file import build, replay_profile

DEVICE = "d" * 64


def exchange(
    method: str,
    path: str,
    body: object,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    answer_headers: dict[str, str] | None = None,
) -> Exchange:
    return Exchange(
        method=method,
        path=path,
        query="",
        request_headers=list((headers or {}).items()),
        request_body=b"",
        status=status,
        response_headers=list(
            (
                {"Content-Type": "application/json", "X-Response-Code": "2000"}
                | (answer_headers or {})
            ).items()
        ),
        response_body=json.dumps(body).encode(),
        upstream_url=f"http://upstream{path}",
    )


BC = {"X-Api-Key": "real-key-123", "X-Api-Token": "real-token-456", "X-Use-Account": "REGISTERED"}


def test_a_reproduce_line_reads_every_credential_from_a_variable() -> None:
    redactor = Redactor()
    headers = {**BC, "Authorization": "Bearer user-secret-789", "x-service-key": "svc-key-000"}
    redactor.remember_headers(headers)
    line = redactor.curl("GET", "http://lg/bc/v1/devices", headers.items(), b"")
    for secret in ("real-key-123", "real-token-456", "user-secret-789", "svc-key-000"):
        assert secret not in line
    assert '"X-Api-Key: $LG_API_KEY"' in line and '"Authorization: Bearer $LG_USER_TOKEN"' in line
    assert "X-Use-Account: REGISTERED" in line


def test_secret_fields_and_echoed_secrets_are_filtered_from_bodies() -> None:
    redactor = Redactor()
    redactor.remember_headers({"X-Api-Key": "real-key-123"})
    body = {"access_token": "jwt-abc-def", "error": {"message": "key real-key-123 refused"}}
    redactor.remember_json(body)
    shown = redactor.body(json.dumps(body).encode())
    assert "jwt-abc-def" not in shown and "real-key-123" not in shown
    assert json.loads(shown) == {
        "access_token": FILTERED,
        "error": {"message": f"key {FILTERED} refused"},
    }
    assert redactor.text("later jwt-abc-def again") == f"later {FILTERED} again"


def test_a_status_of_every_shape_has_a_read_only_profile_holding_it() -> None:
    status = {
        "runState": {"currentState": "RUNNING", "remain": 12, "child": False},
        "temperature": [{"locationName": "FRIDGE", "current": 3}],
    }
    assert replay_profile(status) == {
        "property": {
            "runState": {
                "currentState": {"type": "string", "mode": ["r"]},
                "remain": {"type": "number", "mode": ["r"]},
                "child": {"type": "boolean", "mode": ["r"]},
            },
            "temperature": [
                {"locationName": "FRIDGE", "current": {"type": "number", "mode": ["r"]}}
            ],
        }
    }
    sections = [{"location": {"locationName": "MAIN"}, "runState": {"currentState": "END"}}]
    assert replay_profile(sections) == {
        "property": [
            {
                "location": {"locationName": "MAIN"},
                "runState": {"currentState": {"type": "string", "mode": ["r"]}},
            }
        ]
    }
    # No read-only form: a nested object, a list of plain values, null.
    for value in ({"a": {"b": {"c": 1}}}, {"a": [1, 2]}, {"a": {"b": None}}, "text"):
        assert replay_profile(value) is None


def learned(*exchanges: Exchange) -> Learner:
    checker = DriftChecker(("bc",), Redactor())
    learner = Learner()
    for one in exchanges:
        judgement = checker.judge(one)
        learner.learn(one, judgement)
    return learner


def listing(device_type: str) -> Exchange:
    item = {"deviceId": DEVICE, "deviceInfo": {"deviceType": device_type, "modelName": "M"}}
    return exchange("GET", "/bc/v1/devices", {"response": [item]}, headers=BC)


def test_two_answers_naming_two_device_types_leave_the_device_out() -> None:
    profile = exchange(
        "GET",
        f"/bc/v1/devices/profile/{DEVICE}",
        {"response": {"property": {"a": {"b": {"type": "string", "mode": ["r"]}}}}},
        headers=BC,
    )
    learner = learned(listing("DEVICE_WASHER"), profile, listing("DEVICE_REFRIGERATOR"))
    document, notes = build(learner, "http://upstream")
    assert document["devices"] == []
    assert any("'DEVICE_WASHER' and as 'DEVICE_REFRIGERATOR'" in note for note in notes)


def test_a_drifted_answer_is_reported_and_not_believed() -> None:
    checker = DriftChecker(("bc",), Redactor())
    wrong = exchange("GET", "/bc/v1/devices", {"response": "not a list"}, headers=BC)
    judgement = checker.judge(wrong)
    assert judgement.operation_id == "getDevices"
    assert [f.check for f in judgement.findings] == ["response_schema_conformance"]
    learner = Learner()
    learner.learn(wrong, judgement)
    assert learner.devices == {}
    assert "drifted from the spec" in learner.not_learned[0]


def test_a_call_no_operation_documents_is_relayed_unchecked() -> None:
    judgement = DriftChecker(("bc", "thinq"), Redactor()).judge(
        exchange("GET", "/bc/v1/nothing-here", {})
    )
    assert judgement.operation is None and judgement.findings == []


def finding(number: int) -> DriftFinding:
    return DriftFinding(
        api="bc",
        operation="GET /v1/devices",
        operation_id="getDevices",
        check="not_a_server_error",
        title="Server error",
        received="500",
        spec_says="",
        reproduce="curl ...",
        call=f"GET /bc/v1/devices #{number}",
        at="2026-12-08T00:00:00+00:00",
    )


@pytest.mark.slow  # three runs of `lgmock scenario check`
def test_the_exit_status_is_1_only_above_max_drift(tmp_path: Path) -> None:
    for max_drift, expected in ((2, 0), (1, 1), (0, 1)):
        options = RecordOptions(
            upstream="http://upstream.invalid",
            out=tmp_path / f"scenario-{max_drift}.yaml",
            apis=("bc",),
            drift=tmp_path / f"drift-{max_drift}.json",
            max_drift=max_drift,
        )
        lines: list[str] = []
        recorder = Recorder(options, lines.append)
        recorder.log.add_callback_findings([finding(1), finding(2)])
        assert recorder.finish() == expected, lines
        assert json.loads(options.drift.read_text())["drift"] == 2
        assert options.out.read_text().startswith("# Recorded by `lgmock record`")
