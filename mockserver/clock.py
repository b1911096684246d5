"""The sandbox clock: one notion of "now" for tokens, subscriptions, DR windows and timers.

It runs with the wall clock by default, can be moved forward or set (QA expiring a token
without waiting 24 hours), and can be frozen so a test sees the same instant throughout.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._base = _utc(start) if start else datetime.now(UTC)
        self._anchor = time.monotonic()
        self._frozen = frozen

    def now(self) -> datetime:
        if self._frozen:
            return self._base
        return self._base + timedelta(seconds=time.monotonic() - self._anchor)

    def timestamp(self) -> float:
        return self.now().timestamp()

    @property
    def frozen(self) -> bool:
        return self._frozen

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward; use set() to go back")
        self._rebase(self.now() + timedelta(seconds=seconds))
        return self.now()

    def set(self, moment: datetime) -> datetime:
        self._rebase(_utc(moment))
        return self.now()

    def freeze(self) -> None:
        self._rebase(self.now())
        self._frozen = True

    def release(self) -> None:
        self._rebase(self.now())
        self._frozen = False

    def _rebase(self, moment: datetime) -> None:
        self._base = moment
        self._anchor = time.monotonic()

    def to_dict(self) -> dict[str, object]:
        return {"now": self.now().isoformat(), "frozen": self._frozen}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
