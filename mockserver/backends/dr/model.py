"""The DR API's plain objects: groups, users, events with their targets and signals, the
progress of an event's window on devices, and the data files made from it.

Each object renders itself two ways: ``to_api`` (what an operation answers) and
``to_scenario`` (the scenario's ``dr:`` block, which is the request bodies' own shape
plus what the sandbox tracked since, so a client can paste a body into a scenario).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Protocol

GROUP = "GROUP"
USER = "USER"
DEVICE = "DEVICE"
TARGET_TYPES = (GROUP, USER, DEVICE)

OPT_IN = "IN"
OPT_OUT = "OUT"
OPTS = (OPT_IN, OPT_OUT)

CONTROL = "CONTROL"
CONTROL_RESTORE = "CONTROL_RESTORE"
SIGNAL_TYPES = (CONTROL, CONTROL_RESTORE)
TEMPERATURE = "Temperature"
TWO_SET_TEMPERATURE = "TwoSetTemperature"
TOU = "ToU"
EMPTY = "Empty"
CONTROL_TYPES = (TEMPERATURE, TWO_SET_TEMPERATURE, TOU, EMPTY)
RESTORE_TYPES = (TEMPERATURE, TWO_SET_TEMPERATURE, EMPTY)

SCHEDULED = "scheduled"
ACTIVE = "active"
FINISHED = "finished"
PHASES = (SCHEDULED, ACTIVE, FINISHED)


def _present(**values: Any) -> dict[str, Any]:
    """Scenario form: leave out what was never set, so a file stays as short as written."""
    return {name: value for name, value in values.items() if value is not None}


@dataclass
class DrGroup:
    group_id: str
    partner_id: str
    group_name: str | None = None
    area_code: str | None = None
    building_code: str | None = None
    comment: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "groupId": self.group_id,
            "groupName": self.group_name or "",
            "partnerId": self.partner_id,
            "areaCode": self.area_code or "",
            "buildingCode": self.building_code or "",
            "comment": self.comment or "",
        }

    def to_scenario(self) -> dict[str, Any]:
        return _present(
            groupId=self.group_id,
            groupName=self.group_name,
            partnerId=self.partner_id,
            areaCode=self.area_code,
            buildingCode=self.building_code,
            comment=self.comment,
        )


@dataclass
class DrUser:
    user_no: str
    partner_id: str
    auth_code_ext: str
    access_token: str
    refresh_token: str
    insert_ts: int
    update_ts: int
    mail: str | None = None
    group_id: str | None = None
    program_id: str | None = None
    program_name: str | None = None
    partner_user_id: str | None = None
    # Devices the user left out of auto-DR in the ThinQ app (drParticipate false): no
    # signal ever reaches them. Only a scenario can say so; no DR operation sets it.
    excluded_devices: list[str] = field(default_factory=list)

    def to_scenario(self) -> dict[str, Any]:
        partner = _present(
            partnerId=self.partner_id,
            programId=self.program_id,
            programName=self.program_name,
            partnerUserId=self.partner_user_id,
            authCodeExt=self.auth_code_ext,
        )
        document = _present(
            userNo=self.user_no,
            mail=self.mail,
            groupId=self.group_id,
            accessToken=self.access_token,
            refreshToken=self.refresh_token,
        )
        document.update(partner=partner, insertTs=self.insert_ts, updateTs=self.update_ts)
        if self.excluded_devices:
            document["excludedDevices"] = list(self.excluded_devices)
        return document


@dataclass
class Target:
    type: str
    id: str
    opt: str = OPT_IN

    @property
    def key(self) -> str:
        return f"{self.type}:{self.id}"

    def to_api(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "opt": self.opt}


@dataclass
class TemperatureBounds:
    low: float
    high: float
    unit: str  # "C" or "F"


@dataclass
class Signal:
    """One signal of an event, kept as sent (``raw``) with the fields the sandbox acts on."""

    raw: dict[str, Any]
    signal_id: str
    device_type: str
    model_names: list[str]
    signal_type: str
    control_type: str  # EMPTY when absent (BC-32: `constrolType` counts as absent)
    restore_type: str | None
    temperature: TemperatureBounds | None

    def matches(self, device_type: str, model_name: str) -> bool:
        if device_type != self.device_type:
            return False
        return not self.model_names or model_name in self.model_names

    def restores(self, kind: str) -> bool:
        """Whether the end of the window puts back what this signal's ``kind`` changed."""
        if self.signal_type != CONTROL_RESTORE:
            return False
        return (self.restore_type or self.control_type) == kind


