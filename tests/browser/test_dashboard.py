"""The dashboard in a real browser, against a real `lgmock serve` and a real receiver.

Each test acts in the page as a person would (select, type, click) and checks the
effect through the vendor or control API with httpx, not through the page alone.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from tests.api.test_thinq_async import SERVICE, accepted, kr_devices, thinq_headers
from tests.support import (
    KR_AC,
    KR_TOKEN,
    OFFICE_AC,
    REPO,
    RunningServer,
    bc_headers,
    lgmock_command,
    start_server,
    stop_server,
    user_headers,
)

pytestmark = pytest.mark.browser

IMAGES = REPO / "docs" / "images"
LIVE_WITHIN_MS = 5000


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """The page at 1280x800; into docs/images/ when LGMOCK_SCREENSHOTS=1 (refreshing the
    docs' pictures), else beside the test, so a test run leaves the tree unchanged."""
    folder = IMAGES if os.environ.get("LGMOCK_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, "an empty screenshot"
    return path


def scenario_devices(http: httpx.Client) -> list[dict[str, Any]]:
    return http.get("/_sandbox/state").json()["devices"]


def test_device_list_shows_the_scenarios_devices(
    http: httpx.Client, page: Any, tmp_path: Path
) -> None:
    devices = scenario_devices(http)
    page.goto("/_dashboard/devices")
    rows = page.locator("#device-rows tr[data-device]")
    assert rows.count() == len(devices)
    for device in devices:
        row = page.locator(f'tr[data-device="{device["deviceId"]}"]')
        assert device["alias"] in row.inner_text()
        assert device["deviceType"] in row.inner_text()
    offline = [d for d in devices if d.get("online") is False]
    assert offline and all(
        "offline" in page.locator(f'tr[data-device="{d["deviceId"]}"]').inner_text()
        for d in offline
    )
    screenshot(page, "dashboard-devices.png", tmp_path)

    # The live re-read of the rows (every 2 s) replaces the rows only.
    page.wait_for_timeout(2500)
    assert page.locator("#device-results").count() == 1

    # Filtering by type leaves exactly that type's devices.
    wanted = "DEVICE_AIR_CONDITIONER"
    page.select_option("select[name=type]", wanted)
    expected = sorted(d["deviceId"] for d in devices if d["deviceType"] == wanted)
    page.wait_for_function(
        "n => document.querySelectorAll('#device-rows tr[data-device]').length === n",
        arg=len(expected),
    )
    shown = page.eval_on_selector_all(
        "#device-rows tr[data-device]", "rows => rows.map(r => r.dataset.device)"
    )
    assert sorted(shown) == expected


def status_of(http: httpx.Client, device_id: str) -> dict[str, Any]:
    answer = http.get(f"/bc/v1/devices/{device_id}", headers=bc_headers(http))
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]


def test_status_change_from_the_device_page_shows_in_business_connect(
    http: httpx.Client, page: Any
) -> None:
    before = status_of(http, OFFICE_AC)["airConJobMode"]["currentJobMode"]
    page.goto(f"/_dashboard/devices/{OFFICE_AC}")
    choice = page.get_by_label("New value of airConJobMode.currentJobMode")
    options = choice.locator("option").all_inner_texts()
    after = next(mode for mode in options if mode != before)
    choice.select_option(after)
    row = page.locator("tr", has=choice)
    row.get_by_role("button", name="Set").click()
    page.locator("#flash.ok").wait_for()
    assert "PATCH /_sandbox/devices/" in page.locator("#flash").inner_text()
    assert status_of(http, OFFICE_AC)["airConJobMode"]["currentJobMode"] == after

    # A value outside the profile is refused by the control API, and the page says why.
    temperature = page.get_by_label("New value of temperature.targetTemperature")
    if temperature.count():
        page.console_errors.allow("status of 400")
        temperature.evaluate("input => { input.removeAttribute('max'); input.value = '999'; }")
        page.locator("tr", has=temperature).get_by_role("button", name="Set").click()
        page.locator("#flash.bad").wait_for()
        assert "999" in page.locator("#flash").inner_text()

    # Power and connection, from the device's side.
    page.get_by_role("button", name="Take offline").click()
    page.locator('#device-status [data-fact="online"]', has_text="offline").wait_for()
    devices = {d["deviceId"]: d for d in scenario_devices(http)}
    assert devices[OFFICE_AC]["online"] is False


def replay(curl: str) -> httpx.Response:
    """Send what a copied curl command says (curl itself may not be installed)."""
    words = shlex.split(curl)
    assert words[:2] == ["curl", "-X"], curl
    method, url, rest = words[2], words[3], words[4:]
    headers, body = {}, None
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        if flag == "-H":
            name, _, text = value.partition(": ")
            headers[name] = text
        else:
            assert flag == "--data-raw", flag
            body = value
    return httpx.request(method, url, headers=headers, content=body)


def test_request_made_with_httpx_appears_live_with_its_refusal(
    http: httpx.Client, page: Any, tmp_path: Path
) -> None:
    page.goto("/_dashboard/requests")
    page.evaluate("window.__notReloaded = true")
    page.wait_for_timeout(300)  # the live stream is open
    # Some ordinary traffic first, so the screenshot shows a journal as a client leaves it.
    assert http.get("/bc/v1/devices", headers=bc_headers(http)).status_code == 200
    assert http.get(f"/bc/v1/devices/profile/{OFFICE_AC}", headers=bc_headers(http)).is_success
    unsigned = {k: v for k, v in bc_headers(http).items() if k != "X-Message-Id"}
    assert http.get("/bc/v1/devices", headers=unsigned).status_code == 400
    violation = http.get("/_sandbox/journal", params={"limit": 1}).json()["items"][0]
    assert violation["violations"], violation
    headers = bc_headers(http)
    headers["X-Api-Key"] = "not-a-key"
    refused = http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers)
    assert refused.status_code >= 400
    code = refused.headers["X-Response-Code"]
    newest = http.get("/_sandbox/journal", params={"limit": 1}).json()["items"][0]
    assert newest["response"]["status"] == refused.status_code
    row = page.locator(f'#request-rows tr[data-id="{newest["id"]}"]')
    row.wait_for(timeout=LIVE_WITHIN_MS)
    assert f"GET /bc/v1/devices/{OFFICE_AC}" in row.inner_text()
    assert page.evaluate("window.__notReloaded") is True
    text = row.inner_text()
    assert str(refused.status_code) in text and code in text
    assert "getStatusOfDevice" in text
    assert refused.json()["error"]["message"] in text

    # A spec violation names its field.
    flagged = page.locator(f'#request-rows tr[data-id="{violation["id"]}"] .violation')
    assert violation["violations"][0]["field"] in flagged.inner_text()
    screenshot(page, "dashboard-requests.png", tmp_path)

    # The row expands to the whole exchange and a curl command that replays it.
    row.get_by_role("button", name=f"Show request and response #{newest['id']}").click()
    detail = page.locator(f"#entry-{newest['id']}")
    curl = detail.locator("pre.curl")
    curl.wait_for()
    command = curl.inner_text()
    assert command.startswith("curl -X GET") and f"/bc/v1/devices/{OFFICE_AC}" in command
    assert "x-api-key: not-a-key" in command
    assert code in detail.locator(".exchange").inner_text()
    # The copied command replays the request: the same refusal again.
    assert replay(command).headers["X-Response-Code"] == code

    # The dashboard's own traffic is never journaled.
    paths = [e["request"]["path"] for e in http.get("/_sandbox/journal").json()["items"]]
    assert not any(p.startswith("/_dashboard") for p in paths)


