"""Reading one part of a device's status, and addressing a device-side change to it.

Cycle appliances may be location-wrapped (a washer's status is a list of
``{"location": {"locationName": "MAIN"}, ...}`` objects) while others are one object;
these helpers hide that difference from the behaviours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mockserver.profiles import AttributeRef, DeviceProfile

READ = "r"


def location_of(item: dict[str, Any]) -> str | None:
    location = item.get("location")
    name = location.get("locationName") if isinstance(location, dict) else None
    return name if isinstance(name, str) else None


def body_at(status: Any, location: str | None) -> dict[str, Any]:
    """The part of ``status`` holding ``location``'s resources ({} when there is none)."""
    if location is None:
        return status if isinstance(status, dict) else {}
    for item in status if isinstance(status, list) else []:
        if isinstance(item, dict) and location_of(item) == location:
            return item
    return {}


def bodies(changed: Any) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(location, body) of each part of a change (one part unless location-wrapped)."""
    if isinstance(changed, dict):
        yield None, changed
    elif isinstance(changed, list):
        for item in changed:
            if isinstance(item, dict):
                yield location_of(item), item


def value_of(body: dict[str, Any], dotted: str) -> Any:
    """``body``'s value of a plain ``resource.attribute`` (None when it has none)."""
    resource, _, attribute = dotted.partition(".")
    part = body.get(resource)
    return part.get(attribute) if isinstance(part, dict) else None


def change_at(location: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    """A device change setting ``{"resource.attribute": value}`` at ``location``."""
    body: dict[str, Any] = {}
    for dotted, value in changes.items():
        resource, _, attribute = dotted.partition(".")
        body.setdefault(resource, {})[attribute] = value
    if location is None:
        return body
    return {"location": {"locationName": location}, **body}


def readable(profile: DeviceProfile, location: str | None) -> dict[str, AttributeRef]:
    """The readable attributes of plain resources at ``location``, by ``resource.attribute``."""
    return {
        f"{ref.resource}.{ref.name}": ref
        for ref in profile.attributes()
        if ref.location == location and ref.key_field is None and ref.attribute.readable
    }


def can_read(ref: AttributeRef | None, value: Any) -> bool:
    """Whether a device may report ``value`` for the attribute (False for a missing one)."""
    return ref is not None and ref.attribute.problem(value, READ) is None