@dataclass
class Touched:
    """One attribute a signal changed on a device, and its value before the event."""

    location: str | None
    resource: str
    key_field: str | None
    key: str | None
    attribute: str
    previous: Any
    restore: bool

    @property
    def ref_key(self) -> str:
        return ref_key(self.location, self.resource, self.key, self.attribute)

    def to_scenario(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "resource": self.resource,
            "keyField": self.key_field,
            "key": self.key,
            "attribute": self.attribute,
            "previous": self.previous,
            "restore": self.restore,
        }

    @classmethod
    def from_scenario(cls, data: dict[str, Any]) -> Touched:
        if not isinstance(data.get("resource"), str) or not isinstance(data.get("attribute"), str):
            raise ValueError(f"a control entry needs a resource and an attribute: {data!r}")
        return cls(
            location=data.get("location"),
            resource=data["resource"],
            key_field=data.get("keyField"),
            key=data.get("key"),
            attribute=data["attribute"],
            previous=data.get("previous"),
            restore=bool(data.get("restore", False)),
        )


def ref_key(location: str | None, resource: str, key: str | None, attribute: str) -> str:
    """A readable name of one attribute of a status: ``temperature[FRIDGE].targetTemperature``."""
    where = f"{location}/" if location else ""
    entry = f"[{key}]" if key is not None else ""
    return f"{where}{resource}{entry}.{attribute}"


@dataclass
class Control:
    """A device under an event's signals: what was changed, to put back at the end."""

    touched: dict[str, Touched] = field(default_factory=dict)

    def to_scenario(self) -> list[dict[str, Any]]:
        return [touched.to_scenario() for touched in self.touched.values()]


class LaterRow(Protocol):
    """A monitoring row of a device that had never changed: worked out when first read.

    A window opening over 100,000 devices records a row for each; for the untouched ones
    the row follows from the device's scenario record alone, so making it (the device's
    generated status, its reading) waits until someone reads the series (docs/scale.md).
    """

    epoch_ms: int

    def realise(self) -> dict[str, Any]: ...