def test_callback_attempts_show_and_redeliver_reaches_a_real_receiver(
    http: httpx.Client, page: Any
) -> None:
    with CallbackReceiver() as receiver:
        state = http.get("/_sandbox/state").json()
        state["delivery"] = {**state["delivery"], "backoffInitial": 0.05}
        for service in state["services"]:
            service["callbackUrl"] = receiver.url
        assert http.post("/_sandbox/scenario", json=state).status_code == 200
        # Every device's first attempt fails (one callback per device), the retry succeeds.
        receiver.behaviour.statuses = [500] * len(kr_devices(http))
        page.goto(f"/_dashboard/callbacks?device={KR_AC}")
        headers = thinq_headers()
        request_id = accepted(
            http.post("/v2/devices/status-async", headers=headers, json=None), headers
        )
        row = page.locator("#callback-rows tr[data-delivery]").first
        row.locator('[data-outcome="ok"]').wait_for(timeout=LIVE_WITHIN_MS)
        outcomes = row.locator("[data-outcome]").evaluate_all(
            "items => items.map(i => i.dataset.outcome)"
        )
        assert outcomes[-1] == "ok" and "http 500" in outcomes
        delivery_id = row.get_attribute("data-delivery")
        delivery = next(
            d
            for d in http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()[
                "items"
            ]
            if d["id"] == delivery_id
        )
        assert delivery["deviceId"] == KR_AC and delivery["status"] == "delivered"
        assert SERVICE in state["services"][0]["serviceId"]

        before = [r for r in receiver.received if r.body.get("requestId") == request_id]
        row.get_by_role("button", name="Redeliver").click()
        deadline = time.monotonic() + 5
        while len([r for r in receiver.received if r.body.get("requestId") == request_id]) <= len(
            before
        ):
            assert time.monotonic() < deadline, "the redelivery never reached the receiver"
            time.sleep(0.05)
        again = [r for r in receiver.received if r.body.get("requestId") == request_id]
        assert again[-1].body["response"]["deviceId"] == KR_AC
        # The page shows the new attempt without a reload.
        page.wait_for_function(
            "id => document.querySelectorAll("
            "`tr[data-delivery='${id}'] [data-outcome='ok']`).length >= 2",
            arg=delivery_id,
            timeout=LIVE_WITHIN_MS,
        )


