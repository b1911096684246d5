"""`lgmock record` in front of upstreams that part from the spec: each part is drift.

A relay in front of a real sandbox breaks four answers on purpose (an undocumented vendor
code, a 202 without the field its schema requires, a wrong Content-Type, a 500), and
Prism serves the vendor document's examples. The proxy is a real `lgmock record`
process in both.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.recording import (
    Client,
    prism_mock,
    rewriting_relay,
    scenario_of,
    start_recording,
    stop_leftover_recorders,
)
from tests.contract.support import serving
from tests.support import (
    KR_FRIDGE,
    KR_TOKEN,
    PARTNER_KEY,
    PARTNER_SECRET,
    REPO,
    RunningServer,
    free_port,
    lgmock_command,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(autouse=True)
def no_recorder_left() -> Iterator[None]:
    yield
    stop_leftover_recorders()


PARTNER = {"apiKey": PARTNER_KEY, "apiSecret": PARTNER_SECRET}
SERVICE = {"serviceId": "acme-thinq-service", "serviceKey": "acme-thinq-service-key"}
KR = {"accessToken": KR_TOKEN, "countryCode": "KR"}
UNKNOWN = "0" * 64


def break_answers(
    method: str, path: str, status: int, headers: dict[str, str], content: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One answer of four operations broken, each its own way."""
    if path == f"/bc/v1/devices/{UNKNOWN}":  # 404 4304 -> a code no operation documents
        content = content.replace(b'"4304"', b'"4199"')
        headers["x-response-code"] = "4199"
    elif path == "/v2/devices/status-async":  # the 202 without its required requestId
        accepted = json.loads(content)
        accepted.pop("requestId", None)
        content = json.dumps(accepted).encode()
    elif path == "/bc/v1/devices" and method == "GET":  # JSON said to be text
        headers["content-type"] = "text/plain"
    elif path.startswith("/bc/v1/devices/profile/"):  # a server error, with no Content-Type
        status = 500
        headers.pop("content-type", None)
    return status, headers, content


def findings_of(drift: dict[str, Any], operation_id: str) -> list[dict[str, Any]]:
    return [f for f in drift["findings"] if f["operation_id"] == operation_id]


def test_each_break_of_a_relay_is_drift_with_its_operation_and_reproduce_line(
    server: RunningServer, tmp_path: Path
) -> None:
    httpx.post(f"{server.base_url}/_sandbox/reset").raise_for_status()
    with serving(rewriting_relay(server.base_url, break_answers)) as (relay_url, _):
        proxy = start_recording(tmp_path, relay_url)
        client = Client(proxy.base_url, PARTNER, SERVICE)
        try:
            assert client.bc("GET", f"/devices/{UNKNOWN}").status_code == 404
            assert client.thinq("POST", "status-async", KR).status_code == 202
            assert client.bc("GET", "/devices").status_code == 200
            broken = client.bc("GET", f"/devices/profile/{KR_FRIDGE}")
            # Sent on as RFC 9110 lets a recipient read a body without a Content-Type.
            assert broken.status_code == 500
            assert broken.headers["content-type"] == "application/octet-stream"
            assert client.bc("GET", f"/devices/{KR_FRIDGE}", user=KR).status_code == 200  # unbroken
        finally:
            client.close()
        live = httpx.get(f"{proxy.base_url}/_record/drift", timeout=10).json()  # so far
        assert proxy.stop() == 1, proxy.log()

    drift = proxy.drift_document()
    assert live["findings"] == drift["findings"]
    code = findings_of(drift, "getStatusOfDevice")
    assert [(f["check"], f["title"]) for f in code] == [
        ("vendor_code_conformance", "Undocumented vendor code")
    ]
    assert "4199" in code[0]["received"] and "Documented for 404" in code[0]["spec_says"]
    missing = findings_of(drift, "statusAsync")
    assert [f["check"] for f in missing] == ["response_schema_conformance"]
    assert '"requestId" is a required property' in missing[0]["spec_says"]
    assert "content_type_conformance" in {f["check"] for f in findings_of(drift, "getDevices")}
    server_error = findings_of(drift, "getProfileOfDevice")
    # Judged by what the upstream sent: a 500, and no Content-Type at all.
    assert {"not_a_server_error", "content_type_conformance"} <= {f["check"] for f in server_error}
    assert any(f["title"] == "Missing Content-Type header" for f in server_error)
    for finding in drift["findings"]:
        assert finding["operation"] and finding["call"]
        assert finding["reproduce"].startswith(f"curl -i -X {finding['call'].split()[0]} ")
        assert relay_url in finding["reproduce"]
        variable = "X-Api-Key: $LG_API_KEY" if finding["api"] == "bc" else "Bearer $LG_USER_TOKEN"
        assert variable in finding["reproduce"]
    log = proxy.log()
    assert re.search(r"DRIFT getStatusOfDevice \(GET /bc/v1/devices/0+\): Undocumented", log)
    assert "exit 1" in log
    # The credentials were forwarded (the calls worked) and are in none of the files.
    written = [proxy.drift.with_suffix(s) for s in (".json", ".md", ".xml")]
    for path in [*written, proxy.out, proxy.log_path]:
        text = path.read_text(encoding="utf-8")
        for secret in (PARTNER_KEY, PARTNER_SECRET, KR_TOKEN, SERVICE["serviceKey"]):
            assert secret not in text, f"{secret} in {path.name}"
    assert "<testcase" in written[2].read_text() and "<failure" in written[2].read_text()
    # A drifted answer is not believed: the device list broke, so no device was learned.
    recorded = scenario_of(proxy.out)
    assert recorded["devices"] == []
    assert "getDevices (GET /bc/v1/devices" in proxy.out.read_text()


