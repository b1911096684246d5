"""Demand response (DR): groups, users, events, targets and data files, over the devices.

A partner enrols LG users (``userNo``), groups them, and creates events: a window on the
sandbox clock, targets (groups, users, single devices, each opted IN or OUT) and signals
(what to do to which device type). While an event's window is open, every device it
reaches with opt IN gets its signals through the device simulator; a CONTROL_RESTORE
signal puts the values back when the window closes. What the devices did is recorded per
event and device, and a data zip is made from those records.

This module holds the state and the rules of the 14 operations; handlers translate.
``checks`` reads bodies, ``windows`` runs events over the devices, ``signals`` knows
what a signal does to one device, ``zip`` makes and signs the data files, ``pieces``
splits the family for the state file and ``model`` has the objects. The semantics are
in docs/spec-notes.md, "DR behaviour".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from mockserver.after_answer import InThread, Parts
from mockserver.backends.accounts import Accounts
from mockserver.backends.devices import Device, DeviceStore
from mockserver.backends.dr import checks
from mockserver.backends.dr.model import (
    ACTIVE,
    DEVICE,
    FINISHED,
    GROUP,
    OPT_IN,
    OPT_OUT,
    PHASES,
    SCHEDULED,
    USER,
    Control,
    DataFile,
    DrEvent,
    DrGroup,
    DrUser,
    Series,
    Target,
    Touched,
)
from mockserver.backends.dr.pieces import CONTROL, EVENT, FILE, HEAD, Key, Piece, PieceLog, split
from mockserver.backends.dr.windows import EventWindows, new_series
from mockserver.backends.dr.zip import Presigner, ZipJob, file_name
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError, Err

ZIP_READY_MS = 1_000
# Up to this many devices a data zip is made inside createDrDataZipFile, as a client test
# expects; a bigger one may be left to its job (``create_file(..., later=True)``): the
# file answers "not ready" until the job is done and ZIP_READY_MS has passed.
ZIP_INLINE_DEVICES = 1_000
ZIP_KEPT_MS = 24 * 3600 * 1000
URL_LIFETIME_S = 15 * 60
# The key of presigned URLs when a scenario names none: one per server process, so a
# reset or a reload does not change the state (and exports carry it, to load elsewhere).
PROCESS_FILE_SECRET = secrets.token_hex(16)


@dataclass
class DrDevice:
    """A DR user's device as listDrUserDevices/getDrUserDevice show it."""

    device: Device
    user: DrUser
    in_event: bool

    def to_api(self) -> dict[str, Any]:
        device = self.device
        return {
            "deviceId": device.device_id,
            "macAddress": mac_address(device.device_id),
            "groupId": self.user.group_id or "",
            "userNo": self.user.user_no,
            "homeId": device.home_id or "",
            "drParticipate": device.device_id not in self.user.excluded_devices,
            "opt": OPT_IN if self.in_event else OPT_OUT,
            "deviceType": device.device_type,
            "modelName": device.model_name,
            "alias": device.alias,
        }


def mac_address(device_id: str) -> str:
    """A stable stand-in for the seed's "MAC address of the device (encrypted)"."""
    return hashlib.sha256(f"lgmock-mac:{device_id}".encode()).hexdigest()[:16]


@dataclass
class BatchResult:
    item: checks.BatchItem
    error: ApiError | None = None


