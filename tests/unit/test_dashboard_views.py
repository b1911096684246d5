"""The dashboard's read side and its live hooks, in-process (the pages are in tests/browser)."""

from __future__ import annotations

import json
import shlex

from lgspecs.data import default_scenario
from mockserver.callbacks import DeliveryEngine
from mockserver.clock import SandboxClock
from mockserver.dashboard import live, views
from mockserver.journal import Journal, JournalEntry
from mockserver.runtime import Runtime
from tests.support import KR_FRIDGE, OFFICE_AC


def entry(number: int, **fields: object) -> JournalEntry:
    base: dict[str, object] = {
        "id": number,
        "at": "2026-01-01T00:00:00+00:00",
        "api": "bc",
        "operation_id": "getStatusOfDevice",
        "caller": "acme-energy",
        "method": "GET",
        "path": f"/bc/v1/devices/{OFFICE_AC}",
        "query": "",
        "request_headers": {"x-api-key": "k"},
        "request_body": b"",
        "status": 200,
    }
    return JournalEntry(**{**base, **fields})  # type: ignore[arg-type]


def test_nobody_watching_leaves_the_listener_lists_empty() -> None:
    runtime = Runtime.from_file(default_scenario())
    feed = live.LiveFeed(runtime)
    first, second = feed.watch(), feed.watch()
    assert len(runtime.journal.listeners) == 1 and len(runtime.deliveries.listeners) == 1
    runtime.journal.add(entry(1))
    assert first.topics == {live.JOURNAL} and second.wake.is_set()
    feed.leave(first)
    assert runtime.journal.listeners  # one page still open
    feed.leave(second)
    assert runtime.journal.listeners == [] and runtime.deliveries.listeners == []


def test_delivery_engine_tells_its_listeners_about_each_change() -> None:
    engine = DeliveryEngine(SandboxClock())
    heard: list[str] = []
    engine.listeners.append(lambda delivery: heard.append(delivery.status))
    engine.enqueue(None, {"x": 1}, kind="DEVICE_STATUS")  # no URL: given up at once
    assert heard and heard[-1] == "failed"


def test_live_rows_are_the_newest_after_an_id_that_pass_the_filter() -> None:
    journal = Journal()
    for number in range(1, 8):
        journal.add(entry(number, status=200 if number % 2 else 401, response_code="4201"))
    rows = views.journal_rows(journal, views.JournalFilter(status="401"), after=2)
    assert [r["id"] for r in rows] == [6, 4]
    assert [r["id"] for r in views.journal_rows(journal, views.JournalFilter(), limit=3)] == [
        7,
        6,
        5,
    ]


def test_device_filter_matches_path_or_body() -> None:
    by_body = entry(1, path="/v2/devices/status-async", request_body=b'{"d": "abc123"}')
    chosen = views.from_query(views.JournalFilter, {"device": " abc123 "})
    assert chosen.device == "abc123" and chosen.accepts(by_body)
    assert not chosen.accepts(entry(2))


def test_refusal_message_from_each_envelope() -> None:
    bc = {"messageId": "", "error": {"code": "4201", "message": "Invalid token"}}
    thinq = {"response": {"error": {"code": "1201", "message": "bad service"}}}
    dr = {"code": 4304, "message": "no device"}
    for body, message in ((bc, "Invalid token"), (thinq, "bad service"), (dr, "no device")):
        assert views.refusal_message(entry(1, response_body=json.dumps(body).encode())) == message


def test_curl_command_quotes_what_the_shell_would_break_on() -> None:
    sent = entry(
        1,
        method="POST",
        query="a=1&b=2",
        request_headers={"host": "x", "x-api-key": "it's", "content-length": "9"},
        request_body=b'{"a": "b c"}',
    )
    words = shlex.split(views.curl_command(sent, "http://127.0.0.1:8080/"))
    assert words == [
        "curl",
        "-X",
        "POST",
        f"http://127.0.0.1:8080/bc/v1/devices/{OFFICE_AC}?a=1&b=2",
        "-H",
        "x-api-key: it's",
        "--data-raw",
        '{"a": "b c"}',
    ]


def test_device_page_reads_list_resources_and_offers_power_from_the_device() -> None:
    sandbox = Runtime.from_file(default_scenario()).sandbox
    fridge = sandbox.devices.get(KR_FRIDGE)
    fridge_target = next(
        a for a in views.attribute_views(fridge) if "[FRIDGE].targetTemperature" in a.label
    )
    now = next(e for e in fridge.status["temperature"] if e["locationName"] == "FRIDGE")
    assert fridge_target.current == now["targetTemperature"]
    assert views.VALUE_MARK in fridge_target.command
    office = sandbox.devices.get(OFFICE_AC)
    labels = [a.label for a in views.power_actions(office)]
    assert labels == ["Power on", "Power off"]
    assert views.power_label(office) in ("on", "off") and views.power_label(fridge) == ""


def test_what_a_client_sent_is_shown_escaped() -> None:
    import asyncio

    import httpx

    from mockserver.app import create_app

    runtime = Runtime.from_file(default_scenario())
    app = create_app(runtime)

    async def pages() -> tuple[str, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            await client.get("/bc/v1/<script>alert(1)</script>", headers={"X-Api-Key": "<b>"})
            entry_id = next(e.id for e in runtime.journal.entries if "<script>" in e.path)
            listing = await client.get("/_dashboard/requests")
            detail = await client.get(f"/_dashboard/requests/{entry_id}")
            return listing.text, detail.text

    listing, detail = asyncio.run(pages())
    for html in (listing, detail):
        assert "<script>alert(1)" not in html, html
        assert "&lt;script&gt;alert(1)" in html, html
    assert "<b>" not in detail and "&lt;b&gt;" in detail, detail


def test_thinq_connect_calls_show_on_the_requests_page_and_filter_by_api() -> None:
    import asyncio

    import httpx

    from mockserver.app import create_app
    from tests.support import connect_headers

    runtime = Runtime.from_file(default_scenario())
    app = create_app(runtime)

    async def pages() -> tuple[str, str, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            answer = await client.get(
                "/connect/devices/no-such-device/state", headers=connect_headers()
            )
            assert answer.status_code == 404
            listing = await client.get("/_dashboard/requests")
            only = await client.get("/_dashboard/requests/rows", params={"api": "connect"})
            other = await client.get("/_dashboard/requests/rows", params={"api": "bc"})
            return listing.text, only.text, other.text

    listing, only, other = asyncio.run(pages())
    assert ">connect</option>" in listing  # the API filter offers it
    assert "/connect/devices/no-such-device/state" in only and "1205" in only
    assert "no-such-device" not in other