def test_inbox_deliveries_show_delivered_with_their_bodies(http: httpx.Client, page: Any) -> None:
    # The default scenario registers no receiver: callbacks go to the sandbox's inbox.
    page.goto(f"/_dashboard/callbacks?device={KR_AC}")
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/status-async", headers=headers), headers)
    row = page.locator("#callback-rows tr[data-delivery]").first
    row.locator('[data-outcome="ok"]').wait_for(timeout=LIVE_WITHIN_MS)  # live, no reload
    assert row.locator("[data-status]").inner_text().strip() == "delivered"
    assert row.locator(".inbox").inner_text() == f"inbox of service {SERVICE}"
    body = row.locator("pre[data-body]")
    assert not body.is_visible()
    row.locator("details.body summary").click()
    shown = json.loads(body.inner_text())
    # The body the page shows is the one the inbox received.
    [item] = http.get(
        "/_sandbox/inbox", params={"requestId": request_id, "deviceId": KR_AC}
    ).json()["items"]
    assert item["deliveryId"] == row.get_attribute("data-delivery")
    assert shown == item["body"] and shown["requestId"] == request_id
    assert shown["response"]["deviceId"] == KR_AC


def test_fault_rule_added_in_the_ui_fails_the_next_matching_request(
    http: httpx.Client, page: Any
) -> None:
    http.delete("/_sandbox/faults")
    page.goto("/_dashboard/faults")
    page.select_option("select[name=operationId]", "getStatusOfDevice")
    page.select_option("select[name=effect]", "error")
    # Only Business Connect's codes are offered for a Business Connect operation.
    assert page.evaluate("document.querySelector('optgroup[label=thinq]').hidden") is True
    page.select_option("select[name=error]", "4304")
    page.fill("input[name=count]", "1")
    page.get_by_role("button", name="Add rule").click()
    page.locator("#fault-rows tr[data-rule]").wait_for()
    rules = http.get("/_sandbox/faults").json()["items"]
    assert len(rules) == 1 and rules[0]["match"] == {"operationId": "getStatusOfDevice"}

    failed = http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=bc_headers(http))
    assert failed.headers["X-Response-Code"] == "4304"
    assert failed.json()["error"]["code"] == "4304"
    # count 1: the next call is served again.
    assert http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=bc_headers(http)).status_code == 200

    # Removing it in the UI removes it from the sandbox.
    page.get_by_role("button", name=f"Remove rule {rules[0]['id']}").click()
    page.locator("#fault-rows", has_text="No fault rule").wait_for()
    assert http.get("/_sandbox/faults").json()["items"] == []


