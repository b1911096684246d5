"""The request journal: every vendor API call, what it asked, what it got, what was wrong.

Entries keep raw bodies (cut at BODY_CAP bytes) and decode them only when read, so
journaling costs the hot path a few dictionary writes. The journal is bounded: past
``cap`` entries the oldest go first.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mockserver.limits import LIMITS, too_deep

BODY_CAP = 64 * 1024
DEFAULT_CAP = 10_000
DECODE_DEPTH = max(limit.max_depth for limit in LIMITS.values())


@dataclass
class JournalEntry:
    id: int
    at: str  # sandbox clock, ISO-8601
    api: str
    operation_id: str | None
    caller: str | None
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    duration_ms: float = 0.0
    # What the request got wrong against the spec (client faults only), and any
    # injected fault that shaped the answer.
    violations: list[dict[str, str]] = field(default_factory=list)
    response_code: str | None = None
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.head()
        data["request"]["body"] = _decode(self.request_body)
        data["response"]["body"] = _decode(self.response_body)
        return data

    def head(self) -> dict[str, Any]:
        """Everything but the bodies (a state file keeps those as raw bytes beside it)."""
        return {
            "id": self.id,
            "at": self.at,
            "api": self.api,
            "operationId": self.operation_id,
            "caller": self.caller,
            "request": {
                "method": self.method,
                "path": self.path,
                "query": self.query,
                "headers": self.request_headers,
            },
            "response": {
                "status": self.status,
                "code": self.response_code,
                "headers": self.response_headers,
            },
            "durationMs": round(self.duration_ms, 3),
            "violations": self.violations,
            "fault": self.fault,
        }

    @classmethod
    def from_row(
        cls, head: dict[str, Any], request_body: bytes, response_body: bytes
    ) -> JournalEntry:
        entry = cls.from_dict(head)
        entry.request_body = request_body
        entry.response_body = response_body
        return entry

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalEntry:
        request, response = data["request"], data["response"]
        return cls(
            id=data["id"],
            at=data["at"],
            api=data["api"],
            operation_id=data.get("operationId"),
            caller=data.get("caller"),
            method=request["method"],
            path=request["path"],
            query=request.get("query", ""),
            request_headers=request.get("headers", {}),
            request_body=_encode(request.get("body")),
            status=response["status"],
            response_headers=response.get("headers", {}),
            response_body=_encode(response.get("body")),
            duration_ms=data.get("durationMs", 0.0),
            violations=data.get("violations", []),
            response_code=response.get("code"),
            fault=data.get("fault"),
        )


def _decode(raw: bytes) -> Any:
    """A body as a journal page shows it: parsed JSON when that is safe, else its text.

    The journal keeps whatever was sent, including bodies the gateway refused for their
    nesting: those are shown as text, never handed to the (recursive) JSON parser.
    """
    if not raw:
        return None
    if too_deep(raw, DECODE_DEPTH):
        return raw.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class Recorder(Protocol):
    """Who keeps the journal on disk (the state file's ``JournalWriter``)."""

    def record(self, position: int, entry: JournalEntry) -> None: ...

    def cleared(self) -> None: ...


class Journal:
    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self.entries: deque[JournalEntry] = deque(maxlen=cap)
        self._ids = itertools.count(1)
        # Entries are numbered in the order they were added (ids are given at a call's
        # start, entries at its end): their positions in the state file's journal.
        self._added = 0
        self.recorder: Recorder | None = None
        # Who hears each new entry (an open dashboard). Empty unless someone watches,
        # and then the hot path pays one truthiness test.
        self.listeners: list[Callable[[JournalEntry], None]] = []

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, entry: JournalEntry) -> None:
        self.entries.append(entry)
        self._added += 1
        if self.recorder is not None:
            self.recorder.record(self._added, entry)
        if self.listeners:
            for listener in self.listeners:
                listener(entry)

    def clear(self) -> None:
        self.entries.clear()
        if self.recorder is not None:
            self.recorder.cleared()

    def first_kept(self) -> int:
        """The position of the oldest entry the cap still keeps (entries before it fell off)."""
        return max(1, self._added - self.cap + 1)

    def record_to(self, recorder: Recorder | None, *, unsaved: bool = False) -> None:
        """Tell ``recorder`` of every entry added from now on (None: stop telling);
        ``unsaved``: also of the entries held now (restored from a migrated file)."""
        self.recorder = recorder
        if recorder is not None and unsaved:
            first = self._added - len(self.entries) + 1
            for position, entry in enumerate(self.entries, start=first):
                recorder.record(position, entry)

    def find(
        self,
        *,
        operation_id: str | None = None,
        status: int | None = None,
        caller: str | None = None,
        since: str | None = None,
        api: str | None = None,
        violations_only: bool = False,
    ) -> list[JournalEntry]:
        return [
            e
            for e in self.entries
            if (operation_id is None or e.operation_id == operation_id)
            and (status is None or e.status == status)
            and (caller is None or e.caller == caller)
            and (since is None or e.at >= since)
            and (api is None or e.api == api)
            and (not violations_only or e.violations)
        ]

    def export(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.entries]

    def restore(self, entries: list[JournalEntry], *, last_position: int | None = None) -> None:
        """Take back entries from a state file.

        ``last_position``: the position of the last one in the file's journal (without
        it, they are numbered from 1: a migrated file, whose journal is written anew).
        """
        self.entries.clear()
        self.entries.extend(entries[-self.cap :])
        self._ids = itertools.count(max((e.id for e in self.entries), default=0) + 1)
        self._added = len(self.entries) if last_position is None else last_position
