"""The request journal's file after a crash in the middle of one of its commits.

The fault suite's ``kill -9`` rounds found it: a server killed while its journal thread
was committing left ``FILE.requests-journal`` (SQLite's rollback journal, "hot"), and
the next start refused the state file ("not a usable request journal: attempt to write
a readonly database"), because the journal file was read through a read-only
connection, which may not play a hot journal back.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from mockserver import journal_file
from mockserver.journal import JournalEntry


def entry(number: int) -> JournalEntry:
    return JournalEntry.from_dict(
        {
            "id": f"r{number}",
            "at": "2030-01-01T00:00:00",
            "api": "bc",
            "request": {"method": "GET", "path": f"/bc/v1/devices/{number}", "body": None},
            "response": {"status": 200, "body": {"n": number}},
        }
    )


def killed_in_the_middle_of_a_commit(path: Path) -> None:
    """A process that dies (no cleanup, as with SIGKILL) while its commit rewrites the
    file: a transaction larger than its page cache spills pages into the database file
    before the commit, so the rollback journal beside it is needed to undo them."""
    if os.fork() == 0:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA cache_size=1")
        db.execute("BEGIN")
        db.execute("DELETE FROM batches")
        db.execute("INSERT INTO batches VALUES (100, 100, ?)", (b"x" * 400_000,))
        os._exit(0)
    os.wait()


def test_a_hot_rollback_journal_is_played_back_and_the_entries_read(tmp_path: Path) -> None:
    path = tmp_path / "state.db.requests"
    writer = journal_file.JournalWriter(path, fresh=True)
    for number in (1, 2, 3):
        writer.record(number, entry(number))
    writer.flush(1)
    writer.close()
    committed = journal_file.read(path)
    assert [position for position, *_ in committed] == [1, 2, 3]

    killed_in_the_middle_of_a_commit(path)
    assert path.with_name(path.name + "-journal").exists()  # hot: the commit never ended

    assert journal_file.read(path) == committed  # the last committed state, nothing lost
    # And the file goes on as before: the next start appends to it.
    writer = journal_file.JournalWriter(path, fresh=False)
    writer.record(4, entry(4))
    writer.flush(1)
    writer.close()
    assert [position for position, *_ in journal_file.read(path)] == [1, 2, 3, 4]