def test_clock_advance_and_freeze_from_the_ui(http: httpx.Client, page: Any) -> None:
    page.goto("/_dashboard/faults")
    page.get_by_role("button", name="Freeze").click()
    page.locator('[data-clock="frozen"]', has_text="True").wait_for()
    frozen = http.get("/_sandbox/clock").json()
    assert frozen["frozen"] is True
    page.fill("input[name=value][data-kind=number]", "3600")
    page.get_by_role("button", name="Advance").click()
    page.locator("#flash.ok").wait_for()
    moved = http.get("/_sandbox/clock").json()
    assert moved["now"] > frozen["now"]
    page.fill("input[data-kind=utc-time]", "2031-05-06T07:08:09")
    page.get_by_role("button", name="Set", exact=True).click()
    page.locator('[data-clock="now"]', has_text="2031-05-06T07:08:09").wait_for()
    assert http.get("/_sandbox/clock").json()["now"].startswith("2031-05-06T07:08:09")
    page.get_by_role("button", name="Let it run").click()
    page.locator('[data-clock="frozen"]', has_text="False").wait_for()


def test_every_page_is_keyboard_reachable_and_error_free(http: httpx.Client, page: Any) -> None:
    page.goto("/_dashboard/devices")
    # Tab from the top: the skip link first, then the navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    names = []
    for _ in range(5):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert names == ["Devices", "Requests", "Callbacks", "Faults and clock", "Contract coverage"]
    for path in ("requests", "callbacks", "faults", "coverage", f"devices/{KR_AC}"):
        page.goto(f"/_dashboard/{path}")
        assert page.locator("h1").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the device page is {width}px wide at 1280x800"


