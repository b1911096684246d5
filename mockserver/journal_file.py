"""The request journal on disk: an SQLite file of its own beside the state file,
written by a thread.

Why apart from the state database: every journaled call is a row of raw bodies (up to
64 KB each, about 2 KB for a device status), 15 MB/s at full load. In the state
database those bytes filled the write-ahead log, and every request's commit paid for
the checkpoints they forced: `--state-file` cost a control 65% more CPU
(`benchmarks/bench_devices.py --state-file`). Here they go to ``FILE.requests``:

- in SQLite's rollback-journal mode, where appended pages are written once (a WAL
  writes them twice: log, then checkpoint), with ``synchronous=FULL`` (two commits a
  second can afford the fsyncs, so a power cut cannot corrupt it either);
- one row per batch (what the ticker hands over every 0.5 s), so a commit is one
  statement: the thread holds Python's GIL for a handful of calls while SQLite's C
  code does the work. The event loop encodes each entry as the journal takes it (a
  few µs per call), never a whole half second's worth at once, which stalled every
  request waiting behind it.

The journal records calls; what they changed is in the state file, committed before
their answers. A crash loses at most the journal entries of its last half second.
"""

from __future__ import annotations

import itertools
import logging
import queue
import sqlite3
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver import json_codec
from mockserver.journal import JournalEntry

log = logging.getLogger("lgmock")

FORMAT = "lgmock-journal"
VERSION = 1
SUFFIX = ".requests"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE batches (first INTEGER PRIMARY KEY, last INTEGER NOT NULL,
                      entries BLOB NOT NULL);
"""
# Each entry in a batch: three lengths, then its head (JSON), request and response bodies.
FRAME = struct.Struct("<III")

# (position, head as JSON, request body, response body): a version-2 state file's rows.
Row = tuple[int, str, bytes, bytes]


class JournalFileError(ValueError):
    """A journal file that cannot be read; the message says what and how to go on."""


def path_for(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + SUFFIX)


def frame(head: bytes, request: bytes, response: bytes) -> tuple[bytes, ...]:
    return FRAME.pack(len(head), len(request), len(response)), head, request, response


def encode(rows: Iterable[Row]) -> bytes:
    parts: list[bytes] = []
    for _, head, request, response in rows:
        parts += frame(head.encode(), request, response)
    return b"".join(parts)


def decode(first: int, blob: bytes) -> Iterator[tuple[int, dict[str, Any], bytes, bytes]]:
    view, offset = memoryview(blob), 0
    for position in itertools.count(first):
        if offset >= len(blob):
            return
        parts = []
        sizes = FRAME.unpack_from(view, offset)
        offset += FRAME.size
        for size in sizes:
            parts.append(bytes(view[offset : offset + size]))
            offset += size
        head, request, response = parts
        yield position, json_codec.loads(head), request, response


def read(path: Path) -> list[tuple[int, dict[str, Any], bytes, bytes]]:
    """The entries stored at ``path`` in order ([] when there is no file); read-only,
    unless a crash left a commit half done (``_open_for_reading``)."""
    if not path.exists():
        return []
    hint = f"(delete {path.name} to start with an empty request journal)"
    try:
        reader = _open_for_reading(path)
        try:
            meta = dict(reader.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != FORMAT or meta.get("version") != str(VERSION):
                raise JournalFileError(
                    f"{path}: not an lgmock request journal of version {VERSION} {hint}"
                )
            entries = []
            for first, blob in reader.execute("SELECT first, entries FROM batches ORDER BY first"):
                entries.extend(decode(first, blob))
            return entries
        finally:
            reader.close()
    except JournalFileError:
        raise
    except sqlite3.DatabaseError as exc:
        raise JournalFileError(f"{path}: not a usable request journal: {exc} {hint}") from exc
    except (struct.error, ValueError, TypeError) as exc:
        raise JournalFileError(f"{path}: unreadable entries: {exc} {hint}") from exc


def _open_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection, or a writable one when the rollback journal of a commit
    that never ended lies beside the file (a crash in the middle of the thread's commit):
    SQLite plays that "hot" journal back at the first read, restoring the last committed
    state, which a read-only connection may not do ("attempt to write a readonly
    database"), and the start would refuse a file that lost nothing. The play-back is
    all that is written."""
    if path.with_name(path.name + "-journal").exists():
        return sqlite3.connect(path)
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


