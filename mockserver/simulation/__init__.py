"""Time-driven device behaviour on the sandbox clock: appliance cycles, temperature drift.

``attach`` is called for every new sandbox. It gives the sandbox one ``Simulator``, which
hears every device change (a listener of the device store) and moves time-driven state
forward on every tick (``Sandbox.on_tick``: after each clock change, before each request,
and every half second). What it changes goes through ``DeviceStore.change_from_device``
and ``raise_push``, so ThinQ event and push subscribers and Business Connect push
subscribers see a finishing washer exactly as they see any other device-side change.

The behaviours (``cycles``: washer, dryer, dishwasher, styler; ``climate``: air
conditioners) keep no state of their own that a restart could lose: a running cycle is
its run state and remaining time in the device's status, resumed when a sandbox is built
from a scenario or state file.

Cost follows what is in motion, not the fleet's size: a generated status is idle (no
cycle, the room at its set point), so only devices whose scenario gives a status, or
that were added later, are looked at when a sandbox starts; any other device is known
to the behaviours from its first change on (docs/scale.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from mockserver.backends.devices import DeviceChange, DeviceEvent
from mockserver.backends.sandbox import Sandbox
from mockserver.errors import ApiError
from mockserver.simulation.climate import Climate
from mockserver.simulation.cycles import Cycles

log = logging.getLogger("lgmock")

CATCH_UP_AFTER = timedelta(seconds=1)

__all__ = ["Simulator", "attach"]


class Simulator:
    def __init__(self, sandbox: Sandbox) -> None:
        self._devices = sandbox.devices
        self._clock = sandbox.clock
        self.cycles = Cycles(self._devices, self._report, self._push)
        self.climate = Climate(self._report)
        self._added = 0  # how many of the store's added devices are adopted
        self._last = self._clock.now()
        # Above zero while the simulator applies its own change: the store tells every
        # listener, this one included, and a change of ours must not be taken for QA's.
        self._applying = 0
        fleet = self._devices.fleet
        for device_id in fleet.with_status:
            # Read from the record: an exported state gives every device a status, and
            # only those in motion need to become full devices now.
            record = fleet.records[device_id]
            if self.cycles.would_run(record, record.status) or self.climate.would_drift(
                record, record.status
            ):
                self._adopt(device_id, self._last)
        self._adopt_new(self._last)

    def tick(self, now: datetime) -> None:
        if now < self._last:
            # The clock was set back: time that "unhappened" neither runs nor undoes a cycle.
            self.cycles.shift(now - self._last)
            self.climate.shift(now - self._last)
            self._last = now
        # A device added since the last tick (POST /_sandbox/devices) was added then, at
        # the latest: over HTTP a tick runs just before the request that added it.
        self._adopt_new(self._last)
        self._last = now
        self.cycles.advance(now)
        self.climate.advance(now)

    def heard(self, event: DeviceEvent) -> None:
        if self._applying or not isinstance(event, DeviceChange):
            return
        now = self._clock.now()
        # Catch up first, so a command meets the device as it is now (in-process callers
        # may change the clock without ticking; over HTTP the request's tick did this).
        # Not for every change of a fan-out: a control-async to 10,000 devices is 10,000
        # changes within a second, and a full tick each time would be quadratic.
        if now - self._last >= CATCH_UP_AFTER:
            self.tick(now)
        self.cycles.heard(event, now)
        self.climate.heard(event, now)

    def _adopt_new(self, now: datetime) -> None:
        # Devices are only ever added (POST /_sandbox/devices), so a count tells.
        added = self._devices.added()
        for device_id in added[self._added :]:
            self._adopt(device_id, now)
        self._added = len(added)

    def _adopt(self, device_id: str, now: datetime) -> None:
        """Resume what the device's status says is under way."""
        device = self._devices.get(device_id)
        self.cycles.adopt(device, now)
        self.climate.adopt(device, now)

    def _report(self, device_id: str, change: dict[str, Any]) -> bool:
        if not change:
            return False
        self._applying += 1
        try:
            self._devices.change_from_device(device_id, change)
            return True
        except ApiError as error:
            # A profile narrower than the simulator assumes (an inline one, say): skip the
            # change rather than fail the request whose tick ran this.
            log.warning("simulation: device %s refused %s: %s", device_id, change, error)
            return False
        finally:
            self._applying -= 1

    def _push(self, device_id: str, code: str) -> None:
        self._applying += 1
        try:
            self._devices.raise_push(device_id, code)
        finally:
            self._applying -= 1


def attach(sandbox: Sandbox) -> Simulator:
    """Give ``sandbox`` its simulator: resume what its devices' statuses say is running."""
    simulator = Simulator(sandbox)
    sandbox.devices.on_change(simulator.heard)
    sandbox.on_tick(simulator.tick)
    return simulator
