"""Token API and the checks every other Business Connect call makes, over HTTP."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
import pytest

from mockserver.wire import new_message_id
from tests.support import (
    PARTNER_KEY,
    PARTNER_SECRET,
    VIEWER_KEY,
    VIEWER_SECRET,
    bc_headers,
    bc_token,
)


def assert_refused(answer: httpx.Response, status: int, code: str, names: str = "") -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["X-Response-Code"] == code
    assert answer.headers["X-Request-Id"]
    body = answer.json()
    if answer.request.url.path.startswith("/bc/v1/dr/"):
        assert body["code"] == int(code)
        message = body["message"]
    else:
        assert body["error"]["code"] == code
        message = body["error"]["message"]
    if names:
        assert names in message, message
    return body


def test_token_is_a_signed_jwt_valid_for_24_hours(http: httpx.Client) -> None:
    token = bc_token(http)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["kid"] == "lgmock"
    assert claims["iss"] == "LG Business Connect"
    assert claims["sub"] == PARTNER_KEY
    assert "getDevices" in claims["roles"] and "getDrUsers" in claims["roles"]
    assert claims["exp"] - claims["iat"] == 24 * 3600


def test_token_answer_carries_tracking_headers(http: httpx.Client) -> None:
    message_id = new_message_id()
    answer = http.post(
        "/bc/v1/token",
        headers={
            "X-Api-Key": PARTNER_KEY,
            "X-Api-Secret": PARTNER_SECRET,
            "X-Message-Id": message_id,
        },
    )
    assert answer.status_code == 200
    assert answer.headers["X-Response-Code"] == "2000"
    assert answer.headers["X-Message-Id"] == message_id
    assert len(answer.headers["X-Request-Id"]) == 22


@pytest.mark.parametrize(
    ("headers", "status", "code", "names"),
    [
        ({"X-Api-Key": PARTNER_KEY}, 400, "4101", "X-Api-Secret"),
        ({"X-Api-Secret": PARTNER_SECRET}, 400, "4101", "X-Api-Key"),
        ({"X-Api-Key": PARTNER_KEY, "X-Api-Secret": "wrong"}, 401, "4201", "X-Api-Secret"),
        ({"X-Api-Key": "nobody", "X-Api-Secret": PARTNER_SECRET}, 401, "4201", "X-Api-Key"),
    ],
)
def test_token_refusals(
    http: httpx.Client, headers: dict, status: int, code: str, names: str
) -> None:
    assert_refused(http.post("/bc/v1/token", headers=headers), status, code, names)


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def test_missing_api_token_is_4103(http: httpx.Client) -> None:
    headers = _without(bc_headers(http), "X-Api-Token")
    assert_refused(http.get("/bc/v1/devices", headers=headers), 400, "4103", "X-Api-Token")


def test_malformed_api_token_is_4103(http: httpx.Client) -> None:
    headers = {**bc_headers(http), "X-Api-Token": "not-a-jwt"}
    assert_refused(http.get("/bc/v1/devices", headers=headers), 400, "4103", "X-Api-Token")


def test_tampered_token_is_4201(http: httpx.Client) -> None:
    headers = bc_headers(http)
    head, payload, signature = headers["X-Api-Token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["everything"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    headers["X-Api-Token"] = f"{head}.{forged}.{signature}"
    assert_refused(http.get("/bc/v1/devices", headers=headers), 401, "4201", "X-Api-Token")


def test_token_of_another_partner_is_4201(http: httpx.Client) -> None:
    headers = {**bc_headers(http), "X-Api-Token": bc_token(http, VIEWER_KEY, VIEWER_SECRET)}
    assert_refused(http.get("/bc/v1/devices", headers=headers), 401, "4201", "X-Api-Token")


def test_unknown_api_key_is_4201(http: httpx.Client) -> None:
    headers = {**bc_headers(http), "X-Api-Key": "nobody"}
    assert_refused(http.get("/bc/v1/devices", headers=headers), 401, "4201", "X-Api-Key")


def test_missing_api_key_is_4101(http: httpx.Client) -> None:
    headers = _without(bc_headers(http), "X-Api-Key")
    assert_refused(http.get("/bc/v1/devices", headers=headers), 400, "4101", "X-Api-Key")


def test_expired_token_on_the_sandbox_clock_is_4201(http: httpx.Client) -> None:
    headers = bc_headers(http)
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    assert http.post("/_sandbox/clock", json={"advance": 24 * 3600 + 1}).status_code == 200
    assert_refused(http.get("/bc/v1/devices", headers=headers), 401, "4201", "expired")
    # A fresh token, issued on the advanced clock, works again.
    assert http.get("/bc/v1/devices", headers=bc_headers(http)).status_code == 200


def test_role_missing_for_the_api_family_is_4202(http: httpx.Client) -> None:
    headers = bc_headers(http, key=VIEWER_KEY, secret=VIEWER_SECRET)
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    assert_refused(http.get("/bc/v1/push", headers=headers), 403, "4202", "pushEvents")


@pytest.mark.parametrize(
    ("name", "value", "names"),
    [
        ("X-Message-Id", None, "X-Message-Id"),
        ("X-Message-Id", "too-short", "X-Message-Id"),
        ("X-Use-Account", None, "X-Use-Account"),
        ("X-Use-Account", "SOMEONE", "X-Use-Account"),
    ],
)
def test_header_faults_are_4101_naming_the_header(
    http: httpx.Client, name: str, value: str | None, names: str
) -> None:
    headers = _without(bc_headers(http), name)
    if value is not None:
        headers[name] = value
    assert_refused(http.get("/bc/v1/devices", headers=headers), 400, "4101", names)


def test_error_echoes_message_id(http: httpx.Client) -> None:
    headers = {**bc_headers(http), "X-Use-Account": "SOMEONE"}
    answer = http.get("/bc/v1/devices", headers=headers)
    assert answer.headers["X-Message-Id"] == headers["X-Message-Id"]
    assert answer.json()["messageId"] == headers["X-Message-Id"]


def test_unknown_route_and_method_answer_in_the_vendor_envelope(http: httpx.Client) -> None:
    headers = bc_headers(http)
    assert_refused(http.get("/bc/v1/nowhere", headers=headers), 404, "4000", "/bc/v1/nowhere")
    assert_refused(http.put("/bc/v1/devices", headers=headers), 405, "4000", "PUT")
