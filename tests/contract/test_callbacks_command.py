"""`lgmock contract callbacks`: a good receiver passes; a crashing one fails, minimally."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_tests.callback_tester import Deliveries, Kind, bc_kinds, thinq_kinds
from contract_tests.receiver import CallbackReceiver, push_type
from contract_tests.schemas import business_connect_problems, thinq_problems
from tests.contract.support import lgmock, read_body, serving
from tests.support import free_port

# Hypothesis generates every kind of delivery for each receiver: the slow tier.
pytestmark = pytest.mark.slow

LARGE = 20_000


def picky_receiver(refuse: Callable[[Any, bytes], int | None]) -> Callable[..., Any]:
    """An ASGI receiver answering ``refuse(body, raw)`` (a status) or 200."""

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        raw = await read_body(receive)
        status = 200
        if scope["method"] == "POST":
            status = refuse(json.loads(raw), raw) or 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def device_type_or_size(body: Any, raw: bytes) -> int | None:
    device_type = (body.get("response") or {}).get("deviceType") or body.get("deviceType")
    if isinstance(device_type, str) and not device_type.isascii():
        return 500  # a receiver that assumed ASCII
    if len(raw) > LARGE:
        return 413  # a receiver with a small body limit
    return None


def test_a_well_behaved_receiver_passes(capsys: pytest.CaptureFixture[str]) -> None:
    with CallbackReceiver() as receiver:
        code = lgmock(
            "contract", "callbacks", "--target", f"{receiver.url}/thinq", "--api", "all",
            "--bc-target", f"{receiver.url}/bc", "--max-examples", "5", "--seed", "3",
        )  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0, out
        thinq = [r.body for r in receiver.received if r.path == "/thinq"]
        bc = [r.body for r in receiver.received if r.path == "/bc"]
    assert "PASSED" in out
    # Every pushType arrived, and every delivery was valid per its spec.
    assert {push_type(body) for body in thinq} == {
        "DEVICE_PROFILE", "DEVICE_STATUS", "DEVICE_CONTROL", "DEVICE_EVENT_SUBSCRIBED",
        "DEVICE_EVENT_UNSUBSCRIBED", "DEVICE_PUSH_SUBSCRIBED", "DEVICE_PUSH_UNSUBSCRIBED",
        "DEVICE_PUSH", "USER_PUSH_SUBSCRIBED",
    }  # fmt: skip
    assert {push_type(body) for body in bc} == {"DEVICE_STATUS", "DEVICE_PUSH"}
    assert [p for body in thinq for p in thinq_problems(body)] == []
    assert [p for body in bc for p in business_connect_problems(body)] == []
    assert any(body["responseCode"] != "0000" for body in thinq)  # per-device failures too


def test_a_crashing_receiver_fails_with_the_smallest_payload(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serving(picky_receiver(device_type_or_size)) as (url, _server):
        code = lgmock("contract", "callbacks", "--target", url, "--seed", "1")
    out = capsys.readouterr().out
    assert code == 1, out
    assert "FAILED" in out and "answered 500" in out and "answered 413" in out
    # Shrunk to the smallest non-ASCII deviceType, shown escaped so it can be seen.
    assert '"deviceType": "\\u0080"' in out
    # And to the smallest body over the limit.
    sizes = [
        int(n) for n in re.findall(r"Smallest failing example, the payload \((\d+) bytes", out)
    ]
    assert any(LARGE < size <= LARGE + 100 for size in sizes), sizes
    assert "curl -X POST" in out


def test_a_receiver_that_goes_down_is_reported_with_its_last_payload(
    capsys: pytest.CaptureFixture[str],
) -> None:
    servers = []

    def die_on_push(body: Any, raw: bytes) -> int | None:
        if push_type(body) == "DEVICE_PUSH":
            servers[0].should_exit = True  # the process "crashes" on its first push code
            return 500
        return None

    with serving(picky_receiver(die_on_push)) as (url, server):
        servers.append(server)
        code = lgmock("contract", "callbacks", "--target", url, "--max-examples", "3")
    out = capsys.readouterr().out
    assert code == 1, out
    assert "The receiver went down handling this payload" in out
    assert '"pushType": "DEVICE_PUSH"' in out
    assert "| thinq | `receiver_stays_up` | callback | 1 | **FAILED**" in out
    assert "the receiver is down" in out  # what came after was skipped, not blamed


@pytest.mark.parametrize("api", ["thinq", "bc"])
def test_every_generated_delivery_is_valid_per_its_spec(api: str) -> None:
    kinds = thinq_kinds(4096) if api == "thinq" else bc_kinds(4096)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(kinds).flatmap(lambda kind: kind.deliveries.map(lambda d: (kind, d))))
    def check(drawn: tuple[Kind, Deliveries]) -> None:
        kind, deliveries = drawn
        for payload in deliveries:
            assert kind.problems(payload) == [], (kind.name, payload)

    check()


def test_a_target_where_nothing_listens_is_refused_before_sending(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}/thinq"
    assert lgmock("contract", "callbacks", "--target", url) == 2
    err = capsys.readouterr().err
    assert f"nothing listens at {url}" in err
    assert "went down" not in err
