"""``lgmock serve`` whose state-file commits fail, while a switch file exists, the way
SQLite's fail when the disk does: ``sqlite3.OperationalError: disk I/O error``, the
transaction rolled back.

Run as ``python -m tests.faults.failing_commits serve ...`` with

- ``LGMOCK_FAULT_DB``: the state file whose commits may fail (other databases, such as
  the request journal's file, are left alone);
- ``LGMOCK_FAULT_SWITCH``: a path; commits fail only while it exists, so a test turns the
  faults on and off without a restart (the disk fails, then is repaired);
- ``LGMOCK_FAULT_RATE``: the share of commits that fail while it exists (0..1);
- ``LGMOCK_FAULT_SEED``: which ones (a seeded draw per commit).

Why this injection, and not another: SQLite's own I/O-error tests make the VFS fail a
chosen write or sync, and the commit then fails and is rolled back; Python's sqlite3
module cannot swap the VFS, and a preloaded C shim failing ``write(2)`` would be one
more compiled part to keep. The connection to the state file is made of a subclass whose
commit (the end of a ``with connection:`` block, or ``commit()``) rolls the transaction
back and raises exactly what SQLite raises, after every statement of the transaction
ran: what lgmock sees is what a failed disk gives it. Nothing in lgmock knows about it.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

STATE_FILE = Path(os.environ["LGMOCK_FAULT_DB"]).resolve()
SWITCH = Path(os.environ["LGMOCK_FAULT_SWITCH"])
RATE = float(os.environ.get("LGMOCK_FAULT_RATE", "0.3"))
_draws = random.Random(int(os.environ.get("LGMOCK_FAULT_SEED", "0")))
_connect = sqlite3.connect


def failing_now() -> bool:
    return SWITCH.exists() and _draws.random() < RATE


class FailingCommits(sqlite3.Connection):
    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> Any:
        if kind is None and self.in_transaction and failing_now():
            super().__exit__(sqlite3.OperationalError, None, None)  # rolls back
            raise sqlite3.OperationalError("disk I/O error")
        return super().__exit__(kind, value, trace)

    def commit(self) -> None:
        if self.in_transaction and failing_now():
            self.rollback()
            raise sqlite3.OperationalError("disk I/O error")
        super().commit()


def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    if isinstance(database, str | os.PathLike) and Path(database).resolve() == STATE_FILE:
        kwargs.setdefault("factory", FailingCommits)
    return _connect(database, *args, **kwargs)


sqlite3.connect = connect  # before lgmock is imported: persistence calls sqlite3.connect

if __name__ == "__main__":
    from mockserver.cli import main

    sys.exit(main())
