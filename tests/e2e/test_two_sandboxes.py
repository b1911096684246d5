"""Two `lgmock serve` processes on one host keep their callbacks apart (issue 19 item 4).

Every sandbox used to send to 127.0.0.1:9000 by default, so a receiver there got the
callbacks of every sandbox on the machine (2,278 of another one in 2 s). Now a sandbox
with no receiver registered delivers to its own inbox, and a receiver registered with
one sandbox hears from that one only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.sandbox import Sandbox, SandboxReceiver
from tests.api.test_thinq_async import SERVICE, call_async, kr_devices, other_job_mode
from tests.support import KR_AC, KR_TOKEN, RunningServer, start_server, stop_server, user_headers

pytestmark = pytest.mark.e2e


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two sandboxes of the default scenario, each on a free port of this host."""
    running: list[RunningServer] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            running.append(start_server(tmp_path / name))
        yield running[0], running[1]
    finally:
        for server in reversed(running):
            stop_server(server)


def _traffic(http: httpx.Client, calls: int) -> set[str]:
    """ThinQ fan-outs and a Business Connect push message; the requestIds of the fan-outs."""
    bc = user_headers(http, KR_TOKEN, "KR")
    assert http.post(f"/bc/v1/push/{KR_AC}", headers=bc).status_code == 200
    command = {"airConJobMode": {"currentJobMode": other_job_mode(http, bc)}}
    change = http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command)
    assert change.status_code == 200, change.text
    return {call_async(http, "POST", "status-async") for _ in range(calls)}


def _inbox(http: httpx.Client) -> list[dict[str, Any]]:
    return http.get("/_sandbox/inbox", params={"limit": 10_000}).json()["items"]


def _settled(http: httpx.Client, expected: int, timeout: float = 20) -> list[dict[str, Any]]:
    """The whole delivery journal once ``expected`` deliveries are in it, none pending."""
    deadline = time.monotonic() + timeout
    while True:
        items = http.get("/_sandbox/callbacks", params={"limit": 10_000}).json()["items"]
        if len(items) >= expected and all(d["status"] != "pending" for d in items):
            return items
        assert time.monotonic() < deadline, items[:3]
        time.sleep(0.1)


def test_two_sandboxes_on_one_host_never_deliver_into_each_other(
    two: tuple[RunningServer, RunningServer],
) -> None:
    a, b = two
    handle = Sandbox(a.base_url)
    receiver = SandboxReceiver().start()
    try:
        receiver.attach(handle)  # a receiver on this host, registered with A only
        with (
            httpx.Client(base_url=a.base_url, timeout=10) as http_a,
            httpx.Client(base_url=b.base_url, timeout=10) as http_b,
        ):
            owned = len(kr_devices(http_a))
            assert owned == len(kr_devices(http_b))  # the same default scenario
            calls = 5
            sent_a = _traffic(http_a, calls)
            sent_b = _traffic(http_b, calls)
            expected = calls * owned + 1  # fan-outs, and the push message
            journal_a = _settled(http_a, expected)
            journal_b = _settled(http_b, expected)

            # A delivered everything to the receiver registered with it.
            assert {d["status"] for d in journal_a} == {"delivered"}
            assert {d["url"] for d in journal_a} == {receiver.thinq_url, receiver.bc_url}
            heard = {b.get("requestId") for b in receiver.thinq_bodies()}
            assert heard == sent_a and len(receiver.thinq_bodies()) == calls * owned
            assert [m["deviceId"] for m in receiver.bc_bodies()] == [KR_AC]
            assert _inbox(http_a) == []

            # B, with no receiver, delivered everything to its own inbox, and none of it
            # reached A's receiver (nor A's inbox).
            assert {d["status"] for d in journal_b} == {"delivered"}
            assert {d["url"] for d in journal_b} == {
                f"/_sandbox/inbox/services/{SERVICE}",
                "/_sandbox/inbox/partners/acme-energy",
            }
            inbox_b = _inbox(http_b)
            assert len(inbox_b) == expected
            assert {i["body"].get("requestId") for i in inbox_b if i["serviceId"]} == sent_b
            assert not heard & sent_b

            # A's receiver stops: A gets its inbox back, and B's inbox stays B's.
            receiver.detach()
            again = call_async(http_a, "POST", "profile-async")
            _settled(http_a, expected + owned)
            assert {i["body"]["requestId"] for i in _inbox(http_a)} == {again}
            assert len(_inbox(http_b)) == expected
    finally:
        receiver.detach()
        receiver.stop()
        handle.close()
