"""Home Assistant's stock lg_thinq integration against a real `lgmock serve`.

Only two things of LG's SDK are patched, both host-bound: the API's base URL
(``ThinQApi._get_url_from_endpoint``, the SDK's one host-bound method) becomes the
sandbox's ``/connect``, and the MQTT client's download of Amazon's root CA
(``ThinQMQTTClient._get_root_certificate``) returns the sandbox's CA. Everything else, the
integration, the SDK, its awscrt MQTT client, runs as a user's Home Assistant runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_socket
from thinqconnect import ThinQApi
from thinqconnect.mqtt_client import ThinQMQTTClient

pytest_plugins = ["pytest_homeassistant_custom_component"]

REPO = Path(__file__).resolve().parents[2]


def real_sockets() -> None:
    """The harness blocks every socket before each test (``pytest_runtest_setup``); this
    tier's point is a real sandbox over loopback, so its fixtures let them through."""
    pytest_socket.enable_socket()


SDK_API_KEY_HEADER = "x-api-key"


class Sandbox:
    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def state(self) -> dict[str, Any]:
        return self.http.get("/_sandbox/state").json()

    def pat_user(self) -> dict[str, Any]:
        """The default scenario's user with a personal access token."""
        return next(u for u in self.state()["users"] if u.get("pat"))


@pytest.fixture(scope="session")
def lgmock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One real `lgmock serve` (from the main venv: $LGMOCK) on a port it picks."""
    real_sockets()
    folder = tmp_path_factory.mktemp("lgmock")
    log = folder / "lgmock.log"
    executable = os.environ.get("LGMOCK", str(REPO / ".venv" / "bin" / "lgmock"))
    process = subprocess.Popen(
        [executable, "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    deadline = time.monotonic() + 60
    base_url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lgmock exited with {process.returncode}:\n{log.read_text()}")
        found = re.search(r"Business Connect\s+(http://127\.0\.0\.1:\d+)/bc/v1", log.read_text())
        if found:
            base_url = found.group(1)
            try:
                if httpx.get(f"{base_url}/_sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"lgmock did not answer in time:\n{log.read_text()}")
    assert base_url is not None
    sandbox = Sandbox(base_url, process, log)
    channel = sandbox.http.get("/_sandbox/mqtt").json()
    assert channel["running"], f"the sandbox runs no MQTT broker: {channel}"
    yield sandbox
    process.terminate()
    process.wait(timeout=15)
    text = log.read_text()
    assert "Traceback" not in text, text


@pytest.fixture
def sandbox(lgmock: Sandbox) -> Sandbox:
    """The sandbox back at its default scenario (the journal of deliveries emptied)."""
    real_sockets()
    assert lgmock.http.post("/_sandbox/reset").status_code == 200
    return lgmock


@pytest.fixture
def sdk_on_sandbox(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """LG's SDK pointed at the sandbox: its base URL, and the sandbox's CA for MQTT."""
    base = f"{sandbox.base_url}/connect"
    ca_pem = sandbox.http.get("/_sandbox/mqtt/ca.pem").text

    def sandbox_url(self: ThinQApi, endpoint: str) -> str:
        return f"{base}/{endpoint}"

    async def sandbox_root_certificate(self: ThinQMQTTClient, timeout: int = 15) -> str:
        return ca_pem

    monkeypatch.setattr(ThinQApi, "_get_url_from_endpoint", sandbox_url)
    monkeypatch.setattr(ThinQMQTTClient, "_get_root_certificate", sandbox_root_certificate)
    return sandbox