@dataclass
class _Batch:
    cleared: bool
    first: int  # the position of its first entry (0: no entries)
    last: int
    entries: bytes  # encode()d on the event loop: the thread runs no per-entry Python
    oldest: int | None  # rows before this position fell off the journal's cap


class JournalWriter:
    """Keeps the journal in its file: ``record`` and ``flush`` on the event loop (they
    never wait), the writing on a thread of its own with the file's connection."""

    def __init__(self, path: Path, *, fresh: bool, rows: list[Row] | None = None) -> None:
        """Open the journal file at ``path``; ``fresh``: start it anew (with ``rows``, a
        migrated file's, written before this returns), else go on with what it holds."""
        self.path = path
        if fresh:  # a journal left beside a state file since replaced is not its own
            path.unlink(missing_ok=True)
            path.with_name(path.name + "-journal").unlink(missing_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=FULL")
        self._db = db
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            with db:
                db.execute("BEGIN")
                for statement in SCHEMA.strip().split(";\n"):
                    db.execute(statement)
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("version", str(VERSION))],
                )
        if rows:
            self._write([_Batch(False, rows[0][0], rows[-1][0], encode(rows), None)])
        # What the journal took since the last flush, encoded (the Recorder protocol).
        self._parts: list[bytes] = []
        self._first = self._last = 0
        self._cleared = False
        self._oldest = 1
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lgmock-journal", daemon=True)
        self._thread.start()

    def record(self, position: int, entry: JournalEntry) -> None:
        """An entry the journal took; encoded now, on the event loop.

        Not on the thread: it must not run Python for long. Whenever the event loop lets
        go of the GIL (for each SQLite call of a request's commit), a thread that holds
        it keeps it up to 5 ms (sys.getswitchinterval()), the loop waiting.
        """
        head = json_codec.dumps(entry.head())
        self._parts += frame(head, entry.request_body, entry.response_body)
        if not self._first:
            self._first = position
        self._last = position

    def cleared(self) -> None:
        self._parts, self._first, self._cleared = [], 0, True

    def flush(self, first_kept: int) -> None:
        """Hand what was recorded to the thread; ``first_kept``: entries before this
        position fell off the journal's cap, and go from the file too."""
        oldest = first_kept if first_kept > self._oldest else None
        if self._parts or self._cleared or oldest is not None:
            entries = b"".join(self._parts)
            self._queue.put(_Batch(self._cleared, self._first, self._last, entries, oldest))
            self._parts, self._first, self._cleared = [], 0, False
            self._oldest = max(self._oldest, first_kept)

    def close(self, timeout: float = 30.0) -> None:
        """Write what was handed over, then close the file."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the request journal %s was not written within %s s", self.path, timeout)
            return
        self._db.close()

    def _run(self) -> None:
        while True:
            batches = [self._queue.get()]
            while not self._queue.empty():  # what piled up while the last one was written
                batches.append(self._queue.get())
            stop = batches[-1] is None
            try:
                self._write([batch for batch in batches if batch is not None])
            except Exception:  # the thread must live on, or every later batch piles up
                # The calls' changes are in the state file already; losing their journal
                # entries is logged, and must not stop the server.
                log.exception("request journal %s not written", self.path)
            if stop:
                return

    def _write(self, batches: list[_Batch]) -> None:
        if not batches:
            return
        with self._db as db:
            db.execute("BEGIN")
            for batch in batches:
                if batch.cleared:
                    db.execute("DELETE FROM batches")
                if batch.entries:
                    db.execute(
                        "INSERT OR REPLACE INTO batches (first, last, entries) VALUES (?, ?, ?)",
                        (batch.first, batch.last, batch.entries),
                    )
                if batch.oldest is not None:
                    db.execute("DELETE FROM batches WHERE last < ?", (batch.oldest,))
