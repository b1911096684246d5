"""The DR state by the piece, as the state file stores it: what one change touched.

The scenario's ``dr:`` block of an event over a fleet holds every member's monitoring
series and controls (~50 MB at 100,000 devices); a control of one member changes one
series and one control. So the state file keeps the block as pieces, each a row
(``persistence``'s ``dr_pieces`` table), keyed ``(kind, event id, item)``:

- ``head``: fileSecret, groups and users (``("head", "", "")``);
- ``event``: an event without its series and controls (``("event", eventId, "")``);
- ``series``/``control``: one member's (``("series", eventId, deviceId)``);
- ``file``: one data file (``("file", "", fileName)``).

``PieceLog`` is the backend's copy-on-write change log of them (like the device store's
``_pending``): the places that change a piece name it, the state file's commit takes the
names and writes what they hold now, or deletes the row of a piece that is gone.
``split`` and ``assemble`` turn the scenario block into pieces and back, in its order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

HEAD = "head"
EVENT = "event"
SERIES = "series"
CONTROL = "control"
FILE = "file"
KINDS = (HEAD, EVENT, SERIES, CONTROL, FILE)

Key = tuple[str, str, str]  # (kind, event id, item)
Piece = tuple[str, str, str, Any]  # a key and the piece's scenario value
HEAD_KEY: Key = (HEAD, "", "")


class PieceLog:
    """Which pieces changed since the state file last took them (in the order named)."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self._keys: dict[Key, None] = {}
        self._changed = changed  # the sandbox's "dr changed" mark: a commit is due

    def head(self) -> None:
        self._mark(HEAD_KEY)

    def event(self, event_id: str) -> None:
        self._mark((EVENT, event_id, ""))

    def series(self, event_id: str, device_id: str) -> None:
        self._mark((SERIES, event_id, device_id))

    def control(self, event_id: str, device_id: str) -> None:
        self._mark((CONTROL, event_id, device_id))

    def file(self, name: str) -> None:
        self._mark((FILE, "", name))

    def _mark(self, key: Key) -> None:
        self._keys[key] = None
        self._changed()

    def keys(self) -> list[Key]:
        """The keys changed since the last ``take``, in the order named (kept)."""
        return list(self._keys)

    def take(self) -> list[Key]:
        keys, self._keys = list(self._keys), {}
        return keys


def event_head(event: dict[str, Any]) -> dict[str, Any]:
    """A scenario event without its members' series and controls (its own piece)."""
    progress = {k: v for k, v in event["progress"].items() if k not in ("controls", "series")}
    return {**event, "progress": progress}


def split(dr: dict[str, Any]) -> list[Piece]:
    """A scenario ``dr:`` block (``DrBackend.export``) as pieces, in its order."""
    pieces: list[Piece] = [
        (*HEAD_KEY, {key: dr[key] for key in ("fileSecret", "groups", "users") if key in dr})
    ]
    for event in dr.get("events") or []:
        event_id = event["eventId"]
        progress = event.get("progress") or {}
        pieces.append((EVENT, event_id, "", event_head({**event, "progress": progress})))
        pieces += [(CONTROL, event_id, d, c) for d, c in (progress.get("controls") or {}).items()]
        pieces += [(SERIES, event_id, d, s) for d, s in (progress.get("series") or {}).items()]
    pieces += [(FILE, "", data["fileName"], data) for data in dr.get("files") or []]
    return pieces


def assemble(pieces: Iterable[Piece]) -> dict[str, Any]:
    """The scenario ``dr:`` block the pieces make (``split``'s inverse), in their order."""
    head: dict[str, Any] = {}
    events: dict[str, dict[str, Any]] = {}
    members: dict[str, dict[str, dict[str, Any]]] = {}
    files = []
    for kind, event_id, item, value in pieces:
        if kind == HEAD:
            head = value
        elif kind == EVENT:
            events[event_id] = value
        elif kind in (CONTROL, SERIES):
            of_event = members.setdefault(event_id, {CONTROL: {}, SERIES: {}})
            of_event[kind][item] = value
        elif kind == FILE:
            files.append(value)
        else:
            raise ValueError(f"a DR piece of an unknown kind {kind!r}")
    unknown = set(members) - set(events)
    if unknown:
        raise ValueError(f"DR pieces of events that have none: {sorted(unknown)}")
    whole = []
    for event_id, event in events.items():
        of_event = members.get(event_id, {CONTROL: {}, SERIES: {}})
        progress = {**event["progress"], "controls": of_event[CONTROL], "series": of_event[SERIES]}
        whole.append({**event, "progress": progress})
    return {**head, "events": whole, "files": files}
