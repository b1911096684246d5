"""One sandbox: the clock and every backend, built together so they share one state.

Its devices come from a ``Fleet`` (the loaded scenario's immutable device records), so
building a sandbox costs what its small entity families cost, not the fleet's size: a
reset is a new Sandbox over the same Fleet. ``take_changes`` tells the state file what
changed since it last asked (docs/scale.md, "Copy-on-write").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mockserver.backends.accounts import Accounts
from mockserver.backends.business_connect import BusinessConnectBackend
from mockserver.backends.devices import DeviceStore, Fleet
from mockserver.backends.dr.backend import DrBackend
from mockserver.backends.thinq import ThinqBackend
from mockserver.callbacks import DeliverySettings
from mockserver.clock import SandboxClock
from mockserver.faults import FaultRules

# The scenario's top-level names of everything that is not a device: a family changes
# as a whole in the state file (they are small next to a fleet).
FAMILIES = ("clock", "partners", "services", "users", "delivery", "thinqAsync", "faults", "dr")


@dataclass
class Changes:
    """What changed since the last ``take_changes``: device ids and entity families."""

    devices: set[str] = field(default_factory=set)
    families: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.devices or self.families)


class Sandbox:
    def __init__(
        self,
        *,
        seed: int = 0,
        name: str = "",
        clock: SandboxClock | None = None,
        fleet: Fleet | None = None,
    ):
        self.seed = seed
        self.name = name
        self.clock = clock or SandboxClock()
        self.accounts = Accounts(self.clock)
        self.devices = DeviceStore(fleet or Fleet(seed, []))
        # Families marked by whoever changes them (backends, control API handlers).
        self._families: set[str] = set()
        self.business_connect = BusinessConnectBackend(self.accounts, self.devices)
        self.thinq = ThinqBackend(self.accounts, self.devices, self.clock)
        self.delivery = DeliverySettings()
        self.dr = DrBackend(self.accounts, self.devices, self.clock)
        self.faults = FaultRules(seed)
        self.business_connect.changed = self.changed
        self.thinq.changed = lambda: self.changed("thinqAsync")
        self.dr.changed = lambda: self.changed("dr")
        # Time-driven behaviour (DR windows, appliance cycles) registers here and runs on
        # tick(): after every clock change, before every request, and periodically.
        self._tickers: list[Callable[[datetime], None]] = [self.dr.tick]

    def on_tick(self, ticker: Callable[[datetime], None]) -> None:
        self._tickers.append(ticker)

    def tick(self) -> None:
        now = self.clock.now()
        for ticker in self._tickers:
            ticker(now)

    def changed(self, family: str) -> None:
        """Record that an entity family (one of FAMILIES) changed."""
        assert family in FAMILIES, family
        self._families.add(family)

    def has_changes(self) -> bool:
        """Whether take_changes would say anything, or a fault rule's count moved."""
        return bool(self._families) or self.devices.has_changed() or self.faults.has_fired()

    def take_changes(self) -> Changes:
        """Devices and families changed since the last call (one consumer: the state file)."""
        families, self._families = self._families, set()
        return Changes(self.devices.take_changed(), families)

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "seed": self.seed,
            "partners": len(self.accounts.partners),
            "services": len(self.accounts.services),
            "users": len(self.accounts.users),
            "devices": self.devices.count(),
            "clock": self.clock.to_dict(),
        }
