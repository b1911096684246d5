"""The request pipeline as a client sees it: tracking headers, 405s, bodies at the edge."""

from __future__ import annotations

import httpx
import pytest

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
