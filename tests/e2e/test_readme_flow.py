"""End to end: the README's blocks, run as written against a real `lgmock serve`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.doc_blocks import run_doc_block
from tests.support import (
    KR_FRIDGE,
    KR_USER,
    RunningServer,
    free_port,
    lgmock_command,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.e2e


def test_readme_first_call(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("README.md", "first-call", sandbox=server.base_url).check()
    out = run.stdout
    assert KR_FRIDGE in out  # the user's devices
    assert '"locationName":"FRIDGE"' in out.replace(" ", "")  # its profile and status
    after = http.get("/_sandbox/state").json()
    fridge = next(d for d in after["devices"] if d["deviceId"] == KR_FRIDGE)
    entry = next(e for e in fridge["status"]["temperature"] if e["locationName"] == "FRIDGE")
    assert entry["targetTemperature"] == 3  # the control the page shows took effect
    refusal = out[out.rindex("HTTP/1.1 ") :]
    assert refusal.startswith("HTTP/1.1 400")
    assert "x-response-code: 4102" in refusal.lower() and "targetTemperature" in refusal


def test_readme_async_call_delivers_to_the_inbox(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("README.md", "async-inbox", sandbox=server.base_url).check()
    accepted, newest = (json.loads(line) for line in run.stdout.splitlines()[:2])
    owned = [d for d in http.get("/_sandbox/state").json()["devices"] if d["owner"] == KR_USER]
    inbox = http.get("/_sandbox/inbox", params={"requestId": accepted["requestId"]}).json()
    assert inbox["total"] == len(owned)  # every device's callback arrived, with no receiver
    assert (
        newest["total"] == len(owned)
        and newest["items"][0]["body"]["requestId"] == (accepted["requestId"])
    )
    # `lgmock callbacks --bodies`: delivered to the inbox, each body printed under it.
    listing = run.stdout.splitlines()[2:]
    assert listing[0] == f"{len(owned)} deliveries (newest first)"
    assert listing[1].startswith("cb-") and " delivered DEVICE_STATUS " in listing[1]
    assert "-> /_sandbox/inbox/services/acme-thinq-service (1 attempts, last: ok)" in listing[1]
    assert json.loads(listing[2])["requestId"] == accepted["requestId"]


def test_readme_async_call_with_a_registered_receiver(
    http: httpx.Client, server: RunningServer
) -> None:
    run = run_doc_block("README.md", "async-call", sandbox=server.base_url).check()
    [receiver_log] = run.background
    # No --port: the receiver took a free one and printed it.
    started = re.search(
        r"lgmock receiver on (http://127\.0\.0\.1:\d+), registered with", receiver_log
    )
    assert started, receiver_log
    owned = [d for d in http.get("/_sandbox/state").json()["devices"] if d["owner"] == KR_USER]
    # One DEVICE_STATUS callback per device reached the receiver the page started...
    assert receiver_log.count("/thinq DEVICE_STATUS") == len(owned), run.explain()
    assert "/thinq DEVICE_CONTROL" in receiver_log
    # ...the page's last command lists deliveries to it, and the URLs were given back at
    # the end: the inbox again, as the scenario had it.
    assert f"-> {started.group(1)}/thinq" in run.stdout and " delivered " in run.stdout
    assert "callback URLs given back" in receiver_log
    state = http.get("/_sandbox/state").json()
    assert [s["callbackUrl"] for s in state["services"]] == [None]
    assert [p["callbackUrl"] for p in state["partners"]] == [None, None]


def test_bad_scenario_file_stops_the_start_with_file_path_and_reason(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.yaml"
    scenario.write_text("partners:\n  - partnerId: p\n    apiKey: k\n")
    result = subprocess.run(
        [*lgmock_command(), "serve", "--port", str(free_port()), "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{scenario}: $.partners[0]: 'apiSecret' is a required property" in result.stderr


def test_seed_makes_generated_status_reproducible(tmp_path: Path) -> None:
    states = []
    for _ in range(2):
        server = start_server(tmp_path, "--seed", "1234")
        try:
            states.append(httpx.get(f"{server.base_url}/_sandbox/state").json()["devices"])
        finally:
            stop_server(server)
    assert states[0] == states[1]
