"""The SQLite state file on its own: rows in, rows out, refusals that touch nothing."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mockserver import journal_file
from mockserver.backends.dr import pieces as dr_pieces
from mockserver.journal import JournalEntry
from mockserver.persistence import (
    FAMILY_ROW_VERSION,
    VERSION,
    Changes,
    StateFileError,
    StateStore,
    StoredState,
    read,
)

BASE = {
    "seed": 7,
    "clock": {"now": "2031-01-01T00:00:00+00:00", "frozen": True},
    "partners": [{"partnerId": "p"}],
    "devices": [{"deviceId": "a", "alias": "A"}, {"deviceId": "b", "alias": "B"}],
}


def store_at(tmp_path: Path) -> tuple[Path, StateStore]:
    path = tmp_path / "state.db"
    return path, StateStore.create(path, "base.yaml", BASE)


def reopen(path: Path, store: StateStore) -> tuple[StoredState, StateStore]:
    """Close (the server holds the file's lock while open), read, open again."""
    store.close()
    stored = read(path)
    return stored, StateStore.attach(path, stored)


def test_a_file_in_use_by_a_server_is_refused(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(devices={"a": {"deviceId": "a"}}))
    with pytest.raises(StateFileError, match="in use by another process"):
        read(path)
    store.close()
    assert read(path).devices == {"a": {"deviceId": "a"}}


def test_changes_over_the_base_come_back_as_the_current_document(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(
        Changes(
            families={"partners": [{"partnerId": "p", "callbackUrl": "http://x"}]},
            devices={"b": {"deviceId": "b", "alias": "B2"}, "c": {"deviceId": "c"}},
        )
    )
    store.write(Changes(devices={"a": {"deviceId": "a", "alias": "A2"}}))
    store.close()
    stored = read(path)
    assert stored.base == BASE and stored.source == "base.yaml"
    current = stored.current()
    # Changed devices keep their place; an added one comes after the scenario's.
    assert current["devices"] == [
        {"deviceId": "a", "alias": "A2"},
        {"deviceId": "b", "alias": "B2"},
        {"deviceId": "c"},
    ]
    assert current["partners"] == [{"partnerId": "p", "callbackUrl": "http://x"}]
    assert current["seed"] == 7


def test_dropping_changes_and_a_new_base(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(devices={"a": {"deviceId": "a", "alias": "A2"}}))
    store.write(Changes(dropped=True))
    stored, store = reopen(path, store)
    assert stored.current()["devices"] == BASE["devices"]
    store.write(Changes(base=("other.yaml", {"seed": 1, "devices": []}), dropped=True))
    stored, store = reopen(path, store)
    store.close()
    assert stored.source == "other.yaml" and stored.current() == {"seed": 1, "devices": []}


def test_a_running_clock_runs_on_while_the_server_is_down(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    clock = {"now": "2031-01-01T00:00:00+00:00", "frozen": False, "wallTime": 1000.0}
    store.write(Changes(families={"clock": clock}))
    stored, store = reopen(path, store)
    assert stored.current()["clock"]["now"] > "2031-01-01T00:00:01"
    assert "wallTime" not in stored.current()["clock"]
    store.write(Changes(families={"clock": {**clock, "frozen": True}}))
    stored, store = reopen(path, store)
    store.close()
    assert stored.current()["clock"] == {"now": clock["now"], "frozen": True}


def test_delivery_rows(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    message = json.dumps({"id": "cb-1", "url": "http://r", "body": {"x": 1}})
    store.write(Changes(deliveries_new=[("cb-1", message, "pending", "[]")]))
    store.write(
        Changes(
            deliveries_updated=[("pending", '[{"outcome": "connect error"}]', "cb-1")],
        )
    )
    stored, store = reopen(path, store)
    assert stored.deliveries == [
        {
            "id": "cb-1",
            "url": "http://r",
            "body": {"x": 1},
            "status": "pending",
            "attempts": [{"outcome": "connect error"}],
        }
    ]
    store.write(Changes(deliveries_forgotten=["cb-1"]))
    stored, store = reopen(path, store)
    store.close()
    assert stored.deliveries == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00garbage" * 100), "not a usable"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit(),
            "not an lgmock state file",
        ),
        (lambda p: p.write_text("{not json"), "corrupt JSON"),
    ],
)
def test_unusable_files_are_refused_and_left_as_they_were(tmp_path, make, reason) -> None:
    path = tmp_path / "state.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(StateFileError, match=reason):
        read(path)
    assert path.read_bytes() == before


def test_a_newer_version_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    with store._db:
        store._db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(VERSION + 1),))
    store.close()
    before = path.read_bytes()
    with pytest.raises(
        StateFileError, match=f"version '{VERSION + 1}', this lgmock reads {VERSION}"
    ):
        read(path)
    assert path.read_bytes() == before


