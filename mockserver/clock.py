"""The sandbox clock: one notion of "now" for tokens, subscriptions, DR windows and timers.

It runs with the wall clock by default, can be moved forward or set (QA expiring a token
without waiting 24 hours), and can be frozen so a test sees the same instant throughout.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# The instants the sandbox clock may show. Every duration the sandbox adds to "now"
# (24-hour tokens, subscriptions, DR windows, appliance cycles) must stay inside what
# datetime holds (year 9999): the clock stops a thousand years short of that. Before the
# epoch, instants in milliseconds (DR, ThinQ timestamps) would be negative.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class ClockRangeError(ValueError):
    """An instant outside EARLIEST..LATEST; the message says which bound."""


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
        now = self.now()
        check_advance(now, seconds)
        self._rebase(now + timedelta(seconds=seconds))
        return self.now()

    def set(self, moment: datetime) -> datetime:
        self._rebase(check_instant(moment))
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


def check_instant(moment: datetime) -> datetime:
    """``moment`` in UTC if the clock may show it, else ClockRangeError."""
    moment = _utc(moment)
    if not EARLIEST <= moment < LATEST:
        raise ClockRangeError(
            f"{moment.isoformat()} is outside {EARLIEST.isoformat()} .. "
            f"{LATEST.isoformat()}, the instants the sandbox clock shows"
        )
    return moment


def check_advance(start: datetime, seconds: float) -> None:
    """ClockRangeError if ``seconds`` after ``start`` is past LATEST (or not a number)."""
    if not seconds <= (LATEST - _utc(start)).total_seconds():  # NaN fails this too
        raise ClockRangeError(
            f"{seconds} s after {start.isoformat()} is past {LATEST.isoformat()}, "
            "the latest instant the sandbox clock shows"
        )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