class DrBackend:
    def __init__(self, accounts: Accounts, devices: DeviceStore, clock: SandboxClock) -> None:
        self.accounts = accounts
        self.devices = devices
        self.clock = clock
        self.groups: dict[str, DrGroup] = {}
        self.users: dict[str, DrUser] = {}
        self.events: dict[str, DrEvent] = {}
        self.files: dict[str, DataFile] = {}
        # The zips still being made, by file name (a fleet's, left for after the answer).
        self._zipping: dict[str, ZipJob] = {}
        self._auth_codes: set[str] = set()  # of enrolled users
        self._partner_users: set[tuple[str, str | None]] = set()
        self.presigner = Presigner(PROCESS_FILE_SECRET)
        self.windows = EventWindows(devices, clock, self.users, self.events)
        self.changed: Callable[[], None] = _nothing  # the sandbox's "dr changed" mark
        self.windows.changed = lambda: self.changed()
        # Which pieces of the state changed, for the state file (dr_pieces): named
        # where they change, here and in the windows.
        self.pieces = PieceLog(lambda: self.changed())
        self.windows.pieces = self.pieces

    def _now_ms(self) -> int:
        return int(self.clock.timestamp() * 1000)

    def _check_partner(self, caller: str, named: str, field: str) -> None:
        if named not in self.accounts.partners:
            raise ApiError(Err.DR_PARTNER_NOT_FOUND, f"no partner {named!r}", field=field)
        if named != caller:
            raise ApiError(
                Err.FORBIDDEN,
                f"{field} {named!r} is not the calling partner {caller!r}: "
                "a partner sees and changes only its own DR data",
                field=field,
            )

    # ------------------------------------------------------------------ groups

    def put_group(self, caller: str, group: DrGroup) -> DrGroup:
        self._check_partner(caller, group.partner_id, "body.partnerId")
        known = self.groups.get(group.group_id)
        if known is not None and known.partner_id != caller:
            raise ApiError(
                Err.DR_GROUP_EXISTS,
                f"group {group.group_id!r} belongs to another partner",
                field="body.groupId",
            )
        self.groups[group.group_id] = group
        self.pieces.head()
        self.windows.settle()
        return group

    def group(self, caller: str, group_id: str, field: str = "groupId") -> DrGroup:
        group = self.groups.get(group_id)
        if group is None or group.partner_id != caller:
            raise ApiError(
                Err.DR_GROUP_NOT_FOUND, f"no group {group_id!r} of partner {caller}", field=field
            )
        return group

    def groups_of(self, caller: str, partner_id: str) -> list[DrGroup]:
        self._check_partner(caller, partner_id, "partnerId")
        return [group for group in self.groups.values() if group.partner_id == caller]

    # ------------------------------------------------------------------ users

    def create_user(self, caller: str, user: DrUser) -> DrUser:
        self._check_partner(caller, user.partner_id, "body.partner.partnerId")
        if user.group_id is not None:
            self.group(caller, user.group_id, "body.groupId")
        self._check_new_user(user, "body")
        self._enrol(user)
        self.windows.settle()  # an active event may already target the user's group
        return user

    def _check_new_user(self, user: DrUser, root: str) -> None:
        if user.user_no in self.users:
            raise ApiError(
                Err.DR_USER_EXISTS,
                f"user {user.user_no} is already enrolled in DR (one userNo, one enrolment)",
                field=f"{root}.userNo",
            )
        # Looked up, not scanned: a fleet scenario enrols thousands of users.
        if user.auth_code_ext in self._auth_codes:
            raise ApiError(
                Err.DR_AUTH_CODE_CONNECTED,
                "this authCodeExt is already connected to another DR user",
                field=f"{root}.partner.authCodeExt",
            )
        if user.partner_user_id and (user.partner_id, user.partner_user_id) in self._partner_users:
            raise ApiError(
                Err.DR_PARTNER_USER_EXISTS,
                f"partner user {user.partner_user_id!r} is already linked to another DR user",
                field=f"{root}.partner.partnerUserId",
            )

    def _enrol(self, user: DrUser) -> None:
        self.users[user.user_no] = user
        self.pieces.head()
        self._auth_codes.add(user.auth_code_ext)
        if user.partner_user_id:
            self._partner_users.add((user.partner_id, user.partner_user_id))

    def user(self, caller: str, user_no: str) -> DrUser:
        user = self.users.get(user_no)
        if user is None or user.partner_id != caller:
            raise ApiError(
                Err.DR_USER_NOT_FOUND,
                f"no DR user {user_no!r} enrolled with partner {caller}",
                field="userNo",
            )
        return user

    def delete_user(self, caller: str, user_no: str) -> DrUser:
        """The user leaves DR: its targets go, its devices are released (and restored)."""
        user = self.user(caller, user_no)
        del self.users[user_no]
        self.pieces.head()
        self._auth_codes.discard(user.auth_code_ext)
        self._partner_users.discard((user.partner_id, user.partner_user_id))
        owned = {device.device_id for device in self.devices.owned_by(user_no)}
        for event in self._events_of(caller):
            for target in list(event.targets.values()):
                if (target.type == USER and target.id == user_no) or (
                    target.type == DEVICE and target.id in owned
                ):
                    del event.targets[target.id]
                    self.pieces.event(event.event_id)
        self.windows.settle()
        return user

    def user_view(self, user: DrUser) -> dict[str, Any]:
        homes = [d.home_id for d in self.devices.owned_by(user.user_no) if d.home_id]
        return {
            "userNo": user.user_no,
            "drHomeId": homes[0] if homes else "",
            "partnerId": user.partner_id,
            "groupId": user.group_id or "",
        }

    def user_devices(self, caller: str, user_no: str) -> list[DrDevice]:
        user = self.user(caller, user_no)
        taking_part = self.windows.taking_part(planned=True)
        return [
            DrDevice(device, user, device.device_id in taking_part)
            for device in self.devices.owned_by(user.user_no)
        ]

    def user_device(self, caller: str, user_no: str, device_id: str) -> DrDevice:
        for view in self.user_devices(caller, user_no):
            if view.device.device_id == device_id:
                return view
        raise ApiError(
            Err.DR_DEVICE_NOT_FOUND, f"user {user_no} has no device {device_id}", field="deviceId"
        )

    # ------------------------------------------------------------------ events

    def _events_of(self, partner_id: str) -> Iterator[DrEvent]:
        return (event for event in self.events.values() if event.partner_id == partner_id)

    def event(self, caller: str, event_id: str, field: str = "eventId") -> DrEvent:
        event = self.events.get(event_id)
        if event is None or event.partner_id != caller:
            raise ApiError(
                Err.DR_EVENT_NOT_FOUND, f"no event {event_id!r} of partner {caller}", field=field
            )
        return event

    def put_event(self, caller: str, body: Any, *, later: bool = False) -> DrEvent:
        """Create an event, or update the caller's event with that id (BC-34).

        ``later``: a window this opens over a fleet may be left to ``windows.open_part``
        (EventWindows.settle); the caller goes on with ``opening_parts`` after its answer.
        """
        event_id = body.get("eventId") if isinstance(body, dict) else None
        known = self.events.get(event_id) if isinstance(event_id, str) else None
        spec = checks.parse_event(body, "body", known.targets if known else None)
        self._check_partner(caller, spec.partner_id, "body.partnerId")
        if known is not None and known.partner_id != caller:
            raise ApiError(
                Err.DR_EVENT_EXISTS,
                f"event {spec.event_id!r} belongs to another partner",
                field="body.eventId",
            )
        now = self._now_ms()
        if spec.end_ms <= now:
            raise checks.invalid(
                "body.endTs",
                f"the window is already over on the sandbox clock (endTs {spec.end_ms} <= "
                f"now {now})",
            )
        for target in spec.targets.values():
            field = _target_field(body, target.id)
            self._check_target(caller, target, field)
            self._check_device_overlap(caller, spec, target, field)
        if known is None:
            self.events[spec.event_id] = spec
        else:
            known.event_name = spec.event_name
            known.start_ms, known.end_ms = spec.start_ms, spec.end_ms
            known.targets, known.signals = spec.targets, spec.signals
            # A window moved into the future runs again from its new start.
            if known.phase == FINISHED or (known.phase == ACTIVE and spec.start_ms > now):
                known.phase, known.next_sample_ms = SCHEDULED, None
        self.pieces.event(spec.event_id)
        self.windows.settle(later=later)
        return known or spec

    def opening_parts(self) -> Parts:
        """What ``put_event(..., later=True)`` left of a window opening: the members it has
        not reached yet, a part at a time."""
        while self.windows.open_part():
            yield

    def _check_target(self, caller: str, target: Target, field: str) -> None:
        """The id names something of the caller's (404 with the kind's code otherwise)."""
        if target.type == GROUP:
            self.group(caller, target.id, field)
        elif target.type == USER:
            user = self.users.get(target.id)
            if user is not None and user.partner_id == caller:
                return
            if target.id in self.accounts.users:
                raise ApiError(
                    Err.DR_PARTNER_USER_NOT_FOUND,
                    f"LG user {target.id} is not enrolled in DR with partner {caller} "
                    "(POST /v1/dr/users first)",
                    field=field,
                )
            raise ApiError(Err.DR_USER_NOT_FOUND, f"no DR user {target.id!r}", field=field)
        else:
            device = self.devices.devices.get(target.id)
            owner = self.users.get(device.owner) if device and device.owner else None
            if owner is None or owner.partner_id != caller:
                raise ApiError(
                    Err.DR_DEVICE_NOT_FOUND,
                    f"no device {target.id!r} of a DR user of partner {caller}",
                    field=field,
                )

    def _check_device_overlap(
        self, caller: str, event: DrEvent, target: Target, field: str
    ) -> None:
        """A device is a DEVICE target of one event at a time (DR-08: 409 4314)."""
        if target.type != DEVICE:
            return
        for other in self._events_of(caller):
            if other.event_id == event.event_id or not other.overlaps(event):
                continue
            named = other.targets.get(target.id)
            if named is not None and named.type == DEVICE:
                raise ApiError(
                    Err.DR_DEVICE_EXISTS,
                    f"device {target.id} is already a DEVICE target of event "
                    f"{other.event_id!r}, whose window overlaps this one",
                    field=field,
                )

    # ------------------------------------------------------------------ targets

    def add_target(self, caller: str, event_id: str, target: Target) -> Target:
        event = self.event(caller, event_id)
        self._add_target(caller, event, target, "body")
        self.windows.settle()
        return target

    def _add_target(self, caller: str, event: DrEvent, target: Target, root: str) -> None:
        field = f"{root}.id"
        if target.id in event.targets:
            raise ApiError(
                Err.DR_TARGET_EXISTS,
                f"{target.id!r} is already a {event.targets[target.id].type} target of "
                f"event {event.event_id!r}",
                field=field,
            )
        self._check_target(caller, target, field)
        self._check_device_overlap(caller, event, target, field)
        event.targets[target.id] = target
        self.pieces.event(event.event_id)

    def update_target(self, caller: str, event_id: str, target_id: str, opt: str) -> Target:
        event = self.event(caller, event_id)
        target = self._target(event, target_id, "targetId")
        target.opt = opt
        self.pieces.event(event.event_id)
        self.windows.settle()
        return target

    def _target(self, event: DrEvent, target_id: str, field: str) -> Target:
        target = event.targets.get(target_id)
        if target is None:
            raise ApiError(
                Err.DR_TARGET_NOT_FOUND,
                f"event {event.event_id!r} has no target {target_id!r}",
                field=field,
            )
        return target

    def batch_targets(
        self, caller: str, event_id: str, items: list[checks.BatchItem]
    ) -> list[BatchResult]:
        """Each item on its own (BC-45): one failing item leaves the others applied."""
        event = self.event(caller, event_id)
        results = []
        for index, item in enumerate(items):
            try:
                self._batch_item(caller, event, item, f"body[{index}]")
                results.append(BatchResult(item))
            except ApiError as error:
                results.append(BatchResult(item, error))
        self.pieces.event(event.event_id)
        self.windows.settle()
        return results

    def _batch_item(self, caller: str, event: DrEvent, item: checks.BatchItem, root: str) -> None:
        if item.action == "create":
            if item.path != "/":
                raise checks.invalid(f"{root}.path", f"must be '/' to create, got {item.path!r}")
            target = checks.parse_target(item.value, f"{root}.value")
            self._add_target(caller, event, target, f"{root}.value")
        elif item.action in ("update", "replace"):
            if not item.path.startswith("/") or len(item.path) < 2:
                raise checks.invalid(
                    f"{root}.path", f"must be '/{{targetId}}' to {item.action}, got {item.path!r}"
                )
            opt = checks.opt(item.value, f"{root}.value")
            self._target(event, unquote(item.path[1:]), f"{root}.path").opt = opt
        else:
            raise checks.invalid(
                f"{root}.action", f"{item.action!r} is not one of create, update, replace"
            )

    # ------------------------------------------------------------------ data files

    def create_file(
        self, caller: str, request: checks.ZipRequest, *, later: bool = False
    ) -> DataFile:
        """The data file, made now; or, if ``later`` and it holds more than
        ZIP_INLINE_DEVICES devices, with ``content`` None and its ``job`` for the caller
        to finish (``finish_file``)."""
        event = self.event(caller, request.event_id, "body.eventId")
        self.windows.finish_opening()  # the zip holds what the signals did
        if request.targets is None:
            targets, keys = list(event.targets.values()), None
        else:
            targets = []
            for index, wanted in enumerate(request.targets):
                field = f"body.targets[{index}].targetId"
                known = self._target(event, wanted.id, field)
                if known.type != wanted.type:
                    raise ApiError(
                        Err.DR_TARGET_NOT_FOUND,
                        f"event {event.event_id!r} has no {wanted.type} target {wanted.id!r} "
                        f"(it is a {known.type} target)",
                        field=field,
                    )
                targets.append(known)
            keys = {target.key for target in targets}
        created = self._now_ms()
        while file_name(event.event_id, created) in self.files:
            created += 1
        name = file_name(event.event_id, created)
        job = ZipJob(event, self._file_series(event, keys), targets, created)
        data = DataFile(
            name,
            caller,
            event.event_id,
            created,
            created + ZIP_READY_MS,
            created + ZIP_READY_MS + ZIP_KEPT_MS,
            None,
        )
        self.files[name] = data
        self._zipping[name] = job
        if not later or len(job) <= ZIP_INLINE_DEVICES:
            self._finish_now(data)
        self.pieces.file(name)
        return data

    def zip_parts(self, data: DataFile) -> Parts:
        """What a data file left for later (``create_file(..., later=True)``): its rows a
        part at a time on the loop, then the CSVs and deflate in a thread."""
        job = self._zipping.get(data.file_name)
        if job is None:
            return  # made meanwhile (an export finishes every zip)
        yield from job.take_rows()
        self.finish_file(data, (yield InThread(job.compress)))

    def finish_file(self, data: DataFile, content: bytes) -> None:
        """A job's zip is made: the file is ready once its ZIP_READY_MS has passed too."""
        self._zipping.pop(data.file_name, None)
        if data.content is None:  # an export may have made it meanwhile (same bytes)
            data.content = content
            self.pieces.file(data.file_name)

    def _finish_now(self, data: DataFile) -> DataFile:
        """``data`` with its content, its zip made here and now if its job had not."""
        job = self._zipping.get(data.file_name)
        if data.content is None and job is not None:
            for _ in job.take_rows():
                pass
            self.finish_file(data, job.compress())
        return data

    def _file_series(self, event: DrEvent, keys: set[str] | None) -> dict[str, Series]:
        """Recorded series of the devices the targets reached, and those they reach now."""
        chosen = {
            device_id: series
            for device_id, series in event.series.items()
            if keys is None or keys.intersection(series.targets)
        }
        for device_id, member in self.windows.members(event).items():
            if device_id not in chosen and (keys is None or keys.intersection(member.covering)):
                chosen[device_id] = new_series(member)
        return chosen

    def file(self, caller: str, filename: str) -> DataFile:
        data = self.files.get(filename)
        if data is None or data.partner_id != caller:
            raise ApiError(
                Err.DR_ZIP_TASK_NOT_FOUND,
                f"no data zip {filename!r} was created by partner {caller}",
                field="filename",
            )
        now = self._now_ms()
        if now < data.ready_ms:
            raise ApiError(
                Err.DR_ZIP_FILE_NOT_FOUND,
                f"{filename} is not ready yet: ready {data.ready_ms - now} ms later on the "
                "sandbox clock",
                field="filename",
            )
        if data.content is None:
            raise ApiError(
                Err.DR_ZIP_FILE_NOT_FOUND,
                f"{filename} is not ready yet: its {len(self._zipping.get(filename) or ())} "
                "devices' data is "
                "still being zipped",
                field="filename",
            )
        if now >= data.expires_ms:
            raise ApiError(Err.DR_ZIP_FILE_NOT_FOUND, f"{filename} has expired", field="filename")
        return data

    def presigned_url(self, data: DataFile, base_url: str) -> str:
        expires = int(self.clock.timestamp()) + URL_LIFETIME_S
        return self.presigner.url(base_url, data.file_name, expires)

    def open_file(self, filename: str, expires: int, signature: str) -> bytes:
        """The bytes behind a presigned URL, if its signature and expiry hold."""
        if not self.presigner.verify(filename, expires, signature):
            raise ApiError(
                Err.FORBIDDEN,
                "the signature does not match this file and expiry",
                field="signature",
            )
        if expires <= self.clock.timestamp():
            raise ApiError(Err.FORBIDDEN, "this URL has expired (sandbox clock)", field="expires")
        data = self.files.get(filename)
        now = self._now_ms()
        if data is None or data.content is None or not data.ready_ms <= now < data.expires_ms:
            raise ApiError(Err.DR_ZIP_FILE_NOT_FOUND, f"no file {filename}", field="filename")
        return data.content

    # ------------------------------------------------------------------ time

    def tick(self, now: datetime) -> None:
        """The sandbox clock reads ``now``: start or end event windows that are due."""
        self.windows.tick(now)

    # ------------------------------------------------------------------ scenario

    def load(self, data: dict[str, Any], source: str) -> list[str]:
        """Take the scenario's `dr:` block; return 'source: path: reason' problems."""
        problems: list[str] = []
        if data.get("fileSecret"):
            self.presigner = Presigner(str(data["fileSecret"]))
        loaders = (
            ("groups", self._load_group),
            ("users", self._load_user),
            ("events", self._load_event),
            ("files", self._load_file),
        )
        for key, loader in loaders:
            for index, item in enumerate(data.get(key) or []):
                root = f"$.dr.{key}[{index}]"
                try:
                    loader(item, root)
                except ApiError as error:
                    problems.append(f"{source}: {_problem(error, root)}")
                except (AttributeError, KeyError, TypeError, ValueError, binascii.Error) as error:
                    problems.append(f"{source}: {root}: cannot be read: {error!r}")
        # What a scenario holds is in the state file already (its base, or the pieces
        # it was restored from); a load through the control API rewrites them all.
        self.pieces.take()
        return problems

    def _load_group(self, item: Any, root: str) -> None:
        group = checks.parse_group(item, root)
        self._known_partner(group.partner_id, f"{root}.partnerId")
        if group.group_id in self.groups:
            raise checks.invalid(f"{root}.groupId", f"{group.group_id!r} is defined twice")
        self.groups[group.group_id] = group

    def _load_user(self, item: Any, root: str) -> None:
        user = checks.parse_user(item, root, int(self.clock.timestamp()))
        self._known_partner(user.partner_id, f"{root}.partner.partnerId")
        if user.group_id is not None:
            self.group(user.partner_id, user.group_id, f"{root}.groupId")
        self._check_new_user(user, root)
        excluded = item.get("excludedDevices") or []
        for index, device_id in enumerate(excluded):
            device = self.devices.devices.get(device_id) if isinstance(device_id, str) else None
            if device is None or device.owner != user.user_no:
                raise checks.invalid(
                    f"{root}.excludedDevices[{index}]",
                    f"no device {device_id!r} owned by {user.user_no} in $.devices",
                )
        user.excluded_devices = list(excluded)
        self._enrol(user)

    def _load_event(self, item: Any, root: str) -> None:
        event = checks.parse_event(item, root)
        self._known_partner(event.partner_id, f"{root}.partnerId")
        if event.event_id in self.events:
            raise checks.invalid(f"{root}.eventId", f"{event.event_id!r} is defined twice")
        for target in event.targets.values():
            field = f"{root}.targets"
            self._check_target(event.partner_id, target, field)
            self._check_device_overlap(event.partner_id, event, target, field)
        progress = item.get("progress") or {}
        phase = progress.get("phase", SCHEDULED)
        if phase not in PHASES:
            raise checks.invalid(f"{root}.progress.phase", f"{phase!r} is not one of {PHASES}")
        event.phase = phase
        next_sample = progress.get("nextSampleTs")
        event.next_sample_ms = None if next_sample is None else int(next_sample)
        for device_id, touched in (progress.get("controls") or {}).items():
            control = Control()
            for entry in touched:
                one = Touched.from_scenario(entry)
                control.touched[one.ref_key] = one
            event.controls[device_id] = control
        for device_id, series in (progress.get("series") or {}).items():
            event.series[device_id] = Series.from_scenario(series)
        self.events[event.event_id] = event

    def _load_file(self, item: Any, root: str) -> None:
        checks.as_object(item, root)
        name = checks.text(item, "fileName", root)
        partner_id = checks.text(item, "partnerId", root)
        event_id = checks.text(item, "eventId", root)
        assert name is not None and partner_id is not None and event_id is not None
        self._known_partner(partner_id, f"{root}.partnerId")
        self.event(partner_id, event_id, f"{root}.eventId")
        self.files[name] = DataFile(
            name,
            partner_id,
            event_id,
            int(item["createdTs"]),
            int(item["readyTs"]),
            int(item["expiresTs"]),
            base64.b64decode(item["content"], validate=True),
        )

    def _known_partner(self, partner_id: str, field: str) -> None:
        if partner_id not in self.accounts.partners:
            raise checks.invalid(field, f"no partner {partner_id!r} in $.partners")

    def export(self) -> dict[str, Any]:
        self.windows.finish_opening()  # a state holds windows whole
        return {
            **self._head(),
            "events": [event.to_scenario() for event in self.events.values()],
            "files": [self._finish_now(data).to_scenario() for data in self.files.values()],
        }

    # ------------------------------------------------------------------ state file

    def _head(self) -> dict[str, Any]:
        return {
            "fileSecret": self.presigner.secret,
            "groups": [group.to_scenario() for group in self.groups.values()],
            "users": [user.to_scenario() for user in self.users.values()],
        }

    def all_pieces(self) -> list[Piece]:
        """The whole state as pieces (dr_pieces). The change log is kept: the state
        file empties it (``pieces.take``) once these are committed."""
        return split(self.export())

    def changed_pieces(self) -> tuple[list[Piece], list[Key]]:
        """The pieces changed since the state file last committed them, as they are now,
        and the keys of those that are gone (the change log is kept, as above)."""
        self.windows.finish_opening()  # a state holds windows whole
        written: list[Piece] = []
        gone: list[Key] = []
        for key in self.pieces.keys():
            value = self._piece(*key)
            if value is None:
                gone.append(key)
            else:
                written.append((*key, value))
        return written, gone

    def _piece(self, kind: str, event_id: str, item: str) -> Any:
        """A piece's scenario value now; None if it is gone."""
        if kind == HEAD:
            return self._head()
        if kind == FILE:
            data = self.files.get(item)
            return None if data is None else self._finish_now(data).to_scenario()
        event = self.events.get(event_id)
        if event is None:
            return None
        if kind == EVENT:
            return event.to_scenario(members=False)
        held = event.controls.get(item) if kind == CONTROL else event.series.get(item)
        return None if held is None else held.to_scenario()


def _nothing() -> None:
    pass


def _target_field(body: dict[str, Any], target_id: str) -> str:
    """Where an event body names ``target_id``, for the message of a refusal."""
    for index, group in enumerate(body.get("targets") or []):
        ids = group.get("targetIds") if isinstance(group, dict) else None
        if isinstance(ids, list) and target_id in ids:
            return f"body.targets[{index}].targetIds[{ids.index(target_id)}]"
    return "body.targets"


def _problem(error: ApiError, root: str) -> str:
    """An ApiError as a scenario problem line: 'path: reason'."""
    field = error.field or root
    if error.message.startswith(field):
        return error.message
    return f"{field}: {error.message}"
