"""A Runtime over a real SQLite state file whose commit fails: the ticker's changes stay
owed for the next commit, and an answer's failed commit rolls the state in memory back to
what the file holds (docs/durability.md, "When a commit fails")."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mockserver import persistence, scenario
from mockserver.runtime import Runtime
from tests.support import KR_AC, KR_FRIDGE, REPO

SCENARIO = REPO / "fixtures" / "scenarios" / "default.yaml"
RULE = {"match": {"operationId": "getDevices"}, "effect": {"error": "4304"}}


def runtime_at(tmp_path: Path) -> Runtime:
    runtime = Runtime.with_state_file(tmp_path / "state.db", SCENARIO)
    runtime.commit()  # the clock and DR secret beside the base, as the first answer does
    return runtime


def failing_once(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's next write fails as a full disk does; the ones after it succeed."""
    store = runtime.store
    assert store is not None
    write = store.write

    def refuse(changes: persistence.Changes) -> None:
        monkeypatch.setattr(store, "write", write)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "write", refuse)


def stored_online(tmp_path: Path, runtime: Runtime, device_id: str) -> bool:
    assert runtime.store is not None
    runtime.close_state_file()
    stored = persistence.read(tmp_path / "state.db")
    return next(d for d in stored.current()["devices"] if d["deviceId"] == device_id)["online"]


def test_a_failed_commit_keeps_every_change_owed_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = runtime_at(tmp_path)
    runtime.sandbox.devices.set_online(KR_AC, False)
    rule = runtime.sandbox.faults.add(RULE)
    runtime.sandbox.changed("faults")
    failing_once(runtime, monkeypatch)
    with pytest.raises(sqlite3.OperationalError):
        runtime.commit()
    assert runtime.has_unsaved()  # nothing was taken by the commit that failed
    runtime.commit()
    assert not runtime.has_unsaved()
    assert runtime.store is not None
    stored = runtime.store.read_back()
    assert [r["id"] for r in stored.current()["faults"]] == [rule.id]
    assert stored_online(tmp_path, runtime, KR_AC) is False


def test_a_failed_reset_keeps_the_file_and_the_next_commit_writes_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = runtime_at(tmp_path)
    runtime.sandbox.devices.set_online(KR_AC, False)
    runtime.commit()
    runtime.reset()
    failing_once(runtime, monkeypatch)
    with pytest.raises(sqlite3.OperationalError):
        runtime.commit()  # the ticker's: the reset stays owed
    runtime.sandbox.devices.set_online(KR_FRIDGE, False)
    runtime.commit()
    # The reset dropped the change before it; the one after it is written over the base.
    assert stored_online(tmp_path, runtime, KR_FRIDGE) is False
    stored = persistence.read(tmp_path / "state.db")
    assert list(stored.devices) == [KR_FRIDGE]


def test_an_answers_failed_commit_rolls_the_state_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        runtime = runtime_at(tmp_path)
        runtime.sandbox.devices.set_online(KR_AC, False)
        runtime.commit()
        runtime.sandbox.devices.set_online(KR_FRIDGE, False)
        runtime.sandbox.faults.add(RULE)
        runtime.sandbox.changed("faults")
        runtime.deliveries.enqueue("http://127.0.0.1:9/none", {"a": 1}, kind="test")
        failing_once(runtime, monkeypatch)
        with pytest.raises(sqlite3.OperationalError):
            runtime.commit_or_roll_back()
        devices = runtime.sandbox.devices
        assert devices.get(KR_AC).online is False  # committed before: kept
        assert devices.get(KR_FRIDGE).online is True  # refused: gone
        assert runtime.sandbox.faults.export() == []
        assert runtime.deliveries.find() == []
        assert not runtime.has_unsaved()
        await runtime.deliveries.close()
        runtime.close_state_file()

    asyncio.run(run())


def test_a_failed_load_is_rolled_back_to_the_scenario_the_file_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        runtime = runtime_at(tmp_path)
        document = scenario.read_file(SCENARIO)
        small = {**document, "devices": document["devices"][:1], "seed": 9}
        runtime.load(small, "small")
        failing_once(runtime, monkeypatch)
        with pytest.raises(sqlite3.OperationalError):
            runtime.commit_or_roll_back()
        count = len(document["devices"])
        assert runtime.sandbox.devices.count() == count
        assert runtime.sandbox.seed == document["seed"]
        runtime.reset()
        assert runtime.sandbox.devices.count() == count  # a reset goes back to the old base
        await runtime.deliveries.close()
        runtime.close_state_file()

    asyncio.run(run())
