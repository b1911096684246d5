"""Demand response (DR): groups, users, events, targets and data files.

Placeholder until the DR issue lands: it keeps the scenario's `dr:` block verbatim so a
state export loads back unchanged, and refuses every file download. The interface is
what the rest of the sandbox calls: ``load``/``export`` (scenario format), ``tick``
(the sandbox clock moved), ``open_file`` (a presigned download).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mockserver.backends.accounts import Accounts
from mockserver.backends.devices import DeviceStore
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError, Err


class DrBackend:
    def __init__(self, accounts: Accounts, devices: DeviceStore, clock: SandboxClock) -> None:
        self.accounts = accounts
        self.devices = devices
        self.clock = clock
        self._raw: dict[str, list[dict[str, Any]]] = {"groups": [], "users": [], "events": []}

    def load(self, data: dict[str, Any], source: str) -> list[str]:
        """Take the scenario's `dr:` block; return 'source: path: reason' problems."""
        self._raw = {key: list(data.get(key, [])) for key in ("groups", "users", "events")}
        return []

    def export(self) -> dict[str, Any]:
        return {key: list(value) for key, value in self._raw.items()}

    def tick(self, now: datetime) -> None:
        """The sandbox clock reads ``now``: start or end event windows that are due."""

    def open_file(self, filename: str, expires: int, signature: str) -> bytes:
        """The bytes behind a presigned URL, if its signature and expiry hold."""
        raise ApiError(Err.DR_ZIP_FILE_NOT_FOUND, f"no file {filename}", field="filename")
