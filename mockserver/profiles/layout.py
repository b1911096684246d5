"""Where a profile's sections sit in a status: one object, or a list of locations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockserver.profiles.model import Section

Status = dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True)
class Layout:
    """A whole profile's sections, and how a status holds them.

    A plain profile has one section and its status is an object of resources. A
    location-wrapped profile has one section per location and its status is a list of
    ``{"location": {"locationName": ...}, <resources>}`` objects.
    """

    source: str  # where the profile came from, for messages
    sections: tuple[Section, ...]
    wrapped: bool  # location-wrapped

    @property
    def locations(self) -> list[str]:
        """The wrapped sections' locations, else the keys of ``locationName`` list resources."""
        if self.wrapped:
            return [section.location for section in self.sections if section.location]
        names: list[str] = []
        for resource in self.sections[0].resources.values():
            if resource.key_field == "locationName":
                names.extend(key for key in resource.keys() if key and key not in names)
        return names

    def section_named(self, location: str | None) -> Section:
        """The section at ``location`` (None will do when there is one); else KeyError."""
        if location is None and len(self.sections) == 1:
            return self.sections[0]
        for section in self.sections:
            if section.location == location:
                return section
        raise KeyError(f"{self.source}: no location {location!r}; locations: {self.locations}")

    def section_status(self, status: Any, section: Section) -> dict[str, Any]:
        """The part of ``status`` holding ``section``'s resources ({} when there is none)."""
        if not self.wrapped:
            return status if isinstance(status, dict) else {}
        for item in status if isinstance(status, list) else []:
            location = item.get("location") if isinstance(item, dict) else None
            if isinstance(location, dict) and location.get("locationName") == section.location:
                return item
        return {}


def location_name(item: dict[str, Any]) -> str | None:
    """The location a location-wrapped profile or status item names, if it names one."""
    location = item.get("location")
    name = location.get("locationName") if isinstance(location, dict) else None
    return name if isinstance(name, str) and name else None