def test_prism_serving_the_vendor_document_is_drift_and_teaches_nothing_contradictory(
    tmp_path: Path,
) -> None:
    vendor = REPO / "openapi" / "business-connect.vendor.yaml"
    with prism_mock(vendor, tmp_path) as prism_url:
        # Prism serves the document's paths at its root: one API, judged by its spec.
        proxy = start_recording(tmp_path, prism_url, "--api", "bc")
        client = Client(proxy.base_url, {"apiKey": "k-prism", "apiSecret": "s-prism"}, None, "/v1")
        try:
            listed = client.bc("GET", "/devices")
            assert listed.status_code == 200, listed.text
            device = listed.json()["response"][0]["deviceId"]
            answers = [
                client.bc("GET", f"/devices/profile/{device}"),
                client.bc("GET", f"/devices/{device}"),
                client.bc(
                    "POST", f"/devices/{device}", json={"refrigeration": {"expressMode": True}}
                ),
                client.bc("GET", "/push"),
                client.bc(
                    "GET", "/dr/partners/acme-energy/groups", headers={"X-Country-Code": "KR"}
                ),
                client.http.get("/v1/devices"),  # no credentials: Prism's own refusal
            ]
            assert all(answer.status_code for answer in answers)
            assert proxy.process.poll() is None, proxy.log()  # every answer was taken
        finally:
            client.close()
        assert proxy.stop() == 1, proxy.log()

    drift = proxy.drift_document()
    assert drift["callsChecked"] == 8
    assert drift["drift"] >= 3
    operations = {f["operation_id"] for f in drift["findings"]}
    # The document's profile example is a placeholder string, not a profile.
    assert "getProfileOfDevice" in operations
    for finding in drift["findings"]:
        assert finding["reproduce"].startswith("curl ") and prism_url in finding["reproduce"]
    assert "Traceback" not in proxy.log()
    # The examples contradict each other (a WashTower washer listed, a refrigerator's
    # status, a placeholder for a profile): no device is learned from them, and the
    # scenario says why.
    recorded = scenario_of(proxy.out)
    assert recorded["devices"] == []
    head = proxy.out.read_text(encoding="utf-8")
    assert f"device {device}: left out" in head
    checked = subprocess.run(
        [*lgmock_command(), "scenario", "check", str(proxy.out)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_an_upstream_that_does_not_answer_is_a_502_and_the_proxy_goes_on(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proxy = start_recording(tmp_path, nowhere)
    with httpx.Client(base_url=proxy.base_url, timeout=30) as http:
        for _ in range(2):
            answer = http.post("/bc/v1/token", headers={"X-Api-Key": "k", "X-Api-Secret": "s"})
            assert answer.status_code == 502 and nowhere in answer.text
    assert proxy.stop() == 0, proxy.log()  # no answer, so nothing to judge: no drift
    assert proxy.log().count("upstream unreachable for POST /bc/v1/token") == 2