def test_coverage_page_shows_the_numbers_of_the_contract_report(
    http: httpx.Client, page: Any, server: Any
) -> None:
    headers = bc_headers(http)
    http.get(f"/bc/v1/devices/{OFFICE_AC}", headers={**headers, "Prefer": "error=4304"})
    http.get("/bc/v1/devices", headers={"X-Api-Key": "not-a-key"})
    page.goto("/_dashboard/devices")  # dashboard traffic must not count as client traffic
    page.goto("/_dashboard/coverage")
    report = subprocess.run(
        [*lgmock_command(), "contract", "report", "--url", server.base_url, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    numbers = json.loads(report.stdout)
    shown = {
        name: page.locator(f'[data-metric="{name}"]').inner_text()
        for name in ("operationCoverage", "codeCoverage", "violations")
    }
    assert shown == {
        "operationCoverage": f"{numbers['operationCoverage']}%",
        "codeCoverage": f"{numbers['codeCoverage']}%",
        "violations": str(len(numbers["violations"])),
    }
    if "statusCoverage" in numbers:  # the report's documented-status coverage
        shown_status = page.locator('[data-metric="statusCoverage"]').inner_text()
        assert shown_status == f"{numbers['statusCoverage']}%"
    assert numbers["codeCoverage"] > 0 and "4304" in page.locator("main").inner_text()


def test_the_banner_names_the_dashboard_and_its_url_answers(server: Any) -> None:
    line = next(line for line in server.log().splitlines() if "Dashboard" in line)
    url = line.split()[-1]
    assert url == f"{server.base_url}/_dashboard/"
    answer = httpx.get(url, follow_redirects=True)
    assert answer.status_code == 200 and "<h1>Devices</h1>" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


FLEET = 10_000


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A sandbox of its own with a generated fleet of FLEET devices."""
    work = tmp_path_factory.mktemp("fleet")
    scenario = work / "fleet.json"
    written = subprocess.run(
        [*lgmock_command(), "scenario", "generate", "--devices", str(FLEET), "--seed", "7"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    scenario.write_bytes(written.stdout)
    running = start_server(work, "--scenario", str(scenario), wait=120)
    yield running
    stop_server(running)


@pytest.mark.slow
def test_device_list_stays_readable_with_ten_thousand_devices(
    browser: Any, fleet_server: RunningServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{fleet_server.base_url}/_dashboard/devices")
        assert f"Devices 1–50 of {FLEET}" in page.locator(".count").first.inner_text()
        assert page.locator("#device-rows tr[data-device]").count() == 50
        page.get_by_role("button", name="Last").click()
        page.locator(".count", has_text=f"Devices {FLEET - 49}–{FLEET} of {FLEET}").wait_for()
        last = page.locator("#device-rows tr[data-device]").last.get_attribute("data-device")
        state = httpx.get(f"{fleet_server.base_url}/_sandbox/state", timeout=60).json()
        assert last == state["devices"][-1]["deviceId"]
        # A filter narrows the count over the whole fleet, not over the page shown.
        kind = state["devices"][0]["deviceType"]
        page.select_option("select[name=type]", kind)
        expected = sum(1 for d in state["devices"] if d["deviceType"] == kind)
        page.locator(".count", has_text=f"of {expected}").wait_for()
        assert page.evaluate("document.querySelectorAll('tr').length") <= 51
    finally:
        context.close()
    assert not errors, errors


def test_push_and_power_from_the_device_page(http: httpx.Client, page: Any) -> None:
    with CallbackReceiver() as partner_receiver:
        http.patch("/_sandbox/partners/acme-energy", json={"callbackUrl": partner_receiver.url})
        bc = user_headers(http, KR_TOKEN, "KR")
        assert http.post(f"/bc/v1/push/{KR_AC}", headers=bc).status_code == 200
        page.goto(f"/_dashboard/devices/{KR_AC}")
        page.get_by_label("Push notification").select_option("WATER_IS_FULL")
        page.get_by_role("button", name="Raise").click()
        pushed = partner_receiver.wait_for(1, lambda body: body.get("pushType") == "DEVICE_PUSH")
        assert pushed[0]["deviceId"] == KR_AC and "WATER_IS_FULL" in json.dumps(pushed[0])

    page.get_by_role("button", name="Power off").click()
    page.locator('#device-status [data-fact="power"]', has_text="off").wait_for()
    status = http.get(f"/bc/v1/devices/{KR_AC}", headers=bc).json()["response"]
    assert status["operation"]["airConOperationMode"] == "POWER_OFF"
    page.get_by_role("button", name="Power on").click()
    page.locator('#device-status [data-fact="power"]', has_text="on").wait_for()
    status = http.get(f"/bc/v1/devices/{KR_AC}", headers=bc).json()["response"]
    assert status["operation"]["airConOperationMode"] == "POWER_ON"


def test_requests_filters_narrow_the_journal(http: httpx.Client, page: Any) -> None:
    headers = bc_headers(http)
    http.get("/bc/v1/devices", headers=headers)
    http.get(f"/bc/v1/devices/{OFFICE_AC}", headers={**bc_headers(http), "Prefer": "error=4304"})
    page.goto("/_dashboard/requests")
    page.select_option("select[name=operation]", "getStatusOfDevice")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#request-rows tr[data-id]')]"
        ".every(r => r.innerText.includes('getStatusOfDevice'))"
    )
    page.fill("input[name=code]", "4304")
    page.wait_for_function(
        "() => { const rows = [...document.querySelectorAll('#request-rows tr[data-id]')];"
        " return rows.length > 0 && rows.every(r => r.innerText.includes('4304')); }"
    )
    expected = [
        e["id"]
        # The worker's server is shared: ask for the whole operation's history, not the
        # newest 50 calls of any kind, so older matching rows are expected too.
        for e in http.get(
            "/_sandbox/journal", params={"operationId": "getStatusOfDevice", "limit": 10000}
        ).json()["items"]
        if e["response"]["code"] == "4304"
    ]
    shown = page.eval_on_selector_all(
        "#request-rows tr[data-id]", "rows => rows.map(r => Number(r.dataset.id))"
    )
    assert shown == expected[: len(shown)] and shown
