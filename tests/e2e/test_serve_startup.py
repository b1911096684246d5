"""`lgmock serve` start-up as a newcomer meets it: the banner, a busy port, and
`lgmock receiver --register` pointing the sandbox's callbacks at itself."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from lgspecs.data import default_scenario
from mockserver.cli import listen
from tests.api.test_thinq_async import call_async, kr_devices
from tests.support import (
    KR_TOKEN,
    PARTNER_KEY,
    PARTNER_SECRET,
    RunningServer,
    free_port,
    lgmock_command,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.e2e

SERVICE, SERVICE_KEY = "acme-thinq-service", "acme-thinq-service-key"


def test_the_banner_names_every_api_the_credentials_and_where_callbacks_go(
    tmp_path: Path,
) -> None:
    with CallbackReceiver() as listening:  # the partner's URL will have a listener
        scenario = tmp_path / "scenario.yaml"
        default = default_scenario().read_text(encoding="utf-8")
        scenario.write_text(
            default.replace("http://127.0.0.1:9000/lg", f"{listening.url}/lg"), encoding="utf-8"
        )
        server = start_server(tmp_path, "--scenario", str(scenario))
        try:
            banner = server.log()
        finally:
            stop_server(server)
    base = server.base_url
    for line in (
        f"Business Connect   {base}/bc/v1/...",
        f"Swagger UI {base}/bc/ui/",
        f"ThinQ asynchronous {base}/v2/devices/*-async",
        f"Swagger UI {base}/v2/ui/",
        f"Swagger UI {base}/_sandbox/ui/",
        f"X-Api-Key {PARTNER_KEY}  X-Api-Secret {PARTNER_SECRET}",
        f"x-service-id {SERVICE}  x-service-key {SERVICE_KEY}",
        f"Authorization: Bearer {KR_TOKEN}",
        # Nothing listens on the default receiver port in a test run; the partner's does.
        f"ThinQ service {SERVICE}: http://127.0.0.1:9000/thinq  (nothing listens there now)",
        f"partner acme-energy: {listening.url}/lg\n",
        f"lgmock receiver --port N --register {base}",
    ):
        assert line in banner, f"{line!r} not in:\n{banner}"


def test_every_swagger_ui_the_banner_names_is_served(server: RunningServer) -> None:
    for path in ("/bc/ui/", "/v2/ui/", "/_sandbox/ui/"):
        assert httpx.get(f"{server.base_url}{path}", timeout=10).status_code == 200, path


def test_a_busy_port_fails_fast_before_the_banner() -> None:
    busy = listen("127.0.0.1", 0)
    port = busy.getsockname()[1]
    try:
        result = subprocess.run(
            [*lgmock_command(), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        busy.close()
    assert result.returncode == 3
    assert result.stdout == ""  # no banner for a sandbox that never started
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "choose another --port" in result.stderr
    assert "Traceback" not in result.stderr


def test_receiver_register_points_callbacks_at_itself_and_gives_them_back(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path)
    port = free_port()
    log = (tmp_path / "receiver.log").open("w")
    receiver = subprocess.Popen(
        [*lgmock_command(), "receiver", "--port", str(port), "--register", server.base_url],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            wait_for_line(tmp_path / "receiver.log", "Ctrl-C to stop", receiver)
            state = http.get("/_sandbox/state").json()
            assert {s["callbackUrl"] for s in state["services"]} == {
                f"http://127.0.0.1:{port}/thinq"
            }
            assert {p["callbackUrl"] for p in state["partners"]} == {f"http://127.0.0.1:{port}/bc"}
            request_id = call_async(http, "POST", "status-async")
            owned = len(kr_devices(http))
            wait_for_line(tmp_path / "receiver.log", f"requestId={request_id}", receiver, owned)
            receiver.send_signal(signal.SIGTERM)
            assert receiver.wait(timeout=30) == 0
            after = http.get("/_sandbox/state").json()
        assert [s["callbackUrl"] for s in after["services"]] == ["http://127.0.0.1:9000/thinq"]
        assert [p.get("callbackUrl") for p in after["partners"]] == [
            "http://127.0.0.1:9000/lg",
            None,
        ]
        assert "callback URLs given back" in (tmp_path / "receiver.log").read_text()
    finally:
        if receiver.poll() is None:
            receiver.kill()
        stop_server(server)


def test_receiver_register_refuses_what_is_not_a_sandbox() -> None:
    result = subprocess.run(
        [*lgmock_command(), "receiver", "--port", "0", "--register", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no lgmock sandbox answers at http://127.0.0.1:1" in result.stderr


def wait_for_line(
    path: Path, text: str, process: subprocess.Popen, count: int = 1, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while path.read_text().count(text) < count:
        assert process.poll() is None, path.read_text()
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.1)
