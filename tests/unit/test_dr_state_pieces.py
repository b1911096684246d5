"""The DR family in the state file by the piece: each change writes what it touched, and
the pieces read back give exactly the state the sandbox had.

A real state file under a Runtime, DR calls made on the backend, a restore from the file
after each step compared with the state before it.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from mockserver import generator, persistence, scenario
from mockserver.backends.dr import checks
from mockserver.backends.dr.pieces import CONTROL, EVENT, SERIES
from mockserver.runtime import Runtime
from tests.support import fleet_dr_event

NOW = "2026-03-02T09:00:00+00:00"


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    document = generator.generate(240, seed=3)
    document["clock"] = {"now": NOW, "frozen": True}
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def canonical(runtime: Runtime) -> str:
    return json.dumps(scenario.export(runtime.sandbox), sort_keys=True)


def restored(runtime: Runtime, path: Path) -> Runtime:
    """Close the state file, check what it holds, start again from it: the same state."""
    runtime.commit()
    before = canonical(runtime)
    dr = runtime.sandbox.dr.export()
    runtime.close_state_file()
    assert persistence.read(path).families["dr"] == dr
    again = Runtime.from_state_file(path)
    assert canonical(again) == before
    return again


def partner_of(runtime: Runtime) -> str:
    return next(iter(runtime.sandbox.accounts.partners))


def air_conditioners(runtime: Runtime) -> list[str]:
    return [
        info.device_id
        for device_id in runtime.sandbox.devices.ids()
        if (info := runtime.sandbox.devices.info(device_id)).device_type == "DEVICE_AIR_CONDITIONER"
    ]


def with_fleet_event(path: Path, scenario_file: Path) -> tuple[Runtime, dict[str, Any]]:
    """A runtime with a new state file, and an event over its whole fleet open."""
    runtime = Runtime.with_state_file(path, scenario_file)
    document = json.loads(scenario_file.read_text())
    now_ms = int(runtime.sandbox.clock.timestamp() * 1000)
    runtime.sandbox.dr.put_event(partner_of(runtime), fleet_dr_event(document, now_ms))
    return runtime, document


def advance(runtime: Runtime, seconds: int) -> None:
    """What POST /_sandbox/clock does."""
    runtime.sandbox.clock.advance(seconds)
    runtime.sandbox.changed("clock")


def written_by_commit(runtime: Runtime) -> tuple[persistence.Changes, int]:
    """Commit, and say what the commit wrote: its rows, and SQLite's count of rows changed."""
    assert runtime.store is not None
    taken: list[persistence.Changes] = []
    write = runtime.store.write

    def spy(changes: persistence.Changes) -> None:
        taken.append(changes)
        write(changes)

    runtime.store.write = spy  # type: ignore[method-assign]
    db = runtime.store._db
    rows_before = db.total_changes
    try:
        runtime.commit()
    finally:
        del runtime.store.write
    return (taken[0] if taken else persistence.Changes()), db.total_changes - rows_before


def test_every_dr_change_is_stored_by_the_piece_and_restored_exactly(
    tmp_path: Path, scenario_file: Path
) -> None:
    path = tmp_path / "state.db"
    runtime, document = with_fleet_event(path, scenario_file)
    partner = partner_of(runtime)
    runtime = restored(runtime, path)
    event = runtime.sandbox.dr.events["fleet-peak"]
    assert len(event.controls) == len(air_conditioners(runtime)) > 10

    # A control of one member: its series and control, its device row, nothing else.
    member = air_conditioners(runtime)[3]
    runtime.sandbox.tick()
    runtime.commit()
    runtime.sandbox.devices.control(member, {"temperature": {"targetTemperature": 18}})
    runtime.sandbox.tick()  # the event takes it back within its bounds
    changes, rows = written_by_commit(runtime)
    assert [key[:3] for key in changes.dr_pieces] == [
        (SERIES, "fleet-peak", member),
        (CONTROL, "fleet-peak", member),
    ]
    assert not changes.dr_removed and not changes.dr_whole and not changes.families
    assert set(changes.devices) == {member}
    assert rows == 3  # two pieces and the device's row
    runtime = restored(runtime, path)

    # Time: interval rows for every member, then the window ends and restores them.
    advance(runtime, 11 * 60)
    runtime.sandbox.tick()
    runtime = restored(runtime, path)

    # Targets opted out: controls released (their rows deleted), the event rewritten.
    group = document["dr"]["groups"][0]["groupId"]
    runtime.sandbox.dr.update_target(partner, "fleet-peak", group, "OUT")
    changes, _ = written_by_commit(runtime)
    assert (EVENT, "fleet-peak", "") in {key[:3] for key in changes.dr_pieces}
    assert {key[0] for key in changes.dr_removed} == {CONTROL}
    runtime = restored(runtime, path)
    assert not runtime.sandbox.dr.events["fleet-peak"].controls

    runtime.sandbox.dr.update_target(partner, "fleet-peak", group, "IN")
    runtime.sandbox.dr.create_file(partner, checks.ZipRequest("fleet-peak", None))
    runtime = restored(runtime, path)
    assert len(runtime.sandbox.dr.files) == 1

    user = document["dr"]["users"][0]["userNo"]
    runtime.sandbox.dr.delete_user(partner, user)
    runtime = restored(runtime, path)
    assert user not in runtime.sandbox.dr.users

    advance(runtime, 2 * 3600)
    runtime.sandbox.tick()
    runtime = restored(runtime, path)
    assert runtime.sandbox.dr.events["fleet-peak"].phase == "finished"

    # A reset: every piece over the old state is gone, the scenario's come back.
    runtime.reset()
    changes, _ = written_by_commit(runtime)
    assert changes.dr_whole
    runtime = restored(runtime, path)
    assert runtime.sandbox.dr.events == {}
    runtime.close_state_file()


def test_a_dr_call_that_changes_nothing_writes_nothing(tmp_path: Path, scenario_file: Path) -> None:
    path = tmp_path / "state.db"
    runtime, document = with_fleet_event(path, scenario_file)
    runtime.sandbox.tick()
    runtime.commit()
    runtime.sandbox.tick()  # the same instant, nothing touched
    changes, rows = written_by_commit(runtime)
    assert not changes.dr_pieces and not changes.dr_removed and rows == 0
    runtime.close_state_file()


def pieces_of(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return [tuple(row) for row in db.execute("SELECT kind, event, item FROM dr_pieces")]


def test_pieces_of_a_fleet_event_are_rows_of_their_own(tmp_path: Path, scenario_file: Path) -> None:
    path = tmp_path / "state.db"
    runtime, document = with_fleet_event(path, scenario_file)
    runtime.close_state_file()
    kinds = [key[0] for key in pieces_of(path)]
    members = len(persistence.read(path).families["dr"]["events"][0]["progress"]["series"])
    assert kinds.count("head") == 1 and kinds.count("event") == 1
    assert kinds.count("series") == members == len(document["devices"])
    assert kinds.count("control") == len(
        [d for d in document["devices"] if d["deviceType"] == "DEVICE_AIR_CONDITIONER"]
    )
