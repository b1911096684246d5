"""The shell blocks of docs/*.md, run as written against this worker's `lgmock serve`
(tests/doc_blocks.py). Each test asserts what its page says the block does."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest

from tests.doc_blocks import REPO, run_doc_block
from tests.support import OFFICE_AC, RunningServer

pytestmark = pytest.mark.e2e

KR_AC = "373ddcaeef12fcf760555414ccf3b595ccf9d9de097ffa01b7f57153efd2f66c"


def codes(text: str) -> list[int]:
    """Every DR answer's code, in order (DR bodies are {"code": N, ...})."""
    return [int(c) for c in re.findall(r'"code":\s*(\d{4})', text)]


def test_dr_lifecycle_then_a_second_partner(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/dr.md", "dr-lifecycle", sandbox=server.base_url).check()
    out = run.stdout
    # Steps 5 and 6: the set point raised to 26 inside the window, 22 put back after it.
    temperatures = re.findall(r"""["']targetTemperature["']:\s*(\d+)""", out)
    assert temperatures[-2:] == ["26", "22"], out
    assert '"IN"' in out  # the device takes part
    assert f"devices/{KR_AC}.csv" in out  # the data zip's listing
    assert 4306 in codes(out) and 4303 in codes(out)  # not ready yet; the batch's bad item
    # Step 8: the clock runs again, at about the real time.
    clock = http.get("/_sandbox/clock").json()
    assert clock["frozen"] is False

    rival = run_doc_block("docs/dr.md", "dr-second-partner", sandbox=server.base_url).check()
    assert codes(rival.stdout)[-3:] == [4315, 4310, 4301], rival.stdout
    partners = {p["partnerId"] for p in http.get("/_sandbox/state").json()["partners"]}
    assert "rival-energy" in partners
    dr_groups = http.get("/_sandbox/state").json()["dr"]["groups"]
    assert [g["groupId"] for g in dr_groups] == ["k-apt-1168011000"]  # the load kept them


def test_remote_control_off_meets_2301(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/reproducing.md", "remote-control-off", sandbox=server.base_url)
    assert run.check().stdout.strip().splitlines()[-1] == "2301", run.explain()
    assert '"statusCode":202' in run.stdout.replace(" ", "")
    # No receiver: the refusal was delivered to the sandbox's inbox, body and all.
    [item] = http.get("/_sandbox/inbox", params={"kind": "DEVICE_CONTROL"}).json()["items"]
    assert item["body"]["responseCode"] == "2301" and item["serviceId"] == "acme-thinq-service"


def test_an_expired_token_then_the_clock_given_back(
    http: httpx.Client, server: RunningServer
) -> None:
    before = datetime.fromisoformat(http.get("/_sandbox/clock").json()["now"])
    run = run_doc_block("docs/reproducing.md", "expired-token", sandbox=server.base_url)
    run.check()
    assert re.search(r"^HTTP/1.1 401\b.*\nx-response-code: 4201", run.stdout, re.I | re.M), (
        run.explain()
    )
    after = datetime.fromisoformat(http.get("/_sandbox/clock").json()["now"])
    assert abs((after - before).total_seconds()) < 600  # not 25 h ahead any more


def test_a_flaky_operation(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/reproducing.md", "flaky-operation", sandbox=server.base_url).check()
    lines = run.stdout.splitlines()
    assert (
        'request {"operationId": "getStatusOfDevice"} -> {"error": "5000"} (fired 0 of 2)'
        in (lines[0])
    )
    assert "probability 0.2" in lines[1]
    assert len([line for line in lines if line.startswith("fault-")]) == 2  # fault list
    assert lines[-1] == "all fault rules removed"
    assert http.get("/_sandbox/faults").json()["items"] == []


@pytest.mark.slow  # fourteen `lgmock` processes, one after another
def test_control_commands(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/control-api.md", "control-commands", sandbox=server.base_url)
    out = run.check().stdout
    assert out.startswith("reset: scenario default")
    assert "(frozen)" in out
    assert f'"deviceId": "{OFFICE_AC}"' in out and "fired 0 of 1" in out
    for said in ("all fault rules removed", f"{OFFICE_AC} is offline", f"{OFFICE_AC} is online"):
        assert said in out
    assert "state written to /tmp/lgmock-case.json" in out and "loaded /tmp/lgmock-case.json" in out
    assert "calls (newest first)" in out and "deliveries (newest first)" in out
    state = http.get("/_sandbox/state").json()
    office = next(d for d in state["devices"] if d["deviceId"] == OFFICE_AC)
    assert office["online"] is True
    assert office["status"]["temperature"]["currentTemperature"] == 22
    assert http.get("/_sandbox/clock").json()["frozen"] is False


def test_the_inbox_page_reads_a_callback_back(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/control-api.md", "inbox", sandbox=server.base_url).check()
    device, push_type = run.stdout.split()
    owned = {d["deviceId"] for d in http.get("/_sandbox/state").json()["devices"]}
    assert device in owned and push_type == "DEVICE_PROFILE"
    [delivery] = http.get("/_sandbox/callbacks", params={"deviceId": device}).json()["items"]
    assert delivery["url"] == "/_sandbox/inbox/services/acme-thinq-service"
    assert delivery["status"] == "delivered"


def test_add_device(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/control-api.md", "add-device", sandbox=server.base_url).check()
    assert "my-second-washer" in run.stdout, run.explain()
    devices = {d["deviceId"]: d for d in http.get("/_sandbox/state").json()["devices"]}
    status = devices["my-second-washer"]["status"]
    entry = status[0] if isinstance(status, list) else status
    assert entry["remoteControlEnable"]["remoteControlEnabled"] is False


def test_environment(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/configuration.md", "environment", sandbox=server.base_url).check()
    first, clock = run.stdout.strip().splitlines()
    assert first == "fixtures/scenarios/default.yaml: ok (20 devices)"
    assert clock[:4].isdigit() and "T" in clock  # the sandbox's clock, at the given URL


def test_regenerating_errors_md_changes_nothing(server: RunningServer) -> None:
    page = REPO / "docs" / "errors.md"
    before = page.read_text(encoding="utf-8")
    run_doc_block("docs/README.md", "regenerate-errors", sandbox=server.base_url).check()
    assert page.read_text(encoding="utf-8") == before
