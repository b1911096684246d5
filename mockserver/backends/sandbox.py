"""One sandbox: the clock and every backend, built together so they share one state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mockserver.backends.accounts import Accounts
from mockserver.backends.business_connect import BusinessConnectBackend
from mockserver.backends.devices import DeviceStore
from mockserver.backends.dr import DrBackend
from mockserver.backends.thinq import ThinqBackend
from mockserver.callbacks import DeliverySettings
from mockserver.clock import SandboxClock
from mockserver.faults import FaultRules


class Sandbox:
    def __init__(self, *, seed: int = 0, name: str = "", clock: SandboxClock | None = None):
        self.seed = seed
        self.name = name
        self.clock = clock or SandboxClock()
        self.accounts = Accounts(self.clock)
        self.devices = DeviceStore()
        self.business_connect = BusinessConnectBackend(self.accounts, self.devices)
        self.thinq = ThinqBackend(self.accounts, self.devices, self.clock)
        self.delivery = DeliverySettings()
        self.dr = DrBackend(self.accounts, self.devices, self.clock)
        self.faults = FaultRules(seed)
        # Time-driven behaviour (DR windows, appliance cycles) registers here and runs on
        # tick(): after every clock change, before every request, and periodically.
        self._tickers: list[Callable[[datetime], None]] = [self.dr.tick]

    def on_tick(self, ticker: Callable[[datetime], None]) -> None:
        self._tickers.append(ticker)

    def tick(self) -> None:
        now = self.clock.now()
        for ticker in self._tickers:
            ticker(now)

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "seed": self.seed,
            "partners": len(self.accounts.partners),
            "services": len(self.accounts.services),
            "users": len(self.accounts.users),
            "devices": len(self.devices.devices),
            "clock": self.clock.to_dict(),
        }
