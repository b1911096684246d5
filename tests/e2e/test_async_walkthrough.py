"""End to end: `lgmock serve` and `lgmock receiver` as separate processes, as the README
shows them, with an asynchronous call delivering to the receiver."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mockserver.wire import new_message_id
from tests.support import KR_TOKEN, free_port, lgmock_command, start_server, stop_server

pytestmark = pytest.mark.e2e


def test_status_async_reaches_a_receiver_process(tmp_path: Path) -> None:
    port = free_port()
    receiver = subprocess.Popen(
        [*lgmock_command(), "receiver", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = start_server(tmp_path)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            url = f"http://127.0.0.1:{port}/thinq"
            assert (
                http.patch(
                    "/_sandbox/services/acme-thinq-service", json={"callbackUrl": url}
                ).status_code
                == 200
            )
            headers = {
                "Authorization": f"Bearer {KR_TOKEN}",
                "x-message-id": new_message_id(),
                "x-service-id": "acme-thinq-service",
                "x-service-key": "acme-thinq-service-key",
                "x-country-code": "KR",
            }
            answer = http.post("/v2/devices/status-async", headers=headers)
            assert answer.status_code == 202, answer.text
            request_id = answer.json()["requestId"]
            owned = [
                d
                for d in http.get("/_sandbox/state").json()["devices"]
                if d["owner"] == "KR2024000000001"
            ]
            deadline = time.monotonic() + 15
            while True:
                summary = httpx.get(f"http://127.0.0.1:{port}/").json()
                if summary["count"] >= len(owned):
                    break
                assert time.monotonic() < deadline, summary
                time.sleep(0.1)
            journal = http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()
            assert journal["total"] == len(owned)
            assert {e["status"] for e in journal["items"]} == {"delivered"}
            assert http.get("/v2/ui/").status_code == 200
    finally:
        stop_server(server)
        receiver.terminate()
        output, _ = receiver.communicate(timeout=10)
    assert "/thinq DEVICE_STATUS" in output and f"requestId={request_id}" in output
