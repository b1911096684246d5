"""`lgmock serve` start-up as a newcomer meets it: the banner, a busy port, and
`lgmock receiver --register` pointing the sandbox's callbacks at itself."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from contract_tests.receiver import CallbackReceiver
from lgspecs.data import default_scenario
from mockserver.cli import listen
from tests.api.test_inbox import wait_for_inbox
from tests.api.test_thinq_async import call_async, kr_devices, thinq_headers
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
    silent = f"http://127.0.0.1:{free_port()}/thinq"  # a port nothing listens on
    with CallbackReceiver() as listening:  # the partner's URL will have a listener
        document = yaml.safe_load(default_scenario().read_text(encoding="utf-8"))
        document["partners"][0]["callbackUrl"] = f"{listening.url}/lg"
        document["services"][0]["callbackUrl"] = silent
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
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
        f"ThinQ service {SERVICE}: {silent}  (nothing listens there now)",
        f"partner acme-energy: {listening.url}/lg\n",
        "partner viewer-co: this sandbox's inbox\n",  # no callbackUrl in the scenario
        f"read the inbox: GET {base}/_sandbox/inbox",
        f"lgmock receiver --register {base}",
    ):
        assert line in banner, f"{line!r} not in:\n{banner}"


def test_the_default_banner_sends_every_callback_to_the_inbox(server: RunningServer) -> None:
    banner = server.log()
    base = server.base_url
    for line in (
        f"ThinQ service {SERVICE}: this sandbox's inbox\n",
        "partner acme-energy: this sandbox's inbox\n",
        "partner viewer-co: this sandbox's inbox\n",
        f"read the inbox: GET {base}/_sandbox/inbox",
    ):
        assert line in banner, f"{line!r} not in:\n{banner}"
    assert "9000" not in banner


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


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_receiver_register_takes_a_free_port_and_gives_the_inbox_back(
    tmp_path: Path, stop: signal.Signals
) -> None:
    server = start_server(tmp_path)
    log_path = tmp_path / "receiver.log"
    receiver = _receiver(log_path, "--register", server.base_url)  # no --port
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            wait_for_line(log_path, "Ctrl-C to stop", receiver)
            started = re.search(
                r"lgmock receiver on http://127\.0\.0\.1:(\d+),", log_path.read_text()
            )
            assert started, log_path.read_text()
            port = int(started.group(1))
            state = http.get("/_sandbox/state").json()
            assert {s["callbackUrl"] for s in state["services"]} == {
                f"http://127.0.0.1:{port}/thinq"
            }
            assert {p["callbackUrl"] for p in state["partners"]} == {f"http://127.0.0.1:{port}/bc"}
            request_id = call_async(http, "POST", "status-async")
            owned = len(kr_devices(http))
            wait_for_line(log_path, f"requestId={request_id}", receiver, owned)
            receiver.send_signal(stop)
            assert receiver.wait(timeout=30) == 0
            after = http.get("/_sandbox/state").json()
            # Exactly what was replaced: no callbackUrl, the sandbox's inbox.
            assert [s["callbackUrl"] for s in after["services"]] == [None]
            assert [p.get("callbackUrl") for p in after["partners"]] == [None, None]
            again = call_async(http, "POST", "status-async")
            inbox = wait_for_inbox(http, owned, requestId=again)
            assert {i["serviceId"] for i in inbox} == {SERVICE}
        assert "callback URLs given back" in log_path.read_text()
    finally:
        if receiver.poll() is None:
            receiver.kill()
        stop_server(server)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_receiver_on_the_port_the_scenario_names_gives_that_url_back(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # The README's old example: the scenario's callback URL was the receiver's own
    # (port 9000, path /thinq). Stopping the receiver set it to null, and every ThinQ
    # call was refused 1203 until a reset.
    port = free_port()
    document = yaml.safe_load(default_scenario().read_text(encoding="utf-8"))
    document["services"][0]["callbackUrl"] = f"http://127.0.0.1:{port}/thinq"
    document["partners"][0]["callbackUrl"] = f"http://127.0.0.1:{port}/lg"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    server = start_server(tmp_path, "--scenario", str(scenario))
    log_path = tmp_path / "receiver.log"
    receiver = _receiver(log_path, "--port", str(port), "--register", server.base_url)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            wait_for_line(log_path, "Ctrl-C to stop", receiver)
            receiver.send_signal(stop)
            assert receiver.wait(timeout=30) == 0
            after = http.get("/_sandbox/state").json()
            assert [s["callbackUrl"] for s in after["services"]] == [
                f"http://127.0.0.1:{port}/thinq"
            ]
            assert [p.get("callbackUrl") for p in after["partners"]] == [
                f"http://127.0.0.1:{port}/lg",
                None,
            ]
            answer = http.post("/v2/devices/status-async", headers=thinq_headers())
            assert answer.status_code == 202, answer.text  # not 400 1203
    finally:
        if receiver.poll() is None:
            receiver.kill()
        stop_server(server)


def _receiver(log_path: Path, *args: str) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen(
            [*lgmock_command(), "receiver", *args], stdout=log, stderr=subprocess.STDOUT
        )


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
