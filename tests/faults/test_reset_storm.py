"""Reset and scenario-load storms while callbacks wait in backoff: no delivery crosses
a reset, order per receiver and device holds, and no delivery worker dies.

What runs: ``lgmock serve`` (in memory: what is tested is the delivery engine), a
receiver that answers half the deliveries with 503 (so lanes wait for their retries),
a client calling ThinQ ``status-async`` one call after another (each call queues one
callback per device of the user, a lane per device), and a storm of ``POST
/_sandbox/reset`` and ``POST /_sandbox/scenario`` at seeded random moments between them.

The receiver's log is checked against the calls and the storm's answers:

- across a reset: a callback of a call made before a reset or load arrives after that
  reset's answer (50 ms of grace for an attempt already on the wire);
- order: within one lane (receiver URL, device), a callback of a later call arrives
  before an earlier call's callback was delivered (2xx), or an earlier one after it;
- twice: a callback arrives again after it was delivered (no crash here, so at least
  once means exactly once);
- dead workers: after the storm, one call for a user with 70 devices, the receiver
  holding each delivery 1 s: all 64 workers (the engine's concurrency) must be sending
  at once, and every callback owed since the last reset must arrive.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from tests.faults.harness import (
    FAULT_TOKEN,
    SERVICE,
    SERVICE_KEY,
    delivered_thinq,
    fault_scenario,
    kr_devices,
    message_id,
    replay_hint,
    seed_for_run,
)
from tests.support import KR_TOKEN, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STORM_SECONDS = 8.0
PROBE_DEVICES = 70
WORKERS = 64  # DeliverySettings.concurrency
GRACE = 0.05


class CountingReceiver(CallbackReceiver):
    """A receiver that also counts the deliveries it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[override]
        if scope["type"] != "http":
            return
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.in_flight -= 1


def thinq_headers(token: str, message: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-message-id": message,
        "x-service-id": SERVICE,
        "x-service-key": SERVICE_KEY,
        "x-country-code": "KR",
    }


def storm_scenario(receiver_url: str) -> dict:
    document = fault_scenario(receiver_url, PROBE_DEVICES)
    document["delivery"] = {"attempts": 100, "backoffInitial": 0.05, "backoffMax": 0.3}
    return document


