"""The state file: an SQLite database holding what changed, so a crash loses nothing.

What it keeps:

- ``base``: the scenario last loaded (what a reset goes back to), written once per load;
- ``devices`` and ``families``: what changed over it, one row per changed device and one
  per changed entity family (partners, users, ...), never a whole snapshot;
- ``dr_pieces``: the DR family by the piece (``backends/dr/pieces.py``: its head, each
  event, each member's series and control, each data file), so a change writes what it
  touched, not the ~50 MB of an event over a 100,000-device fleet;
- ``deliveries``: every callback delivery with its status and attempts, so what was
  still owed at a crash is sent after the restart, its attempt count kept;

and beside it, in a file of its own (``FILE.requests``, ``journal_file.py`` says why),
the request journal, trimmed to its cap.

``StateStore.write`` writes what changed since the last commit in one transaction, all
or nothing. The gateway calls it before a response starts, so a change acknowledged with
a 2xx is on disk before the client hears of it, and a change whose commit failed is
rolled back in memory (``Runtime.roll_back``: the state goes back to what the file
holds) before its 500 leaves; the ticker calls it twice a second for what changes
without a request (deliveries, time-driven devices) and hands the journal's new entries
to the journal file's thread. WAL mode with ``synchronous=NORMAL``: a committed
transaction survives the process being killed (SIGKILL, OOM, a container stopped); only
a power cut can lose the last ones.

A database that cannot be used (not SQLite, corrupt, another program's, a newer
version) is refused with a message and left as it was. Older formats are migrated: a
JSON state file (format 1) is read, checked, written into a new database at the same
path, the JSON kept beside it as ``FILE.v1.json``; a version-2 database (the journal in
a table of its own) has its journal moved into ``FILE.requests``; a version-2 or -3
database (the DR family in one ``families`` row) has that row split into pieces.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mockserver import journal_file, json_codec
from mockserver.backends.dr import pieces as dr_pieces
from mockserver.backends.dr.pieces import Key, Piece
from mockserver.journal_file import JournalFileError, JournalWriter

FORMAT = "lgmock-state"
VERSION = 4
FAMILY_ROW_VERSION = 3  # the DR family in one `families` row, rewritten whole per change
JOURNAL_TABLE_VERSION = 2  # the journal in the state database's own `journal` table
LEGACY_VERSION = 1  # the JSON file: one whole snapshot, written every 5 s
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE base (id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL,
                   document TEXT NOT NULL);
CREATE TABLE families (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE devices (device_id TEXT PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE deliveries (id TEXT PRIMARY KEY, message TEXT NOT NULL, status TEXT NOT NULL,
                         attempts TEXT NOT NULL);
"""
# Added by version 4. An upsert keeps a row's place (rowid), so the pieces read back in
# the order of the state they make (dr_pieces.assemble).
DR_PIECES_SCHEMA = """
CREATE TABLE dr_pieces (kind TEXT NOT NULL, event TEXT NOT NULL, item TEXT NOT NULL,
                        value TEXT NOT NULL, PRIMARY KEY (kind, event, item));
"""
UPSERT_DR_PIECE = (
    "INSERT INTO dr_pieces (kind, event, item, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, event, item) DO UPDATE SET value = excluded.value"
)
UPSERT_DEVICE = (
    "INSERT INTO devices (device_id, entry) VALUES (?, ?) "
    "ON CONFLICT (device_id) DO UPDATE SET entry = excluded.entry"
)
TABLES = {"meta", "base", "families", "devices", "deliveries", "dr_pieces"}


class StateFileError(ValueError):
    """A state file that cannot be used; the message says what and where."""


@dataclass
class StoredState:
    """What a state file holds, as read at start."""

    base: dict[str, Any]
    source: str
    families: dict[str, Any] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # in write order
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    journal: list[tuple[int, dict[str, Any], bytes, bytes]] = field(default_factory=list)
    version: int = VERSION
    # Read from a format-1 JSON file: nothing of it is in a database yet.
    legacy: bool = False
    legacy_journal: list[dict[str, Any]] = field(default_factory=list)

    def current(self) -> dict[str, Any]:
        """The scenario document of the state at the last commit: base plus changes."""
        document = {key: value for key, value in self.base.items() if key != "devices"}
        document.update(self.families)
        clock = dict(document.get("clock") or {})
        wall = clock.pop("wallTime", None)
        if wall is not None and not clock.get("frozen") and clock.get("now"):
            # A running clock ran on while the server was down, as the wall clock did.
            moment = datetime.fromisoformat(clock["now"]) + timedelta(seconds=time.time() - wall)
            clock["now"] = moment.isoformat()
        if clock:
            document["clock"] = clock
        devices = []
        seen = set()
        for item in self.base.get("devices") or []:
            device_id = item["deviceId"]
            devices.append(self.devices.get(device_id, item))
            seen.add(device_id)
        devices += [entry for key, entry in self.devices.items() if key not in seen]
        document["devices"] = devices
        return document


