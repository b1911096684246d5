"""The delivery engine's workers on their own, posting to a real HTTP receiver: a
delivery that meets an unexpected error is counted as a failed attempt and given up,
and no worker dies of it or of resets while lanes wait for their retry."""

from __future__ import annotations

import asyncio

from contract_tests.receiver import CallbackReceiver
from mockserver.callbacks import FAILED, DeliveryEngine, DeliverySettings
from mockserver.clock import SandboxClock

FAST = DeliverySettings(attempts=3, backoff_initial=0.01, backoff_max=0.02, concurrency=4)


async def settled(engine: DeliveryEngine, timeout: float = 10.0) -> None:
    assert await engine.drain(timeout), [d.to_dict() for d in engine.find()]


def test_an_unexpected_error_is_a_failed_attempt_and_the_worker_lives() -> None:
    async def run() -> None:
        engine = DeliveryEngine(SandboxClock(), FAST)
        with CallbackReceiver() as receiver:
            # A body the JSON encoder refuses: a bug's stand-in, raised inside an attempt.
            broken = engine.enqueue(receiver.url, {"x": object()}, kind="test", device_id="d")
            await settled(engine)
            assert broken.status == FAILED and len(broken.attempts) == FAST.attempts
            assert {a.outcome for a in broken.attempts} == {"error: TypeError"}
            assert all(not worker.done() for worker in engine._workers)
            fine = engine.enqueue(receiver.url, {"n": 1}, kind="test", device_id="d")
            await settled(engine)
            assert fine.status == "delivered"
            assert receiver.bodies() == [{"n": 1}]
        await engine.close()

    asyncio.run(run())


def test_resets_while_lanes_wait_for_retries_kill_no_worker() -> None:
    async def run() -> None:
        engine = DeliveryEngine(SandboxClock(), DeliverySettings(concurrency=2, attempts=50))
        with CallbackReceiver() as receiver:
            receiver.behaviour.statuses = [503] * 10_000
            for _ in range(10):
                for device in ("a", "b", "c"):
                    engine.enqueue(receiver.url, {"d": device}, kind="test", device_id=device)
                await asyncio.sleep(0.25)  # refused once: waiting for the retry at 0.2 s
                engine.clear()
            receiver.behaviour.statuses.clear()
            last = [
                engine.enqueue(receiver.url, {"d": d, "last": True}, kind="test", device_id=d)
                for d in ("a", "b", "c")
            ]
            await settled(engine)
            assert [d.status for d in last] == ["delivered"] * 3
            assert all(not worker.done() for worker in engine._workers)
            await asyncio.sleep(0.5)  # the old retry timers have fired: nothing more sent
            delivered = [
                r.body
                for r, status in zip(receiver.received, receiver.answered, strict=True)
                if status == 200
            ]
            assert sorted(b["d"] for b in delivered) == ["a", "b", "c"]
        await engine.close()

    asyncio.run(run())