def test_a_corrupt_page_is_found(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(
        Changes(devices={f"d{n}": {"deviceId": f"d{n}", "pad": "x" * 500} for n in range(200)})
    )
    store.close()
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xa5" * 4096  # one page of noise
    path.write_bytes(bytes(data))
    with pytest.raises(StateFileError):
        read(path)


def test_a_format_1_json_file_is_read_for_migration(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    legacy = {
        "format": "lgmock-state",
        "version": 1,
        "scenario": BASE,
        "journal": [],
        "callbacks": [],
    }
    path.write_text(json.dumps(legacy))
    stored = read(path)
    assert stored.legacy and stored.base == BASE
    StateStore.attach(path, stored).close()
    assert json.loads(path.with_name("state.json.v1.json").read_text()) == legacy
    assert read(path).base == BASE and not read(path).legacy


def made(position: int) -> JournalEntry:
    """An entry whose raw bodies are bytes of any kind, not always JSON."""
    return JournalEntry(
        id=position,
        at="2031-01-01T00:00:00.000000",
        api="business-connect",
        operation_id="getDevice",
        caller="p",
        method="GET",
        path=f"/bc/v1/devices/{position}",
        query="",
        request_headers={"x-message-id": "m"},
        request_body=bytes([position, 0xFF]) * position,
        status=200,
        response_body=b"{}" if position % 2 else b"",
    )


def record(store: StateStore, *positions: int, first_kept: int = 1) -> None:
    for position in positions:
        store.journal.record(position, made(position))
    store.journal.flush(first_kept)


def expected(*positions: int) -> list[tuple[int, dict, bytes, bytes]]:
    return [(n, made(n).head(), made(n).request_body, made(n).response_body) for n in positions]


def journal_rows(*positions: int) -> list[tuple[int, str, bytes, bytes]]:
    return [
        (n, json.dumps({"id": n}), bytes([n, 0xFF]) * n, b"{}" if n % 2 else b"") for n in positions
    ]


def test_the_journal_lives_in_its_own_file_written_in_batches(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    record(store, 1, 2)
    record(store, 3)
    stored, store = reopen(path, store)
    # Raw bytes come back as they were written, whatever they are.
    assert stored.journal == expected(1, 2, 3)
    # Past the cap, whole batches that fell off it go; a cleared journal starts empty.
    record(store, 4, first_kept=3)
    stored, store = reopen(path, store)
    assert [row[0] for row in stored.journal] == [3, 4]
    store.journal.record(5, made(5))
    store.journal.cleared()
    record(store, 6)
    stored, store = reopen(path, store)
    store.close()
    assert [row[0] for row in stored.journal] == [6]
    with closing(sqlite3.connect(path)) as db:  # the state database holds no journal bytes
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'journal'").fetchone()


def test_a_version_2_file_has_its_journal_moved_out(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(devices={"a": {"deviceId": "a", "alias": "changed"}}))
    store.close()
    # Version 2 was this schema with the journal in a table of the state database.
    journal_file.path_for(path).unlink()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TABLE journal (position INTEGER PRIMARY KEY, head TEXT NOT NULL,"
            " request_body BLOB, response_body BLOB)"
        )
        db.executemany("INSERT INTO journal VALUES (?, ?, ?, ?)", journal_rows(7, 8))
        db.execute("DROP TABLE dr_pieces")  # added by version 4
        db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    stored = read(path)
    assert stored.version == 2 and [row[0] for row in stored.journal] == [7, 8]
    StateStore.attach(path, stored).close()
    again = read(path)
    assert again.version == VERSION
    assert again.journal == stored.journal and again.devices == stored.devices
    with closing(sqlite3.connect(path)) as db:
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'journal'").fetchone()


def test_a_missing_journal_file_starts_an_empty_journal(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    record(store, 1)
    store.close()
    journal_file.path_for(path).unlink()
    assert read(path).journal == []


def test_an_unreadable_journal_file_is_refused_and_both_files_left_as_they_were(
    tmp_path: Path,
) -> None:
    path, store = store_at(tmp_path)
    store.close()
    journal = journal_file.path_for(path)
    journal.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)
    before = path.read_bytes(), journal.read_bytes()
    with pytest.raises(StateFileError, match=f"{journal.name}.*delete {journal.name}"):
        read(path)
    assert (path.read_bytes(), journal.read_bytes()) == before


def test_a_new_state_file_does_not_take_an_old_journal_beside_it(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    record(store, 1)
    store.close()
    assert read(path).journal == expected(1)
    path.unlink()  # the state file is gone; its journal file is not
    StateStore.create(path, "base.yaml", BASE).close()
    assert read(path).journal == []


# ---------------------------------------------------------------------- DR by the piece

DR = {
    "fileSecret": "secret",
    "groups": [{"groupId": "g", "partnerId": "p"}],
    "users": [{"userNo": "u1", "groupId": "g"}],
    "events": [
        {
            "eventId": f"e{n}",
            "partnerId": "p",
            "targets": [{"targetType": "GROUP", "targetIds": ["g"], "opt": "IN"}],
            "progress": {
                "phase": "active",
                "nextSampleTs": 5,
                "controls": {f"d{i}": [{"resource": "temperature"}] for i in range(3)},
                "series": {f"d{i}": {"userNo": "u1", "rows": [{"epochMs": i}]} for i in range(4)},
            },
        }
        for n in (1, 2)
    ],
    "files": [{"fileName": "f.zip", "eventId": "e1", "content": "UEs="}],
}


def dr_rows(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return [tuple(row) for row in db.execute("SELECT kind, event, item FROM dr_pieces")]


def test_the_dr_family_is_stored_by_the_piece_and_read_back_whole(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(dr_pieces=dr_pieces.split(DR), dr_whole=True))
    stored, store = reopen(path, store)
    assert stored.families["dr"] == DR
    assert json.dumps(stored.families["dr"]) == json.dumps(DR)  # in its order too
    store.close()
    rows = dr_rows(path)
    assert len(rows) == 1 + 2 * (1 + 3 + 4) + 1  # head, events, controls, series, file
    assert ("series", "e2", "d3") in rows and ("control", "e1", "d0") in rows


def test_a_change_writes_its_pieces_and_deletes_those_gone(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(dr_pieces=dr_pieces.split(DR), dr_whole=True))
    series = {"userNo": "u1", "rows": [{"epochMs": 2}, {"epochMs": 9}]}
    before = store._db.total_changes
    store.write(
        Changes(
            dr_pieces=[("series", "e2", "d2", series)],
            dr_removed=[("control", "e1", "d1")],
        )
    )
    assert store._db.total_changes - before == 2  # one row written, one deleted
    stored, store = reopen(path, store)
    expected = json.loads(json.dumps(DR))
    expected["events"][1]["progress"]["series"]["d2"] = series
    del expected["events"][0]["progress"]["controls"]["d1"]
    assert json.dumps(stored.families["dr"]) == json.dumps(expected)  # its place kept
    # A reset: the pieces over the old base are gone with the other changes.
    store.write(Changes(dropped=True, dr_pieces=[dr_pieces.split(DR)[0]], dr_whole=True))
    stored, store = reopen(path, store)
    assert stored.families["dr"] == {**DR, "events": [], "files": []}
    store.close()


def test_a_version_3_file_has_its_dr_family_row_split_into_pieces(tmp_path: Path) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(families={"partners": [{"partnerId": "p"}]}))
    store.close()
    # Version 3 held the DR family as one row of `families`, and had no dr_pieces.
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TABLE dr_pieces")
        db.execute("INSERT INTO families (name, value) VALUES ('dr', ?)", (json.dumps(DR),))
        db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(FAMILY_ROW_VERSION),))
    stored = read(path)
    assert stored.version == FAMILY_ROW_VERSION and stored.families["dr"] == DR
    StateStore.attach(path, stored).close()
    again = read(path)
    assert again.version == VERSION
    assert again.families == stored.families
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT name FROM families").fetchall() == [("partners",)]
    assert len(dr_rows(path)) == 18


def test_a_piece_of_an_unknown_kind_is_refused_and_the_file_left_as_it_was(
    tmp_path: Path,
) -> None:
    path, store = store_at(tmp_path)
    store.write(Changes(dr_pieces=[("nonsense", "", "", {})]))
    store.close()
    before = path.read_bytes()
    with pytest.raises(StateFileError, match="unreadable rows.*unknown kind 'nonsense'"):
        read(path)
    assert path.read_bytes() == before