async def storm(
    base_url: str, scenario: dict, seed: int
) -> tuple[list[tuple[str, int, float]], list[tuple[float, float]]]:
    """The calls (x-message-id, epoch, sent at) and the resets' (sent, answered) times."""
    rng = random.Random(seed)
    calls: list[tuple[str, int, float]] = []
    resets: list[tuple[float, float]] = []
    epoch = started = 0  # resets answered, resets sent
    deadline = time.monotonic() + STORM_SECONDS
    body = json.dumps(scenario)

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def caller() -> None:
            while time.monotonic() < deadline:
                message = message_id()
                sent_epoch, sent_started, sent = epoch, started, time.monotonic()
                answer = await http.post(
                    "/v2/devices/status-async", headers=thinq_headers(KR_TOKEN, message)
                )
                assert answer.status_code == 202, answer.text
                # A reset on its way while the call was: which side the call fell on is
                # unknown, and it counts for neither.
                if sent_started == sent_epoch == started:
                    calls.append((message, sent_epoch, sent))
                await asyncio.sleep(rng.uniform(0, 0.03))

        async def resetter() -> None:
            nonlocal epoch, started
            while time.monotonic() < deadline:
                await asyncio.sleep(rng.uniform(0.05, 0.4))
                started += 1
                sent = time.monotonic()
                if rng.random() < 0.5:
                    answer = await http.post("/_sandbox/reset")
                else:
                    answer = await http.post(
                        "/_sandbox/scenario",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                assert answer.status_code == 200, answer.text
                epoch += 1
                resets.append((sent, time.monotonic()))

        await asyncio.gather(caller(), resetter())
    return calls, resets


def test_reset_and_load_storms_keep_lanes_order_and_workers(tmp_path: Path) -> None:
    seed = seed_for_run()
    hint = replay_hint(seed, "tests/faults/test_reset_storm.py")
    answers = random.Random(seed + 1)
    receiver = CountingReceiver()
    receiver.behaviour.statuses = [503 if answers.random() < 0.5 else 200 for _ in range(10**6)]
    receiver.start()
    scenario = storm_scenario(receiver.url)
    scenario_file = tmp_path / "storm.json"
    scenario_file.write_text(json.dumps(scenario))
    server = start_server(tmp_path, "--scenario", str(scenario_file))
    problems: list[str] = []
    began = time.monotonic()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            devices = kr_devices(http.get("/_sandbox/state").json())
        calls, resets = asyncio.run(storm(server.base_url, scenario, seed))
        # The storm is over: every answer a 200. What the last epoch owes arrives, then
        # the probe of the workers, each of its deliveries held 1 s by the receiver.
        receiver.behaviour.statuses = []
        last_reset = resets[-1][1] if resets else 0.0
        owed = {(m, d) for m, e, _ in calls if e == len(resets) for d in devices}
        if not wait_until(owed, receiver, 30):
            missing = len(owed - delivered_thinq(receiver))
            problems.append(f"{missing} callbacks owed since the last reset never arrived")
        receiver.behaviour.delay = 1.0
        receiver.peak = 0
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            probe = message_id()
            headers = thinq_headers(FAULT_TOKEN, probe)
            answer = http.post("/v2/devices/status-async", headers=headers)
            assert answer.status_code == 202, answer.text
        probed = {(probe, f"fa{n:062d}") for n in range(PROBE_DEVICES)}
        if not wait_until(probed, receiver, 30):
            missing = len(probed - delivered_thinq(receiver))
            problems.append(f"{missing} of the probe's {PROBE_DEVICES} callbacks never arrived")
        if receiver.peak < WORKERS:
            problems.append(f"at most {receiver.peak} deliveries at once, not {WORKERS}")
        problems += check_log(receiver, calls, resets, devices)
        log = server.log()
    except Exception as exc:
        raise AssertionError(f"{hint}\n{type(exc).__name__}: {exc}") from exc
    finally:
        stop_server(server)
        receiver.stop()
    assert "Traceback" not in log, f"{hint}\n{log[-3000:]}"
    assert not problems, f"{hint}\n" + "\n".join(problems[:30])
    assert len(resets) >= 15 and len(calls) >= 30, (hint, len(resets), len(calls))
    print(
        f"\nFIGURES reset storm: {len(resets)} resets and scenario loads, {len(calls)} ThinQ"
        f" calls ({len(calls) * len(devices)} callbacks), 0 across a reset, 0 out of order,"
        f" {receiver.peak} of {WORKERS} workers sending at once after the storm, last reset"
        f" {last_reset - began:.0f} s in; {time.monotonic() - began:.0f} s (seed {seed})"
    )


def wait_until(owed: set[tuple[str, str]], receiver: CallbackReceiver, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not owed <= delivered_thinq(receiver):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def check_log(
    receiver: CallbackReceiver,
    calls: list[tuple[str, int, float]],
    resets: list[tuple[float, float]],
    devices: list[str],
) -> list[str]:
    """What arrived, checked against the calls and resets (module docstring)."""
    order = {message: (number, epoch) for number, (message, epoch, _) in enumerate(calls)}
    with receiver._lock:
        pairs = list(zip(receiver.received, receiver.answered, strict=True))
    problems = []
    lanes: dict[str, list[tuple[int, int, float]]] = {}
    for received, status in pairs:
        if received.path != "/thinq":
            continue
        message = received.body["messageId"]
        device = received.body["response"]["deviceId"]
        if message not in order:
            continue  # a call on the edge of a reset, or the probe
        number, epoch = order[message]
        if epoch < len(resets) and received.at > resets[epoch][1] + GRACE:
            late = received.at - resets[epoch][1]
            problems.append(f"{message} to {device} arrived {late:.2f} s after a reset")
        lanes.setdefault(device, []).append((number, status, received.at))
    for device, arrivals in lanes.items():
        done: set[int] = set()
        latest = -1
        for number, status, _ in arrivals:
            if number in done:
                problems.append(f"call {number} to {device} delivered again")
            if number < latest:
                problems.append(f"call {number} to {device} arrived after call {latest}")
            elif number > latest >= 0 and latest not in done:
                # The lane moved on: only across a reset may an undelivered one be left.
                if order_epoch(calls, latest) == order_epoch(calls, number):
                    problems.append(
                        f"call {number} to {device} sent before call {latest} was delivered"
                    )
            latest = max(latest, number)
            if status < 300:
                done.add(number)
    return problems


def order_epoch(calls: list[tuple[str, int, float]], number: int) -> int:
    return calls[number][1]
