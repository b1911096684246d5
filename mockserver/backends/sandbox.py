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

from mockserver.backends.accounts import Accounts, Partner, Service
from mockserver.backends.business_connect import BusinessConnectBackend
from mockserver.backends.connect import ConnectBackend
from mockserver.backends.devices import DeviceStore, Fleet
from mockserver.backends.dr.backend import DrBackend
from mockserver.backends.thinq import ThinqBackend
from mockserver.clock import SandboxClock
from mockserver.delivery_settings import DeliverySettings
from mockserver.errors import ApiError, Err
from mockserver.faults import FaultRules

# The scenario's top-level names of everything that is not a device: a family changes
# as a whole in the state file (they are small next to a fleet).
FAMILIES = (
    "clock",
    "partners",
    "services",
    "users",
    "delivery",
    "thinqAsync",
    "thinqConnect",
    "faults",
    "dr",
)


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
        self.connect = ConnectBackend(self.accounts, self.devices, self.clock, seed)
        self.delivery = DeliverySettings()
        self.dr = DrBackend(self.accounts, self.devices, self.clock)
        self.faults = FaultRules(seed)
        self.business_connect.changed = self.changed
        self.thinq.changed = lambda: self.changed("thinqAsync")
        self.connect.changed = lambda: self.changed("thinqConnect")
        self.dr.changed = lambda: self.changed("dr")
        self.faults.changed = lambda: self.changed("faults")
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

    def changes(self) -> Changes:
        """Devices and families changed since the state file last committed (kept:
        a commit that fails leaves them to the next one)."""
        return Changes(self.devices.changed_since_saved(), set(self._families))

    def take_changes(self) -> Changes:
        """Devices and families changed since the last call, and every change log
        emptied (the DR pieces' and the fault rules' counts too): all of it is in the
        state file (committed, or the base it holds)."""
        families, self._families = self._families, set()
        self.faults.take_fired()
        self.dr.pieces.take()
        return Changes(self.devices.take_changed(), families)

    def set_clock(
        self,
        *,
        at: datetime | None = None,
        advance: float | None = None,
        freeze: bool | None = None,
    ) -> None:
        """Move the sandbox clock (POST /_sandbox/clock); what became due then happens now
        (token expiries, DR windows, appliance cycles)."""
        # Freeze first and release last, so `{"set": T, "freeze": true}` reads exactly T.
        if freeze is True:
            self.clock.freeze()
        if at is not None:
            self.clock.set(at)
        if advance is not None:
            self.clock.advance(advance)
        if freeze is False:
            self.clock.release()
        self.changed("clock")
        self.tick()

    # ------------------------------------------------------------------ callback URLs
    # Where a client's receiver listens (PATCH /_sandbox/services|partners/{id}).

    def set_service_callback(self, service_id: str, url: str) -> Service:
        service = self.accounts.services.get(service_id)
        if service is None:
            raise ApiError(Err.SERVICE_NOT_FOUND, f"no service {service_id}", field="serviceId")
        service.callback_url = url
        self.changed("services")
        return service

    def set_partner_callback(self, partner_id: str, url: str) -> Partner:
        partner = self.accounts.partners.get(partner_id)
        if partner is None:
            raise ApiError(Err.PARTNER_NOT_FOUND, f"no partner {partner_id}", field="partnerId")
        partner.callback_url = url
        self.changed("partners")
        return partner

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
