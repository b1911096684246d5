"""The inbox with --state-file: what it received, and what it was still owed, outlive a
kill -9, and a restart on another port delivers the owed ones into the new process's
inbox (an inbox address names no port, so nothing is sent to the old one)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.api.test_thinq_async import SERVICE, call_async, kr_devices
from tests.support import KR_AC, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.mark.slow
def test_the_inbox_and_what_it_is_owed_survive_kill9_and_a_restart_elsewhere(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            # The air conditioner's callback waits 60 s: still owed when the process dies.
            rule = {"target": "callback", "match": {"deviceId": KR_AC}, "effect": {"delay": 60_000}}
            assert http.post("/_sandbox/faults", json=rule).status_code == 201
            request_id = call_async(http, "POST", "status-async")
            owned = set(kr_devices(http))
            deadline = time.monotonic() + 10
            while len(received(http, request_id)) < len(owned) - 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert KR_AC not in received(http, request_id)
            time.sleep(1.5)  # the ticker commits the deliveries' progress
        old_port = server.base_url.rsplit(":", 1)[1]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=15)
        server = start_server(tmp_path, "--state-file", str(state_file))
        assert server.base_url.rsplit(":", 1)[1] != old_port  # --port 0: another port
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            deadline = time.monotonic() + 10
            while set(received(http, request_id)) != owned:
                assert time.monotonic() < deadline, received(http, request_id)
                time.sleep(0.05)
            journal = http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()
            assert {d["url"] for d in journal["items"]} == {f"/_sandbox/inbox/services/{SERVICE}"}
            assert {d["status"] for d in journal["items"]} == {"delivered"}
    finally:
        stop_server(server)


def received(http: httpx.Client, request_id: str) -> list[str]:
    """Device ids of the inbox's callbacks of one request."""
    page = http.get("/_sandbox/inbox", params={"requestId": request_id}).json()
    return [item["deviceId"] for item in page["items"]]
