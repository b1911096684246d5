"""``DeviceProfile``: one parsed profile, and everything the rest of the server asks of it."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

from mockserver.profiles import commands, statuses
from mockserver.profiles.layout import Layout, Status
from mockserver.profiles.model import AttributeRef, Section
from mockserver.profiles.power import PowerRule
from mockserver.profiles.reader import read_profile


class DeviceProfile:
    """A parsed profile: builds, checks and changes statuses of devices that use it."""

    def __init__(
        self,
        raw: dict[str, Any],
        sections: list[Section],
        wrapped: bool,
        push_codes: list[str],
        source: str,
    ) -> None:
        self.raw = raw
        self.source = source
        self.push_codes = push_codes
        self.is_location_wrapped = wrapped
        self._layout = Layout(source, tuple(sections), wrapped)
        self.locations = self._layout.locations
        self._plan: statuses.StatusPlan | None = None  # made on first use
        self._attributes: tuple[AttributeRef, ...] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<inline>") -> DeviceProfile:
        sections, wrapped, push = read_profile(data, source)
        return cls(copy.deepcopy(data), sections, wrapped, push, source)

    def __repr__(self) -> str:
        return f"DeviceProfile({self.source!r})"

    # ---- introspection

    def attributes(self) -> Iterator[AttributeRef]:
        """Every attribute (constants included), in profile order."""
        if self._attributes is None:
            # A profile never changes and is shared by a whole fleet: read it once.
            self._attributes = tuple(self._read_attributes())
        return iter(self._attributes)

    def _read_attributes(self) -> Iterator[AttributeRef]:
        for section in self._layout.sections:
            for resource in section.resources.values():
                for entry in resource.entries:
                    for attribute in entry.attributes.values():
                        if resource.is_list and attribute.name == resource.key_field:
                            continue
                        yield AttributeRef(
                            section.location,
                            resource.name,
                            resource.key_field,
                            entry.key,
                            attribute,
                        )

    def power_rule(self, location: str | None = None) -> PowerRule | None:
        return self._layout.section_named(location).power

    def is_power_off(self, status: Status, location: str | None = None) -> bool:
        """Whether the device (or ``location``, needed when there are several) is off."""
        section = self._layout.section_named(location)
        return section.is_power_off(self._layout.section_status(status, section))

    def is_remote_off(self, status: Status, location: str | None = None) -> bool:
        section = self._layout.section_named(location)
        return section.is_remote_off(self._layout.section_status(status, section))

    # ---- statuses

    def initial_status(self, rng: random.Random) -> Status:
        """A full, valid status of an idle, powered, remotely controllable device."""
        if self._plan is None:
            self._plan = statuses.StatusPlan(self._layout)
        return self._plan.make(rng)

    def validate_status(self, status: Any, *, partial: bool = False) -> list[str]:
        """Every way ``status`` does not fit this profile ([] when it fits).

        With ``partial`` a status may leave out resources, entries and attributes (a
        scenario's ``status:`` override); what it does say must still be right.
        """
        return statuses.validate_status(self._layout, status, partial=partial)

    # ---- changes

    def apply_command(self, status: Status, command: Any) -> tuple[Status, Status]:
        """Apply a client's command: (new full status, the part that changed).

        The command is checked whole first (shape, attributes, values, then remote
        control and power) and ``status`` is never modified: on any refusal nothing
        changed. ``changed`` mirrors the status shape (a list of location-wrapped entries
        for location-wrapped profiles); write-only attributes set by the command (e.g.
        ``washerOperationMode``) are in it although no status holds them.
        """
        return commands.apply_command(self._layout, status, command)

    def apply_device_change(self, status: Status, change: Any) -> tuple[Status, Status]:
        """Apply a change reported by the device itself (a cycle ending, a door opening).

        Any readable attribute may change to any readable value; no power or remote
        rules apply. Same atomicity and return values as ``apply_command``.
        """
        return commands.apply_device_change(self._layout, status, change)