@dataclass
class Series:
    """A device's monitoring data during an event's window (the data zip's content)."""

    user_no: str
    device_type: str
    model_name: str
    alias: str
    targets: list[str] = field(default_factory=list)  # keys of every target that covered it
    # Rows, oldest first; a LaterRow stands for a row until it is read (``rows``).
    entries: list[dict[str, Any] | LaterRow] = field(default_factory=list)
    interval_rows: int = 0
    # The device's version (DeviceStore.version) when its last row was written or found
    # the same; -1: unknown (a series loaded from a scenario). Not part of the scenario.
    seen_version: int = field(default=-1, compare=False)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row, each LaterRow made (once: it is kept in its place)."""
        return self.first_rows(len(self.entries))

    def first_rows(self, count: int) -> list[dict[str, Any]]:
        entries = self.entries
        for index in range(count):
            item = entries[index]
            if not isinstance(item, dict):
                entries[index] = item.realise()
        return entries[:count]  # type: ignore[return-value]

    def last_epoch_ms(self) -> int | None:
        if not self.entries:
            return None
        last = self.entries[-1]
        return int(last["epochMs"]) if isinstance(last, dict) else last.epoch_ms

    def last_row(self) -> dict[str, Any] | None:
        if not self.entries:
            return None
        last = self.entries[-1]
        if not isinstance(last, dict):
            last = self.entries[-1] = last.realise()
        return last

    def to_scenario(self) -> dict[str, Any]:
        return {
            "userNo": self.user_no,
            "deviceType": self.device_type,
            "modelName": self.model_name,
            "alias": self.alias,
            "targets": list(self.targets),
            "intervalRows": self.interval_rows,
            "rows": [dict(row) for row in self.rows],
        }

    @classmethod
    def from_scenario(cls, data: dict[str, Any]) -> Series:
        for row in data.get("rows", []):
            if not isinstance(row, dict) or not isinstance(row.get("epochMs"), int):
                raise ValueError(f"a series row needs an integer epochMs: {row!r}")
        return cls(
            user_no=data["userNo"],
            device_type=data["deviceType"],
            model_name=data.get("modelName", ""),
            alias=data.get("alias", ""),
            targets=list(data.get("targets", [])),
            entries=[dict(row) for row in data.get("rows", [])],
            interval_rows=int(data.get("intervalRows", 0)),
        )


@dataclass
class DrEvent:
    event_id: str
    partner_id: str
    event_name: str
    start_ms: int
    end_ms: int
    targets: dict[str, Target] = field(default_factory=dict)  # by target id (BC-41)
    signals: list[Signal] = field(default_factory=list)
    phase: str = SCHEDULED
    next_sample_ms: int | None = None
    controls: dict[str, Control] = field(default_factory=dict)  # by device id
    series: dict[str, Series] = field(default_factory=dict)  # by device id

    def overlaps(self, other: DrEvent) -> bool:
        return self.start_ms < other.end_ms and other.start_ms < self.end_ms

    def targets_to_scenario(self) -> list[dict[str, Any]]:
        """The event body's ``{targetType, targetIds}`` groups, with the opt they hold now."""
        groups: list[dict[str, Any]] = []
        for target in self.targets.values():
            group = next(
                (g for g in groups if g["targetType"] == target.type and g["opt"] == target.opt),
                None,
            )
            if group is None:
                group = {"targetType": target.type, "targetIds": [], "opt": target.opt}
                groups.append(group)
            group["targetIds"].append(target.id)
        return groups

    def to_scenario(self, *, members: bool = True) -> dict[str, Any]:
        """The scenario event; without its members' controls and series unless ``members``
        (the state file stores those by the piece: dr_pieces)."""
        progress: dict[str, Any] = {"phase": self.phase, "nextSampleTs": self.next_sample_ms}
        if members:
            progress["controls"] = {
                device_id: control.to_scenario() for device_id, control in self.controls.items()
            }
            progress["series"] = {
                device_id: s.to_scenario() for device_id, s in self.series.items()
            }
        return {
            "eventId": self.event_id,
            "eventName": self.event_name,
            "partnerId": self.partner_id,
            "startTs": self.start_ms,
            "endTs": self.end_ms,
            "targets": self.targets_to_scenario(),
            "signals": [dict(signal.raw) for signal in self.signals],
            "progress": progress,
        }


@dataclass
class DataFile:
    """A data zip made by createDrDataZipFile: ready a moment later, kept for a while.

    ``content`` is None while the zip is still being made (a fleet's zip): the job that
    makes it is the backend's (``DrBackend.zip_parts``), not the file's.
    """

    file_name: str
    partner_id: str
    event_id: str
    created_ms: int
    ready_ms: int
    expires_ms: int
    content: bytes | None  # None while the backend's job is still making it

    def to_scenario(self) -> dict[str, Any]:
        assert self.content is not None, "the backend finishes a data file before its export"
        return {
            "fileName": self.file_name,
            "partnerId": self.partner_id,
            "eventId": self.event_id,
            "createdTs": self.created_ms,
            "readyTs": self.ready_ms,
            "expiresTs": self.expires_ms,
            "content": base64.b64encode(self.content).decode("ascii"),
        }
