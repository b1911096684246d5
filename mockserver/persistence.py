"""The state file: the whole sandbox on disk, so a restart loses nothing.

It holds the scenario export (devices, accounts, subscriptions, DR entities, clock,
fault rules), the request journal and the callback journal with what is still owed.
It is written atomically (a temporary file in the same folder, then a rename) so a
crash mid-write leaves the previous file whole; a file that cannot be read back is
reported and never overwritten.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mockserver import scenario
from mockserver.errors import iso_timestamp

FORMAT = "lgmock-state"
VERSION = 1


class StateFileError(ValueError):
    """A state file that cannot be used; the message says what and where."""


def snapshot(runtime: Any) -> dict[str, Any]:
    sandbox = runtime.sandbox
    return {
        "format": FORMAT,
        "version": VERSION,
        "savedAt": iso_timestamp(sandbox.clock.now()),
        "scenario": scenario.export(sandbox),
        "journal": runtime.journal.export(),
        "callbacks": [d.to_dict() for d in runtime.deliveries.journal.values()],
    }


def save(runtime: Any, path: Path) -> None:
    data = json.dumps(snapshot(runtime), ensure_ascii=False).encode("utf-8")
    folder = path.resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read(path: Path) -> dict[str, Any]:
    """The file's content, checked; StateFileError when it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateFileError(f"{path}: not a valid state file (corrupt JSON: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateFileError(f"{path}: not an lgmock state file (no format: {FORMAT})")
    if data.get("version") != VERSION:
        raise StateFileError(
            f"{path}: state file version {data.get('version')!r}, this lgmock reads {VERSION}"
        )
    for key, kind in (("scenario", dict), ("journal", list), ("callbacks", list)):
        if not isinstance(data.get(key), kind):
            raise StateFileError(f"{path}: {key} is missing or not a {kind.__name__}")
    return data