@dataclass
class Changes:
    """One commit's worth of rows: ``Runtime.changes()`` builds them, the store writes them."""

    base: tuple[str, dict[str, Any]] | None = None  # a new scenario: (source, document)
    dropped: bool = False  # a reset or a load: the changes over the base are gone
    families: dict[str, Any] = field(default_factory=dict)
    # The DR family by the piece (instead of families["dr"]): the changed ones, the
    # keys of those gone; ``dr_whole``: these are all of them (the old ones go).
    dr_pieces: list[Piece] = field(default_factory=list)
    dr_removed: list[Key] = field(default_factory=list)
    dr_whole: bool = False
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries_cleared: bool = False
    deliveries_new: list[tuple[str, str, str, str]] = field(default_factory=list)
    deliveries_updated: list[tuple[str, str, str]] = field(default_factory=list)
    deliveries_forgotten: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Whether there is anything to write."""
        return bool(
            self.base
            or self.dropped
            or self.families
            or self.dr_pieces
            or self.dr_removed
            or self.dr_whole
            or self.devices
            or self.deliveries_cleared
            or self.deliveries_new
            or self.deliveries_updated
            or self.deliveries_forgotten
        )


class StateStore:
    """An open state database. One per server; used from the event loop only."""

    def __init__(self, path: Path, connection: sqlite3.Connection, journal: JournalWriter) -> None:
        self.path = path
        self._db = connection
        self.journal = journal  # the request journal's file (the journal records to it)

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, path: Path, source: str, document: dict[str, Any]) -> StateStore:
        """A new state database at ``path`` for a scenario, and a new journal file."""
        connection = _create(path, source, document)
        return cls(path, connection, JournalWriter(journal_file.path_for(path), fresh=True))

    @classmethod
    def attach(cls, path: Path, stored: StoredState) -> StateStore:
        """Open the file ``read`` accepted, for writing; an older format is migrated now.

        Called only once the state it holds has loaded, so a file refused for its content
        is never touched.
        """
        journal_path = journal_file.path_for(path)
        if stored.legacy:
            # Built beside the JSON file first: it stays in place until the database
            # holding its content is complete, and is kept as FILE.v1.json. Its journal
            # entries are written by the first tick, as new ones.
            fresh = path.with_name(f".{path.name}.migrating")
            fresh.unlink(missing_ok=True)
            _create(fresh, stored.source, stored.base).close()
            path.with_name(path.name + ".v1.json").write_bytes(path.read_bytes())
            fresh.replace(path)
            return cls(path, _connect(path), JournalWriter(journal_path, fresh=True))
        connection = _connect(path)
        if stored.version == VERSION:
            return cls(path, connection, JournalWriter(journal_path, fresh=False))
        if stored.version == JOURNAL_TABLE_VERSION:
            # The journal file is complete before the table it comes from is dropped: a
            # crash in between leaves a version-2 file, migrated again at the next start.
            rows = [
                (position, _dumps(head), request, response)
                for position, head, request, response in stored.journal
            ]
            journal = JournalWriter(journal_path, fresh=True, rows=rows)
        else:
            journal = JournalWriter(journal_path, fresh=False)
        # One transaction: the file is of the old version, or wholly of this one.
        with connection:
            if stored.version == JOURNAL_TABLE_VERSION:
                connection.execute("DROP TABLE journal")
            connection.execute(DR_PIECES_SCHEMA)
            dr = stored.families.get("dr")
            if dr is not None:
                connection.executemany(UPSERT_DR_PIECE, _piece_rows(dr_pieces.split(dr)))
                connection.execute("DELETE FROM families WHERE name = 'dr'")
            connection.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(VERSION),))
        return cls(path, connection, journal)

    def close(self) -> None:
        self.journal.close()
        # The last connection to close folds the write-ahead log into the file.
        self._db.close()

    # ------------------------------------------------------------------ writing
    def write(self, changes: Changes) -> None:
        """Everything in ``changes``, in one transaction: all of it is written, or (on
        an error, raised) none of it, the file left at its last commit."""
        if changes:
            with self._db:
                self._write(changes)

    def read_back(self) -> StoredState:
        """What the file holds now (its last commit), read through this connection: the
        state a failed commit rolls the server back to. The journal is not read (the
        request journal outlives what the state file rolls back)."""
        return _read(self._db, VERSION)

    def _write(self, changes: Changes) -> None:
        db = self._db
        if changes.base is not None:
            source, document = changes.base
            db.execute(
                "INSERT OR REPLACE INTO base (id, source, document) VALUES (1, ?, ?)",
                (source, _dumps(document)),
            )
        if changes.dropped:
            db.execute("DELETE FROM families")
            db.execute("DELETE FROM devices")
        if changes.dropped or changes.dr_whole:
            db.execute("DELETE FROM dr_pieces")
        if changes.dr_removed:
            db.executemany(
                "DELETE FROM dr_pieces WHERE kind = ? AND event = ? AND item = ?",
                changes.dr_removed,
            )
        if changes.dr_pieces:
            db.executemany(UPSERT_DR_PIECE, _piece_rows(changes.dr_pieces))
        if changes.families:
            db.executemany(
                "INSERT INTO families (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [(name, _dumps(value)) for name, value in changes.families.items()],
            )
        if changes.devices:
            # An upsert keeps a row's place: added devices come back in their order.
            rows = [(key, _dumps(entry)) for key, entry in changes.devices.items()]
            if len(rows) == 1:  # a control's commit: the hot path
                db.execute(UPSERT_DEVICE, rows[0])
            else:
                db.executemany(UPSERT_DEVICE, rows)
        if changes.deliveries_cleared:
            db.execute("DELETE FROM deliveries")
        if changes.deliveries_new:
            db.executemany(
                "INSERT INTO deliveries (id, message, status, attempts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET message = excluded.message,"
                " status = excluded.status, attempts = excluded.attempts",
                changes.deliveries_new,
            )
        if changes.deliveries_updated:
            db.executemany(
                "UPDATE deliveries SET status = ?, attempts = ? WHERE id = ?",
                changes.deliveries_updated,
            )
        if changes.deliveries_forgotten:
            db.executemany(
                "DELETE FROM deliveries WHERE id = ?",
                [(key,) for key in changes.deliveries_forgotten],
            )


def read(path: Path) -> StoredState:
    """What the state file at ``path`` holds; StateFileError if it cannot be used.

    Nothing is written: an SQLite file is read through a read-only connection, so a
    refused file is left exactly as it was.
    """
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read: {exc.strerror}") from exc
    if magic != SQLITE_MAGIC:
        data = read_legacy(path)
        return StoredState(
            base=data["scenario"],
            source=f"{path} (migrated from format {LEGACY_VERSION})",
            deliveries=data["callbacks"],
            legacy=True,
            legacy_journal=data["journal"],
        )
    try:
        reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = _check(path, reader)
            stored = _read(reader, version)
        finally:
            reader.close()
        if version != JOURNAL_TABLE_VERSION:
            stored.journal = journal_file.read(journal_file.path_for(path))
        return stored
    except JournalFileError as exc:
        raise StateFileError(str(exc)) from exc
    except StateFileError:
        raise
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise StateFileError(
                f"{path}: in use by another process (another lgmock serve?): {exc}"
            ) from exc
        raise StateFileError(f"{path}: not a usable state database: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StateFileError(f"{path}: not a usable state database: {exc}") from exc
    except (ValueError, TypeError) as exc:  # rows that are not what this lgmock wrote
        raise StateFileError(f"{path}: unreadable rows: {exc}") from exc


def _create(path: Path, source: str, document: dict[str, Any]) -> sqlite3.Connection:
    """A new state database at ``path`` holding a scenario as its base, in one transaction."""
    path.resolve().parent.mkdir(parents=True, exist_ok=True)
    connection = _connect(path)
    connection.executescript(SCHEMA + DR_PIECES_SCHEMA)
    with connection:
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("format", FORMAT), ("version", str(VERSION))],
        )
        connection.execute(
            "INSERT INTO base (id, source, document) VALUES (1, ?, ?)", (source, _dumps(document))
        )
    return connection


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (``with db``), never implicit.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # One server per state file: the lock is taken at the first write and held until
    # the file is closed, so a second `lgmock serve` on the same file is refused; it
    # also spares every commit the shared-memory locking (about half its time).
    connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.isolation_level = "DEFERRED"
    return connection


def _check(path: Path, db: sqlite3.Connection) -> int:
    """The version of the usable state database ``db``; StateFileError if it is not one."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        raise StateFileError(f"{path}: an SQLite database, but not an lgmock state file")
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("format") != FORMAT:
        raise StateFileError(f"{path}: not an lgmock state file (no format: {FORMAT})")
    readable = (VERSION, FAMILY_ROW_VERSION, JOURNAL_TABLE_VERSION)
    if meta.get("version") not in [str(version) for version in readable]:
        raise StateFileError(
            f"{path}: state file version {meta.get('version')!r}, this lgmock reads {VERSION}"
            f" (and migrates {FAMILY_ROW_VERSION}, {JOURNAL_TABLE_VERSION} and {LEGACY_VERSION})"
        )
    version = int(meta["version"])
    required = TABLES if version == VERSION else TABLES - {"dr_pieces"}
    if version == JOURNAL_TABLE_VERSION:
        required |= {"journal"}
    missing = required - tables
    if missing:
        raise StateFileError(f"{path}: state file lacks tables {sorted(missing)}")
    problems = [row[0] for row in db.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise StateFileError(f"{path}: the database is corrupt: {'; '.join(problems[:5])}")
    return version


def _read(db: sqlite3.Connection, version: int) -> StoredState:
    source, document = db.execute("SELECT source, document FROM base WHERE id = 1").fetchone()
    stored = StoredState(base=json_codec.loads(document), source=source, version=version)
    stored.families = {
        name: json_codec.loads(value)
        for name, value in db.execute("SELECT name, value FROM families")
    }
    if version == VERSION:
        pieces = [
            (kind, event, item, json_codec.loads(value))
            for kind, event, item, value in db.execute(
                "SELECT kind, event, item, value FROM dr_pieces ORDER BY rowid"
            )
        ]
        if pieces:
            stored.families["dr"] = dr_pieces.assemble(pieces)
    stored.devices = {
        key: json_codec.loads(entry)
        for key, entry in db.execute("SELECT device_id, entry FROM devices ORDER BY rowid")
    }
    for message, status, attempts in db.execute(
        "SELECT message, status, attempts FROM deliveries ORDER BY rowid"
    ):
        stored.deliveries.append(
            {**json_codec.loads(message), "status": status, "attempts": json_codec.loads(attempts)}
        )
    if version == JOURNAL_TABLE_VERSION:
        stored.journal = [
            (position, json_codec.loads(head), request or b"", response or b"")
            for position, head, request, response in db.execute(
                "SELECT position, head, request_body, response_body FROM journal ORDER BY position"
            )
        ]
    return stored


def _piece_rows(pieces: Iterable[Piece]) -> list[tuple[str, str, str, str]]:
    return [(kind, event, item, _dumps(value)) for kind, event, item, value in pieces]


def _dumps(value: Any) -> str:
    # orjson: the commit before a control's answer is on the hot path (docs/durability.md).
    return json_codec.dumps(value).decode()


def delivery_rows(items: Iterable[Any]) -> list[tuple[str, str, str, str]]:
    """Rows for new deliveries (``Delivery`` objects): the message once, then its progress."""
    rows = []
    for delivery in items:
        data = delivery.to_dict()
        status, attempts = data.pop("status"), data.pop("attempts")
        rows.append((delivery.id, _dumps(data), status, _dumps(attempts)))
    return rows


def delivery_progress(items: Iterable[Any]) -> list[tuple[str, str, str]]:
    return [(d.status, _dumps([a.to_dict() for a in d.attempts]), d.id) for d in items]


# ---------------------------------------------------------------------- format 1 (JSON)


def read_legacy(path: Path) -> dict[str, Any]:
    """A JSON state file of format 1, checked; StateFileError when it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateFileError(f"{path}: not a valid state file (corrupt JSON: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateFileError(f"{path}: not an lgmock state file (no format: {FORMAT})")
    if data.get("version") != LEGACY_VERSION:
        raise StateFileError(
            f"{path}: state file version {data.get('version')!r}, this lgmock reads "
            f"{VERSION} (and migrates {LEGACY_VERSION})"
        )
    for key, kind in (("scenario", dict), ("journal", list), ("callbacks", list)):
        if not isinstance(data.get(key), kind):
            raise StateFileError(f"{path}: {key} is missing or not a {kind.__name__}")
    return data
