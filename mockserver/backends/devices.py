"""The device simulator's state: every device, its profile, its one status.

Business Connect, the ThinQ asynchronous API and DR all read and change devices here,
so a control through one API is what the others see next. Listeners registered with
``on_change`` hear every accepted change (event callbacks, DR monitoring, journal).

Copy-on-write, so that a fleet of 100,000 devices loads and resets in about a second
(docs/scale.md): a loaded scenario's devices are a ``Fleet`` of immutable
``DeviceRecord``s, shared by every sandbox built from that scenario (each reset builds
a new one). A ``DeviceStore`` turns a record into a full ``Device`` (status included)
only when something asks for it, and keeps that object from then on; a reset drops the
store, so the fleet is back to its records without rebuilding any of them. Reads that
need no status (listings, ownership checks) use ``info``, which never materialises.
Every change is recorded in the store's change log (``take_changed``) for the state
file, and heard by every ``on_change`` listener.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.errors import ApiError, Err
from mockserver.profiles import DeviceProfile
from mockserver.profiles.values import json_copy

Status = dict[str, Any] | list[Any]


@dataclass
class Device:
    device_id: str
    device_type: str
    model_name: str
    alias: str
    profile: DeviceProfile
    # How the scenario named the profile (a fixture path or the inline object); kept so
    # an exported state names it the same way.
    profile_ref: str | dict[str, Any]
    status: Status
    owner: str | None = None
    registered_to: list[str] = field(default_factory=list)
    online: bool = True
    group_id: str | None = None
    parent_id: str | None = None
    home_id: str | None = None

    @classmethod
    def from_record(cls, record: DeviceRecord, status: Status) -> Device:
        """The full device of a record, with its status (the caller's to keep)."""
        return cls(
            device_id=record.device_id,
            device_type=record.device_type,
            model_name=record.model_name,
            alias=record.alias,
            profile=record.profile,
            profile_ref=record.profile_ref,
            status=status,
            owner=record.owner,
            registered_to=list(record.registered_to),
            online=record.online,
            group_id=record.group_id,
            parent_id=record.parent_id,
            home_id=record.home_id,
        )


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A device as its scenario defines it: immutable, shared by every reset.

    ``status`` is the full status when the scenario gave overrides (checked and applied
    at load); None means "the generated one", made from the seed when first needed.
    """

    device_id: str
    device_type: str
    model_name: str
    alias: str
    profile: DeviceProfile
    profile_ref: str | dict[str, Any]
    status: Status | None
    owner: str | None
    registered_to: tuple[str, ...]
    online: bool
    group_id: str | None
    parent_id: str | None
    home_id: str | None


# What a listing or an ownership check reads: the same names on both.
DeviceInfo = Device | DeviceRecord


@dataclass(frozen=True)
class DeviceChange:
    device: Device
    changed: Status
    source: str  # "control" (an API call) or "device" (the device itself)


@dataclass(frozen=True)
class DevicePush:
    """A notification the device raised: one of its profile's notification.push codes."""

    device: Device
    code: str


@dataclass(frozen=True)
class DeviceUpdate:
    """A change of what the device is rather than what it reports (``online``, ``alias``)."""

    device: Device
    fields: tuple[str, ...]


@dataclass(frozen=True)
class DeviceAdded:
    """A device registered while the sandbox runs (``POST /_sandbox/devices``)."""

    device: Device


DeviceEvent = DeviceChange | DevicePush | DeviceUpdate | DeviceAdded
Listener = Callable[[DeviceEvent], None]


class Fleet:
    """A scenario's devices as records, with the indexes every sandbox of it shares."""

    def __init__(self, seed: int, records: list[DeviceRecord]) -> None:
        self.seed = seed
        self.records: dict[str, DeviceRecord] = {}
        owners: dict[str, list[str]] = {}
        partners: dict[str, list[str]] = {}
        for record in records:
            if record.device_id in self.records:
                raise ValueError(f"device {record.device_id!r} is defined twice")
            self.records[record.device_id] = record
            if record.owner:
                owners.setdefault(record.owner, []).append(record.device_id)
            for partner_id in record.registered_to:
                partners.setdefault(partner_id, []).append(record.device_id)
        self.by_owner = {key: tuple(ids) for key, ids in owners.items()}
        self.by_partner = {key: tuple(ids) for key, ids in partners.items()}
        # Devices whose scenario gives a status: the only ones that may start in motion.
        self.with_status = tuple(r.device_id for r in records if r.status is not None)

    def status_of(self, record: DeviceRecord) -> Status:
        """The record's status: a fresh object the caller may keep."""
        if record.status is not None:
            return json_copy(record.status)
        return initial_status(record.profile, self.seed, record.device_id)

    def __len__(self) -> int:
        return len(self.records)


class DeviceMap(Mapping[str, Device]):
    """``store.devices``: every device by id; looking one up materialises it."""

    def __init__(self, store: DeviceStore) -> None:
        self._store = store

    def __getitem__(self, device_id: str) -> Device:
        device = self._store.materialise(device_id)
        if device is None:
            raise KeyError(device_id)
        return device

    def __contains__(self, device_id: object) -> bool:
        return self._store.has(device_id)

    def __iter__(self) -> Iterator[str]:
        return self._store.ids()

    def __len__(self) -> int:
        return self._store.count()


class DeviceStore:
    def __init__(self, fleet: Fleet | None = None) -> None:
        self.fleet = fleet or Fleet(0, [])
        # Materialised devices of the fleet, and devices added since it was loaded.
        self._live: dict[str, Device] = {}
        self._added: dict[str, Device] = {}
        self._added_owners: dict[str, list[str]] = {}
        self._added_partners: dict[str, list[str]] = {}
        # Devices that differ from their record (ever, since this store was built) and
        # those changed since the last take_changed().
        self._dirty: set[str] = set()
        self._pending: set[str] = set()
        # How many times each changed device changed: a reader that saw version v of a
        # device knows, at the same version, that nothing it could read has changed.
        self._versions: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self.devices = DeviceMap(self)

    # ------------------------------------------------------------------ lookups

    def has(self, device_id: object) -> bool:
        return device_id in self.fleet.records or device_id in self._added

    def ids(self) -> Iterator[str]:
        yield from self.fleet.records
        yield from self._added

    def count(self) -> int:
        return len(self.fleet.records) + len(self._added)

    def materialise(self, device_id: str) -> Device | None:
        """The full device (made from its record the first time), or None."""
        device = self._live.get(device_id) or self._added.get(device_id)
        if device is not None:
            return device
        record = self.fleet.records.get(device_id)
        if record is None:
            return None
        device = Device.from_record(record, self.fleet.status_of(record))
        self._live[device_id] = device
        return device

    def info(self, device_id: str) -> DeviceInfo | None:
        """What a listing needs, without materialising an untouched device."""
        return (
            self._live.get(device_id)
            or self._added.get(device_id)
            or self.fleet.records.get(device_id)
        )

    def infos(self) -> Iterator[DeviceInfo]:
        """Every device in scenario order (added ones last), materialised or not."""
        live = self._live
        for device_id, record in self.fleet.records.items():
            yield live.get(device_id) or record
        yield from self._added.values()

    def status_of(self, device_id: str) -> Status:
        """A device's current status, without keeping a generated one (exports)."""
        device = self._live.get(device_id) or self._added.get(device_id)
        if device is not None:
            return device.status
        return self.fleet.status_of(self.fleet.records[device_id])

    def is_materialised(self, device_id: str) -> bool:
        return device_id in self._live or device_id in self._added

    def has_generated_status(self, device_id: str) -> bool:
        """Whether the status is still the one the seed generates (nothing to store)."""
        record = self.fleet.records.get(device_id)
        return record is not None and record.status is None and device_id not in self._dirty

    def pristine(self, device_id: str) -> DeviceRecord | None:
        """The record of a fleet device never changed since this store was built, else None.

        Such a device reads exactly as its record says (status and ``online``), so what it
        reads now can be worked out later from the record alone (DR monitoring rows).
        """
        if device_id in self._dirty:
            return None
        return self.fleet.records.get(device_id)

    def get(self, device_id: str) -> Device:
        device = self.materialise(device_id)
        if device is None:
            raise ApiError(Err.DEVICE_NOT_FOUND, f"no device {device_id}", field="deviceId")
        return device

    def registered_to(self, partner_id: str) -> list[DeviceInfo]:
        ids = self.fleet.by_partner.get(partner_id, ())
        extra = self._added_partners.get(partner_id, ())
        return [info for info in map(self.info, (*ids, *extra)) if info is not None]

    def owned_by(self, user_number: str) -> list[DeviceInfo]:
        ids = self.fleet.by_owner.get(user_number, ())
        extra = self._added_owners.get(user_number, ())
        return [info for info in map(self.info, (*ids, *extra)) if info is not None]

    def owned_ids(self, user_number: str) -> tuple[str, ...]:
        return (*self.fleet.by_owner.get(user_number, ()), *self._added_owners.get(user_number, ()))

    # ------------------------------------------------------------------ changes

    def add(self, device: Device) -> None:
        if self.has(device.device_id):
            raise ValueError(f"device {device.device_id!r} is defined twice")
        self._added[device.device_id] = device
        if device.owner:
            self._added_owners.setdefault(device.owner, []).append(device.device_id)
        for partner_id in device.registered_to:
            self._added_partners.setdefault(partner_id, []).append(device.device_id)
        self._mark(device.device_id)
        self._notify(DeviceAdded(device))

    def added(self) -> list[str]:
        """Ids of devices added after the fleet was loaded, in the order they came."""
        return list(self._added)

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def control(self, device_id: str, command: Any) -> Device:
        """Apply a command from a client; the profile decides what is allowed."""
        device = self.get(device_id)
        if not device.online:
            raise ApiError(Err.DEVICE_OFFLINE, f"device {device_id} is not connected")
        device.status, changed = device.profile.apply_command(device.status, command)
        if changed:
            self._mark(device_id)
            self._notify(DeviceChange(device, changed, "control"))
        return device

    def change_from_device(self, device_id: str, change: Any) -> Device:
        """A change the device reports by itself (sandbox control API, timers, DR)."""
        device = self.get(device_id)
        device.status, changed = device.profile.apply_device_change(device.status, change)
        if changed:
            self._mark(device_id)
            self._notify(DeviceChange(device, changed, "device"))
        return device

    def raise_push(self, device_id: str, code: str) -> Device:
        device = self.get(device_id)
        if code not in device.profile.push_codes:
            raise ApiError(
                Err.INVALID_BODY,
                f"{code!r} is not a push code of device {device_id}; "
                f"its profile has {device.profile.push_codes}",
                field="code",
            )
        self._notify(DevicePush(device, code))
        return device

    def set_online(self, device_id: str, online: bool) -> Device:
        device = self.get(device_id)
        if device.online != online:
            device.online = online
            self._mark(device_id)
            self._notify(DeviceUpdate(device, ("online",)))
        return device

    def rename(self, device_id: str, alias: str) -> Device:
        """The owner renamed the device (in the ThinQ app)."""
        device = self.get(device_id)
        if device.alias != alias:
            device.alias = alias
            self._mark(device_id)
            self._notify(DeviceUpdate(device, ("alias",)))
        return device

    def changed_ids(self) -> set[str]:
        """Devices that differ from their scenario record (added ones included)."""
        return set(self._dirty)

    def has_changed(self) -> bool:
        return bool(self._pending)

    def changed_since_saved(self) -> set[str]:
        """What take_changed would say, kept (a copy)."""
        return set(self._pending)

    def take_changed(self) -> set[str]:
        """Devices changed since the last call (one consumer: the state file)."""
        taken, self._pending = self._pending, set()
        return taken

    def version(self, device_id: str) -> int:
        """0 for a device never changed since this store was built; +1 at each change."""
        return self._versions.get(device_id, 0)

    def _mark(self, device_id: str) -> None:
        self._dirty.add(device_id)
        self._pending.add(device_id)
        self._versions[device_id] = self._versions.get(device_id, 0) + 1

    def _notify(self, change: DeviceEvent) -> None:
        for listener in self._listeners:
            listener(change)


def initial_status(profile: DeviceProfile, seed: int, device_id: str) -> Status:
    """A device's generated status: the same for the same scenario seed and device id."""
    return profile.initial_status(random.Random(f"{seed}:{device_id}"))
