"""100 ``kill -9`` at random points of a mixed client load, each followed by a restart
checked against the client-side model of every acknowledged write (harness.History).

What runs: ``lgmock serve --state-file`` on a real SQLite file; a callback receiver that
answers 30% of deliveries with 503, so callbacks are in backoff when the kill comes; and
the mixed load of harness.Load (Business Connect controls, ThinQ ``status-async``, DR
groups and events, control API fault rules and devices). Each round lets the load run
for a random time (0.05-0.6 s, from the seed), kills the server with SIGKILL while
calls are in flight, restarts it on the same file and compares its whole state with the
model: every acknowledged write there (and every earlier one still), nothing that was
never acknowledged or settled, and every callback owed either delivered or still owed
by the restarted server. At the end, every owed callback must have arrived.

``LGMOCK_FAULT_SEED`` replays a run's kill points (the seed is printed on failure);
``LGMOCK_FAULT_KILLS`` changes the number of kills (100).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from tests.faults.harness import (
    History,
    Load,
    Sandbox,
    WarmStarter,
    delivered_thinq,
    fault_scenario,
    kr_devices,
    pending_thinq,
    replay_hint,
    seed_for_run,
    summary,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KILLS = int(os.environ.get("LGMOCK_FAULT_KILLS", "100"))
CONTROL_CLIENTS = 4
TEST = "tests/faults/test_kill9.py"


async def crash_rounds(
    sandbox: Sandbox, history: History, receiver: CallbackReceiver, seed: int
) -> list[float]:
    """KILLS rounds of load, SIGKILL and checked restart; the restart times (s)."""
    kill_points = random.Random(seed)
    load = Load(history, random.Random(seed + 1), controls=CONTROL_CLIENTS)
    sandbox.start()
    with httpx.Client(base_url=sandbox.base_url, timeout=30) as http:
        history.thinq_devices = kr_devices(http.get("/_sandbox/state").json())
    restarts = []
    for kill in range(1, KILLS + 1):
        running = asyncio.create_task(load.run(sandbox.base_url))
        await asyncio.sleep(kill_points.uniform(0.05, 0.6))
        sandbox.kill9()
        load.stop.set()
        await running
        began = time.monotonic()
        sandbox.start()
        restarts.append(time.monotonic() - began)
        moment = f"after kill {kill}"
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=30) as http:
            # What the server still owes first, then what arrived: a delivery finishing
            # in between is in the second.
            owed_by_server = await pending_thinq(http)
            state = (await http.get("/_sandbox/state")).json()
        history.check_state(state, moment)
        history.check_callbacks(owed_by_server | delivered_thinq(receiver), moment)
        assert not history.problems, history.problems[:20]
    return restarts


def wait_for_owed(history: History, receiver: CallbackReceiver, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if history.owed_callbacks() <= delivered_thinq(receiver):
            return
        time.sleep(0.2)


def test_kill9_at_random_points_loses_no_acknowledged_write(tmp_path: Path) -> None:
    seed = seed_for_run()
    answers = random.Random(seed + 2)
    receiver = CallbackReceiver()
    receiver.behaviour.statuses = [503 if answers.random() < 0.3 else 200 for _ in range(10**6)]
    receiver.start()
    starter = WarmStarter()
    sandbox = Sandbox(tmp_path, fault_scenario(receiver.url, CONTROL_CLIENTS), starter=starter)
    history = History()
    began = time.monotonic()
    try:
        try:
            restarts = asyncio.run(crash_rounds(sandbox, history, receiver, seed))
            wait_for_owed(history, receiver, timeout=60)
            history.check_callbacks(delivered_thinq(receiver), "at the end")
        except Exception as exc:
            raise AssertionError(f"{replay_hint(seed, TEST)}\n{type(exc).__name__}: {exc}") from exc
    finally:
        sandbox.stop()
        starter.close()
        receiver.stop()
    elapsed = time.monotonic() - began
    hint = replay_hint(seed, TEST)
    assert not history.problems, f"{hint}\n" + "\n".join(history.problems[:30])
    assert sandbox.kills == KILLS
    assert not sandbox.tracebacks(), f"{hint}: traceback in {sandbox.tracebacks()}"
    # The load did reach every kind of write, and callbacks were owed across kills.
    for kind in ("control", "thinq", "dr-group", "dr-event", "fault", "device"):
        assert history.acked(kind) >= KILLS // 4, (hint, summary(history))
    owed = len(history.owed_callbacks())
    print(
        f"\nFIGURES kill -9: {sandbox.kills} kills, {history.acked()} acknowledged writes "
        f"({summary(history)}), {history.checks} checks of acknowledged writes after "
        f"restarts, 0 lost; {owed} callbacks owed, 0 lost; restart median "
        f"{sorted(restarts)[len(restarts) // 2]:.2f} s; {elapsed:.0f} s in all (seed {seed})"
    )
