"""Test support: the default scenario's names, a real server process, HTTP helpers."""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from contract_tests.processes import BANNER, ServeProcess
from contract_tests.processes import lgmock_command as lgmock_command  # the tests use it
from mockserver.wire import new_message_id

REPO = Path(__file__).resolve().parent.parent
PARTNER_KEY = "acme-api-key-0001"
PARTNER_SECRET = "acme-api-secret-0001"
VIEWER_KEY = "viewer-api-key-0002"
VIEWER_SECRET = "viewer-api-secret-0002"
KR_USER = "KR2024000000001"
KR_TOKEN = "kr-user-oauth-token-0001"
US_USER = "US2024000000002"
US_TOKEN = "us-user-oauth-token-0002"
OFFICE_AC = "97cd835a8fbc494fd128a611ac2fd4a86fb75a760f4860b4c40ccf901ef4e3b9"
VENTILATOR_OFFLINE = "c74dd1232549f7de1f0b062c43e6bc3552a73a12c7e3baa705c88718d9d102a5"
KR_FRIDGE = "53e1ac5946eab93d0736bfccad98660fb676306fa6ff2c5d8b724a10c9b2d7b4"
KR_AC = "373ddcaeef12fcf760555414ccf3b595ccf9d9de097ffa01b7f57153efd2f66c"
US_WASHER = "e8de8c2887b09c93e5ba89b8c3d4bd0dcd4f5477430be66e543e40321ded4c32"
# ThinQ Connect: the users' personal access tokens and the key LG's SDK sends.
KR_PAT = "thinqpat_kr2024000000001_sandbox_pat_0001"
US_PAT = "thinqpat_us2024000000002_sandbox_pat_0002"
SDK_API_KEY = "v6GFvkweNo7DK7yD3ylIZ9w52aKBU0eJ7wLXkSR3"


_server_numbers = itertools.count(1)
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The project's one launcher is the kit's (contract_tests/processes.py): the tests start
# `lgmock serve` the way the kit's pytest plugin and the benchmarks do.


def start_server(
    tmp_dir: Path,
    *args: str,
    wait: float = 30.0,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ServeProcess:
    """A real `lgmock serve` on a port it picks itself (``--port 0``), read back from its
    banner: no window in which another test's server could take a port chosen here.

    ``command`` replaces ``lgmock`` (the fault suite's launcher that makes commits fail);
    ``env`` is added to the environment."""
    return ServeProcess(
        *args, log_path=new_log_path(tmp_dir), cwd=tmp_dir, wait=wait, command=command, env=env
    )


def new_log_path(tmp_dir: Path) -> Path:
    return tmp_dir / f"lgmock-{next(_server_numbers)}.log"


def serve_arguments(*args: str) -> list[str]:
    return ["serve", "--host", "127.0.0.1", "--port", "0", *args]


@dataclass
class AdoptedServer:
    """A server process the launcher did not start (the fault suite forks its servers
    from a warm parent), with the interface tests use of a ``ServeProcess``."""

    base_url: str
    process: Any  # Popen, or anything with its poll / wait / send_signal / kill
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()


RunningServer = ServeProcess | AdoptedServer


def wait_until_serving(process: Any, log_path: Path, wait: float) -> AdoptedServer:
    """The server of ``process`` once its banner is out and its health answers."""
    deadline = time.monotonic() + wait
    base_url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lgmock exited with {process.returncode}:\n{log_path.read_text()}")
        if base_url is None:
            banner = BANNER.search(log_path.read_text())
            base_url = banner.group(1) if banner else None
        if base_url is not None:
            try:
                if httpx.get(f"{base_url}/_sandbox/health", timeout=1).status_code == 200:
                    return AdoptedServer(base_url, process, log_path)
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"lgmock did not answer within {wait}s:\n{log_path.read_text()}")


def stop_server(server: RunningServer) -> None:
    server.stop()


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """``condition()`` once it is truthy, polled every 20 ms: the way a test waits for
    something the server does in the background (a fixed sleep is a guess)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or condition}")
        time.sleep(0.02)


def bc_token(client: httpx.Client, key: str = PARTNER_KEY, secret: str = PARTNER_SECRET) -> str:
    answer = client.post("/bc/v1/token", headers={"X-Api-Key": key, "X-Api-Secret": secret})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def bc_headers(
    client: httpx.Client,
    *,
    key: str = PARTNER_KEY,
    secret: str = PARTNER_SECRET,
    account: str = "REGISTERED",
    bearer: str | None = None,
    country: str | None = None,
) -> dict[str, str]:
    headers = {
        "X-Api-Key": key,
        "X-Api-Token": bc_token(client, key, secret),
        "X-Message-Id": new_message_id(),
        "X-Use-Account": account,
    }
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if country:
        headers["X-Country-Code"] = country
    return headers


def user_headers(client: httpx.Client, bearer: str, country: str) -> dict[str, str]:
    return bc_headers(client, account="IN-HEADER", bearer=bearer, country=country)


def connect_headers(
    pat: str = KR_PAT, country: str = "KR", *, client_id: str = "lgmock-test-client"
) -> dict[str, str]:
    """The headers LG's thinqconnect SDK sends with every ThinQ Connect call."""
    return {
        "Authorization": f"Bearer {pat}",
        "x-country": country,
        "x-message-id": new_message_id(),
        "x-client-id": client_id,
        "x-api-key": SDK_API_KEY,
        "x-service-phase": "OP",
    }


def fleet_dr_event(fleet: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """A DR event over every device of a generated fleet (GROUP targets naming all its
    groups), its window open at ``now_ms``, holding the air conditioners at 26..28 °C."""
    return {
        "eventId": "fleet-peak",
        "eventName": "fleet peak",
        "partnerId": fleet["partners"][0]["partnerId"],
        "startTs": now_ms - 60_000,
        "endTs": now_ms + 3_600_000,
        "targets": [
            {
                "targetType": "GROUP",
                "targetIds": [group["groupId"] for group in fleet["dr"]["groups"]],
                "opt": "IN",
            }
        ],
        "signals": [
            {
                "signalId": "cool-less",
                "signalType": "CONTROL",
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "controlType": "Temperature",
                "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
            }
        ],
    }
