"""Power rules: which attribute switches each kind of appliance, and which shows it is off.

A powered-off device accepts only the command that switches it on, so the simulator must
know, per appliance, which attribute switches power and which one shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockserver.profiles.values import same_value


@dataclass(frozen=True)
class PowerRule:
    """How one kind of appliance is switched on and off, and how to tell it is off.

    ``switch`` is the ``resource.attribute`` a command writes to switch power. ``state`` is
    the readable ``resource.attribute`` whose value says whether the device is off; for
    climate appliances it is the switch itself, for cycle appliances (washer, dryer...)
    the switch is write-only and the run state tells. ``on_values`` lists the switch
    values that turn power on (None: any value but ``off_value``).
    """

    switch: str
    state: str
    off_value: str = "POWER_OFF"
    on_values: frozenset[str] | None = None

    def turns_on(self, value: Any) -> bool:
        if self.on_values is None:
            return value != self.off_value
        return value in self.on_values

    def is_off(self, current: dict[str, Any]) -> bool:
        """Whether ``current`` (the governed section's part of a status) shows power off."""
        resource, _, attribute = self.state.partition(".")
        state = current.get(resource)
        return isinstance(state, dict) and same_value(state.get(attribute), self.off_value)


def _switched(attribute: str) -> PowerRule:
    return PowerRule(switch=attribute, state=attribute)


def _cycle(attribute: str) -> PowerRule:
    return PowerRule(
        switch=attribute,
        state="runState.currentState",
        on_values=frozenset({"POWER_ON", "WAKE_UP"}),
    )


# Attribute names as the SDK spells them (thinqconnect.devices.*: note ``ceilingfan``
# and ``vent``); ``ceilingFanOperationMode`` is kept for profiles written by hand. The
# first rule whose switch is writable and whose state is readable in a profile (or in one
# location of a location-wrapped profile) governs it.
POWER_RULES: tuple[PowerRule, ...] = (
    _switched("operation.airConOperationMode"),
    _switched("operation.airPurifierOperationMode"),
    _switched("operation.airFanOperationMode"),
    _switched("operation.dehumidifierOperationMode"),
    _switched("operation.humidifierOperationMode"),
    _switched("operation.ceilingfanOperationMode"),
    _switched("operation.ceilingFanOperationMode"),
    _switched("operation.boilerOperationMode"),
    _switched("operation.waterHeaterOperationMode"),
    _switched("operation.ventOperationMode"),
    _switched("operation.hoodOperationMode"),
    _cycle("operation.washerOperationMode"),
    _cycle("operation.dryerOperationMode"),
    _cycle("operation.stylerOperationMode"),
    _cycle("operation.dishWasherOperationMode"),
)

# Run states a cycle appliance shows once switched on, by preference (and at start).
IDLE_STATES = ("INITIAL", "STANDBY", "SLEEP", "CHARGING")
