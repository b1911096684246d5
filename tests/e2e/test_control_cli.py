"""The control subcommands of `lgmock`, run as a person runs them against a live sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from tests.api.test_delivery import load_with_delivery
from tests.api.test_thinq_async import call_async
from tests.support import OFFICE_AC, bc_headers, lgmock_command, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.mark.slow
def test_control_commands(tmp_path: Path) -> None:
    server = start_server(tmp_path)

    def lgmock(*args: str) -> subprocess.CompletedProcess[str]:
        # The sandbox is on a free port, named only by LGMOCK_SANDBOX_URL.
        return subprocess.run(
            [*lgmock_command(), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "LGMOCK_SANDBOX_URL": server.base_url},
        )

    try:
        assert "scenario default" in lgmock("reset").stdout
        # --url wins over the variable.
        elsewhere = lgmock("clock", "show", "--url", "http://127.0.0.1:1")
        assert elsewhere.returncode == 2 and "http://127.0.0.1:1" in elsewhere.stderr
        assert lgmock("clock", "freeze").returncode == 0
        before = json.loads(lgmock("clock", "show", "--json").stdout)["now"]
        after = json.loads(lgmock("clock", "advance", "90m", "--json").stdout)["now"]
        assert after > before
        added = lgmock(
            "fault", "add", "--operation", "getDevices", "--error", "4304", "--count", "1"
        )
        assert added.returncode == 0, added.stderr
        assert added.stdout.strip() == (
            'added fault-1: request {"operationId": "getDevices"} -> {"error": "4304"} '
            "(fired 0 of 1)"
        )
        typo = lgmock("fault", "add", "--operation", "getDevice", "--error", "4304")
        assert typo.returncode == 1 and "did you mean getDevices" in typo.stderr
        assert "fired 0 of 1" in lgmock("fault", "list").stdout
        with httpx.Client(base_url=server.base_url) as http:
            headers = bc_headers(http)
            assert http.get("/bc/v1/devices", headers=headers).status_code == 404
            assert http.get("/bc/v1/devices", headers=headers).status_code == 200
        journal = lgmock("journal", "--operation", "getDevices")
        assert "fault=fault-1" in journal.stdout and "-> 404 4304" in journal.stdout
        assert lgmock("fault", "clear").returncode == 0
        assert lgmock("device", "offline", OFFICE_AC).returncode == 0
        state = json.loads(lgmock("state", "--json").stdout)
        assert next(d for d in state["devices"] if d["deviceId"] == OFFICE_AC)["online"] is False
        changed = lgmock("device", "set", OFFICE_AC, '{"temperature": {"currentTemperature": 22}}')
        assert json.loads(changed.stdout)["temperature"]["currentTemperature"] == 22
        export = tmp_path / "state.json"
        assert lgmock("state", "--out", str(export)).returncode == 0
        assert "loaded" in lgmock("load", str(export)).stdout
        refused = lgmock("redeliver", "cb-404")
        assert refused.returncode == 1, refused.stderr
        assert "(404 DELIVERY_NOT_FOUND)" in refused.stderr and "cb-404" in refused.stderr
        bad = lgmock("fault", "add", "--error", "7777")
        assert bad.returncode == 1 and "7777" in bad.stderr
        assert "deliveries" in lgmock("callbacks").stdout
    finally:
        stop_server(server)


def test_unreachable_sandbox_exits_2() -> None:
    result = subprocess.run(
        [*lgmock_command(), "reset", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot reach the sandbox" in result.stderr


@pytest.mark.slow
def test_redeliver_to_a_new_url_says_how_it_ended(tmp_path: Path) -> None:
    server = start_server(tmp_path)

    def lgmock(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*lgmock_command(), *args, "--url", server.base_url]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            nowhere = CallbackReceiver().url  # nobody listens: every attempt fails
            load_with_delivery(http, nowhere, attempts=2, backoffInitial=0.01)
            request_id = call_async(http, "POST", "status-async")
            deadline = time.monotonic() + 10
            failed: list = []
            while len(failed) < 3:
                assert time.monotonic() < deadline
                time.sleep(0.05)
                page = http.get("/_sandbox/callbacks", params={"requestId": request_id})
                failed = [d for d in page.json()["items"] if d["status"] == "failed"]
            first, second, third = (d["id"] for d in failed[:3])
            with CallbackReceiver() as receiver:
                done = lgmock("redeliver", first, "--to", f"{receiver.url}/new")
                assert done.returncode == 0, done.stderr
                assert done.stdout.strip() == f"{first} to {receiver.url}/new: delivered (HTTP 200)"
                [arrived] = receiver.received
                assert arrived.path == "/new" and arrived.body == failed[0]["body"]
                kept = http.get(f"/_sandbox/callbacks/{first}").json()
                assert kept["url"] == f"{receiver.url}/new" and kept["status"] == "delivered"

                gone = lgmock("redeliver", second, "--to", nowhere, "--wait", "10")
                assert gone.returncode == 1, gone.stdout + gone.stderr
                assert "failed after 1 attempt, last: connect error" in gone.stdout

                receiver.behaviour.delay = 6.0  # answers long after --wait has run out
                waiting = lgmock("redeliver", third, "--to", receiver.url, "--wait", "0.5")
                assert waiting.returncode == 3, waiting.stdout + waiting.stderr
                assert "still retrying after 0.5 s" in waiting.stdout
                # Still pending (its attempt waits for the answer): not sent elsewhere.
                again = {"url": nowhere}
                refused = http.post(f"/_sandbox/callbacks/{third}/redeliver", json=again)
                assert refused.status_code == 400, refused.text
                assert "still being delivered" in refused.json()["error"]["message"]
                receiver.behaviour.delay = 0.0
            missing = http.get("/_sandbox/callbacks/cb-404")
            assert missing.status_code == 404 and "cb-404" in missing.json()["error"]["message"]
    finally:
        stop_server(server)
