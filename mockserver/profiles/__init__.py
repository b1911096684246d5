"""The device simulator core: a ThinQ device profile, and what it allows a status to become.

A profile (the JSON LG serves as a device's profile, read the way LG's ``thinqconnect``
SDK reads it) names resources, their attributes, each attribute's type, whether it can be
read and/or written, and the values allowed each way::

    {"property": {"<resource>": {"<attribute>": {"type": "enum", "mode": ["r", "w"],
                                                 "value": {"r": [...], "w": [...]}}}},
     "notification": {"push": ["WASHING_IS_COMPLETE"]}}

Three shapes occur and are all handled by one model:

* a resource is a dict of attributes (``airConJobMode.currentJobMode``);
* a resource is a list of entries told apart by a plain-string key field, ``locationName``
  (``temperature: [{"locationName": "FRIDGE", ...}]``) or ``unit``
  (``temperatureInUnits: [{"unit": "C", ...}]``);
* the whole ``property`` is a list of location-wrapped sections
  (``[{"location": {"locationName": "MAIN"}, "runState": {...}}]``: washer, oven, cooktop).

Other plain strings inside a resource (``"detergentSetting": "NORMAL"``) are constants:
they appear in a status as they are and a command may only repeat them.

A status mirrors the profile with values; a command is a partial status of writable
attributes. This package checks and applies both and knows nothing of HTTP: it raises
``ApiError`` with an API-neutral reason and the JSON path at fault, and ``errors.py``
with ``error_answers.py`` decide what each API answers.

The package, from the bottom up: ``values`` (JSON values compared and shown), ``power``
(how each kind of appliance is switched on and off), ``model`` (the parsed profile's
types), ``layout`` (where its sections sit in a status), ``reader`` (a profile dict into
the model), ``statuses`` (initial statuses and status checks), ``commands`` (commands
and device changes), ``device_profile`` (``DeviceProfile``, tying them together) and
``files`` (profile fixtures on disk). Import the names below from the package itself.
"""

from mockserver.profiles.commands import QUALIFIERS
from mockserver.profiles.device_profile import DeviceProfile
from mockserver.profiles.files import load_profile_file, resolve_profile
from mockserver.profiles.model import AttributeRef, ProfileError, Span
from mockserver.profiles.power import POWER_RULES, PowerRule

__all__ = [
    "POWER_RULES",
    "QUALIFIERS",
    "AttributeRef",
    "DeviceProfile",
    "PowerRule",
    "ProfileError",
    "Span",
    "load_profile_file",
    "resolve_profile",
]
