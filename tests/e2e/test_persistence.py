"""--state-file: a sandbox killed with SIGTERM comes back with the same state."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support import (
    KR_TOKEN,
    OFFICE_AC,
    bc_headers,
    free_port,
    lgmock_command,
    start_server,
    user_headers,
)

pytestmark = pytest.mark.e2e


@pytest.mark.slow
def test_sigterm_then_restart_restores_everything(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    server = start_server(tmp_path, "--state-file", str(state_file))
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        http.post("/_sandbox/clock", json={"set": "2031-05-01T12:00:00+00:00", "freeze": True})
        headers = bc_headers(http)
        assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers).status_code == 200
        command = {"operation": {"airConOperationMode": "POWER_OFF"}}
        assert (
            http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, json=command).status_code
            == 200
        )
        http.get(
            "/bc/v1/devices", headers={**user_headers(http, KR_TOKEN, "KR"), "X-Use-Account": "bad"}
        )
        http.post(
            "/_sandbox/faults",
            json={"match": {"operationId": "getUserNumber"}, "effect": {"error": "5000"}},
        )
        before = http.get("/_sandbox/state").json()
        journal_before = http.get("/_sandbox/journal", params={"limit": 1000}).json()
        callbacks_before = http.get("/_sandbox/callbacks", params={"limit": 1000}).json()
    server.process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal: exit by SIGTERM is normal.
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert json.loads(state_file.read_text())["format"] == "lgmock-state"

    again = start_server(tmp_path, "--state-file", str(state_file))
    try:
        assert "state restored" in again.log()
        with httpx.Client(base_url=again.base_url, timeout=10) as http:
            assert http.get("/_sandbox/state").json() == before
            journal = http.get("/_sandbox/journal", params={"limit": 1000}).json()
            # The GET of the journal itself is not journaled (control API), so equal.
            assert journal == journal_before
            # Pending deliveries are restored and retried (their attempts go on growing).
            after = http.get("/_sandbox/callbacks", params={"limit": 1000}).json()["items"]
            before_items = callbacks_before["items"]
            assert [(d["id"], d["body"]) for d in after] == [
                (d["id"], d["body"]) for d in before_items
            ]
            for old, new in zip(before_items, after, strict=True):
                assert new["attempts"][: len(old["attempts"])] == old["attempts"]
            # The old token still works (signed with the partner's key, clock restored).
            assert http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers).status_code == 200
    finally:
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(timeout=15) in (0, 1, -signal.SIGINT)


@pytest.mark.slow
def test_state_is_written_periodically(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        httpx.post(f"{server.base_url}/_sandbox/clock", json={"advance": 60})
        deadline = time.monotonic() + 15
        while not state_file.exists():
            assert time.monotonic() < deadline, "no state file written while serving"
            time.sleep(0.2)
    finally:
        server.process.kill()
        server.process.wait()
    assert json.loads(state_file.read_text())["scenario"]["devices"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "corrupt JSON"),
        ('{"format": "lgmock-state", "version": 99}', "version 99"),
        ('{"hello": 1}', "not an lgmock state file"),
        (
            '{"format": "lgmock-state", "version": 1, "journal": [], "callbacks": [],'
            ' "scenario": {"devices": [{"deviceId": "x"}]}}',
            "incompatible",
        ),
    ],
)
def test_unusable_state_file_stops_the_start_and_is_kept(
    tmp_path: Path, content: str, reason: str
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(content)
    result = subprocess.run(
        [*lgmock_command(), "serve", "--port", str(free_port()), "--state-file", str(state_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert reason in result.stderr and str(state_file) in result.stderr
    assert state_file.read_text() == content
