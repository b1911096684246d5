"""Two crashes in a row: what the first restart restored survives the second crash.

Found by the fault suite's kill -9 rounds (tests/faults/test_kill9.py): callbacks still
owed at a first crash were sent after the restart, but the restart's first commit
deleted their rows from the state file, so a second crash lost every one still owed.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from tests.api.test_thinq_async import call_async
from tests.support import KR_FRIDGE, KR_USER, RunningServer, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def kill9_and_restart(server: RunningServer, tmp_path: Path, state_file: Path) -> RunningServer:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)
    return start_server(tmp_path, "--state-file", str(state_file))


def owed(http: httpx.Client, request_id: str) -> list[str]:
    found = http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()["items"]
    return sorted(d["deviceId"] for d in found if d["status"] == "pending")


def test_callbacks_owed_survive_a_second_crash(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    down = CallbackReceiver()  # a port nobody listens on: every callback stays owed
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            state = http.get("/_sandbox/state").json()
            state["delivery"] = {"attempts": 100, "backoffInitial": 0.05, "backoffMax": 0.2}
            for service in state["services"]:
                service["callbackUrl"] = down.url
            assert http.post("/_sandbox/scenario", json=state).status_code == 200
            # A change over the scenario: the restart then rebuilds the sandbox from it.
            answer = http.patch(f"/_sandbox/devices/{KR_FRIDGE}", json={"online": False})
            assert answer.status_code == 200, answer.text
            request_id = call_async(http, "POST", "profile-async")
            devices = sorted(d["deviceId"] for d in state["devices"] if d["owner"] == KR_USER)
            assert owed(http, request_id) == devices
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert owed(http, request_id) == devices
            # Any acknowledged change commits: the restored deliveries must stay in the file.
            answer = http.patch(f"/_sandbox/devices/{KR_FRIDGE}", json={"online": True})
            assert answer.status_code == 200, answer.text
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert owed(http, request_id) == devices
        with down:
            bodies = down.wait_for(len(devices), lambda b: b.get("requestId") == request_id, 20)
        assert sorted({b["response"]["deviceId"] for b in bodies}) == devices
    finally:
        stop_server(server)
