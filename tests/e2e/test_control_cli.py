"""The control subcommands of `lgmock`, run as a person runs them against a live sandbox."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

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
