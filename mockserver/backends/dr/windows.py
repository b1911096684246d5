"""DR event windows at work: which devices an event reaches, what its signals do to them
on the sandbox clock, and the monitoring series recorded meanwhile.

``DrBackend`` owns the DR state and its rules; this class runs the events over the
devices and is driven by ``tick`` (the sandbox clock moved), ``settle`` (a DR call
changed something) and ``heard`` (a device changed through any API). It shares the
backend's ``users`` and ``events`` mappings. The semantics are spec-notes DR-01 to DR-09.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mockserver.backends.devices import (
    Device,
    DeviceChange,
    DeviceEvent,
    DeviceInfo,
    DeviceRecord,
    DeviceStore,
    DeviceUpdate,
    Fleet,
)
from mockserver.backends.dr import signals
from mockserver.backends.dr.model import (
    ACTIVE,
    DEVICE,
    FINISHED,
    GROUP,
    OPT_IN,
    SCHEDULED,
    USER,
    Control,
    DrEvent,
    DrUser,
    Series,
    Target,
    Touched,
)
from mockserver.backends.dr.pieces import PieceLog
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError
from mockserver.profiles.values import same_value

SAMPLE_INTERVAL_MS = 5 * 60 * 1000
# Interval rows are the state repeated; past a week of them per device and event the
# series keeps only changes, so a clock moved by a year does not write 100,000 rows.
MAX_INTERVAL_ROWS = 7 * 24 * 12

# Transition kinds in the order they run when due at the same instant: a device passes
# from an event that ends to one that starts.
END, SAMPLE, START = 0, 1, 2
# A window opened by a DR call over more members than this may be opened in parts after
# the call's answer (``settle(later=True)``, ``open_part``), PART members at a time.
OPEN_INLINE_MEMBERS = 1_000
OPEN_PART = 500


@dataclass
class Opening:
    """A window opened over a fleet, its members not all reached yet (in order)."""

    event: DrEvent
    at_ms: int
    pending: dict[str, None]  # member ids still to reach, in members() order


@dataclass
class Member:
    """A device an event reaches: through which targets, and whether it takes part.

    It holds what a listing holds (``info``): the full device, with its status, is made
    only when a signal reaches it or a row is read from it (``device``), so an event over
    100,000 devices costs a record each until they are touched.
    """

    info: DeviceInfo
    user: DrUser
    opt: str  # the most specific covering target's
    covering: tuple[str, ...]  # keys of every target that reaches it, most specific first
    participating: bool
    store: DeviceStore = field(repr=False, compare=False)

    @property
    def device_id(self) -> str:
        return self.info.device_id

    @property
    def device(self) -> Device:
        return self.store.get(self.info.device_id)

    @property
    def online(self) -> bool:
        current = self.store.info(self.info.device_id)
        return current is not None and current.online


class Reach:
    """One event's targets as a device's owner and type see them, worked out once each.

    Finding the members of an event over a fleet asks the same of every device of one
    user (its USER or GROUP target) and of one model (a matching signal).
    """

    def __init__(self, event: DrEvent) -> None:
        self.event = event
        self._users: dict[str, tuple[Target | None, tuple[str, ...]]] = {}
        self._models: dict[tuple[str, str], bool] = {}

    def of_user(self, user: DrUser) -> tuple[Target | None, tuple[str, ...]]:
        """The user's most specific target (USER, else GROUP) and the keys of both."""
        known = self._users.get(user.user_no)
        if known is None:
            targets = self.event.targets
            found = [
                target
                for kind, target_id in ((USER, user.user_no), (GROUP, user.group_id))
                if target_id
                and (target := targets.get(target_id)) is not None
                and target.type == kind
            ]
            known = (found[0] if found else None, tuple(t.key for t in found))
            self._users[user.user_no] = known
        return known

    def signalled(self, device_type: str, model_name: str) -> bool:
        """Whether a signal of the event is for this device type and model."""
        key = (device_type, model_name)
        known = self._models.get(key)
        if known is None:
            known = self._models[key] = any(
                signal.matches(device_type, model_name) for signal in self.event.signals
            )
        return known


@dataclass(frozen=True, slots=True)
class PristineRow:
    """A row of a device that had never changed when it was taken (a ``LaterRow``).

    Such a device reads as its scenario record says, so the row is worked out from the
    record when it is first read, whatever the device did since.
    """

    fleet: Fleet
    record: DeviceRecord
    epoch_ms: int
    reason: str
    opt: str
    participating: bool

    def realise(self) -> dict[str, Any]:
        device = Device.from_record(self.record, self.fleet.status_of(self.record))
        return signals.sample(device, self.epoch_ms, self.reason, self.opt, self.participating)


class EventWindows:
    def __init__(
        self,
        devices: DeviceStore,
        clock: SandboxClock,
        users: dict[str, DrUser],
        events: dict[str, DrEvent],
    ) -> None:
        self.devices = devices
        self.clock = clock
        self.users = users
        self.events = events
        # Set while a signal changes a device: those changes are recorded by the caller
        # once, at the transition's instant, not by the listener at "now".
        self._quiet = False
        self.changed: Callable[[], None] = lambda: None  # set by the DR backend
        # The backend's log of changed pieces (dr_pieces): every place below that
        # changes an event's phase, a member's control or its series names it there.
        self.pieces = PieceLog(lambda: None)
        # Whether every device may no longer match the events (a DR call, a load): a tick
        # reconciles them all only then, or when a window opens or closes, so a tick with
        # nothing new costs what the events cost, not what their devices do.
        self._stale = True
        # Devices that changed since (any API, back online): a tick reconciles them alone,
        # so a control of one device of an event over a fleet costs one device.
        self._touched: set[str] = set()
        # members() per event, valid until the next DR call (the only way targets, opts
        # and enrolments change): one DR call asks for them several times.
        self._generation = 0
        self._members: dict[str, tuple[tuple[int, int], dict[str, Member]]] = {}
        # At most one window opening in parts; whatever else could see it half done (a DR
        # call, another transition, an export, a zip) finishes it first.
        self.opening: Opening | None = None
        self._may_defer = False
        devices.on_change(self.heard)

    def _now_ms(self) -> int:
        return int(self.clock.timestamp() * 1000)

    def _events_of(self, partner_id: str) -> Iterator[DrEvent]:
        return (event for event in self.events.values() if event.partner_id == partner_id)

    # ------------------------------------------------------------------ time

    def tick(self, now: datetime) -> None:
        """The sandbox clock reads ``now``: start or end event windows that are due."""
        if not any(e.phase != FINISHED or e.controls for e in self.events.values()):
            self._touched.clear()
            return
        now_ms = int(now.timestamp() * 1000)
        moved = sampled = False
        while (due := self._next_due(now_ms)) is not None:
            at_ms, kind, event = due
            self._transition(event, kind, at_ms)
            # A sample only writes rows: which device takes part where is unchanged.
            moved, sampled = moved or kind != SAMPLE, sampled or kind == SAMPLE
        if moved or self._stale:
            self._stale = False
            self._touched.clear()
            self._reconcile(now_ms)
            self.changed()
        elif self._touched:
            touched, self._touched = self._touched, set()
            self._reconcile_devices(touched, now_ms)
            self.changed()
        elif sampled:
            self.changed()

    def settle(self, *, later: bool = False) -> None:
        """After a DR change: apply what became due, and record what it did to devices.

        ``later``: a window this opens over more than OPEN_INLINE_MEMBERS members is
        left as ``opening``, for the caller to go on with ``open_part`` (in parts, after
        its answer); whatever needs it whole finishes it first.
        """
        self.finish_opening()
        self.changed()
        self._stale = True
        self._generation += 1
        self._may_defer = later
        try:
            self.tick(self.clock.now())
        finally:
            self._may_defer = False
        now_ms = self._now_ms()
        for event in self.events.values():
            if event.phase == ACTIVE:
                self._record(event, now_ms, None, force=False)

    def _next_due(self, now_ms: int) -> tuple[int, int, DrEvent] | None:
        best: tuple[int, int, int, str] | None = None
        found: DrEvent | None = None
        for event in self.events.values():
            if event.phase == SCHEDULED:
                candidates = [(event.start_ms, START)]
            elif event.phase == ACTIVE:
                candidates = [(event.end_ms, END)]
                sample_at = event.next_sample_ms
                if sample_at is not None and sample_at < event.end_ms:
                    candidates.append((sample_at, SAMPLE))
            else:
                continue
            for at_ms, kind in candidates:
                order = (at_ms, kind, event.start_ms, event.event_id)
                if at_ms <= now_ms and (best is None or order < best):
                    best, found = order, event
        if best is None or found is None:
            return None
        return best[0], best[1], found

    def _transition(self, event: DrEvent, kind: int, at_ms: int) -> None:
        self.finish_opening()
        self.pieces.event(event.event_id)
        if kind == START:
            event.phase = ACTIVE
            event.next_sample_ms = event.start_ms + SAMPLE_INTERVAL_MS
            members = self.members(event)
            if self._may_defer and len(members) > OPEN_INLINE_MEMBERS:
                self.opening = Opening(event, at_ms, dict.fromkeys(members))
                return
            self._reconcile(at_ms, skip=event)
            self._record(event, at_ms, "start", force=True)
        elif kind == SAMPLE:
            self._record(event, at_ms, "interval", force=True)
            taken = (at_ms - event.start_ms) // SAMPLE_INTERVAL_MS
            # Past the cap no interval is due any more: a clock moved by years must not
            # walk through millions of them.
            event.next_sample_ms = at_ms + SAMPLE_INTERVAL_MS if taken < MAX_INTERVAL_ROWS else None
        else:
            event.phase, event.next_sample_ms = FINISHED, None
            self._reconcile(at_ms, skip=event)
            self._record(event, at_ms, "end", force=True)

    # ------------------------------------------------------------------ devices

    def _member(
        self, event: DrEvent, device: DeviceInfo, user: DrUser, reach: Reach | None = None
    ) -> Member | None:
        reach = reach or Reach(event)
        best, covering = reach.of_user(user)
        named = event.targets.get(device.device_id)
        if named is not None and named.type == DEVICE:  # the most specific kind
            best, covering = named, (named.key, *covering)
        if best is None:
            return None
        participating = (
            best.opt == OPT_IN
            and device.device_id not in user.excluded_devices
            and reach.signalled(device.device_type, device.model_name)
        )
        return Member(device, user, best.opt, covering, participating, self.devices)

    def members(self, event: DrEvent) -> dict[str, Member]:
        """The devices ``event`` reaches, found from its targets (never the whole fleet)."""
        # A device added since (POST /_sandbox/devices) may be a member too.
        version = (self._generation, self.devices.count())
        known = self._members.get(event.event_id)
        if known is not None and known[0] == version:
            return known[1]
        found = self._find_members(event)
        self._members[event.event_id] = (version, found)
        return found

    def _find_members(self, event: DrEvent) -> dict[str, Member]:
        users = {u.user_no: u for u in self.users.values() if u.partner_id == event.partner_id}
        if not users or not event.targets:
            return {}
        candidates: dict[str, None] = {}  # ordered, without repeats
        groups = set()
        for target in event.targets.values():
            if target.type == DEVICE:
                candidates[target.id] = None
            elif target.type == USER and target.id in users:
                candidates.update(dict.fromkeys(self.devices.owned_ids(target.id)))
            elif target.type == GROUP:
                groups.add(target.id)
        for user in users.values() if groups else ():
            if user.group_id in groups:
                candidates.update(dict.fromkeys(self.devices.owned_ids(user.user_no)))
        members = {}
        reach = Reach(event)  # what every device of one user, or of one type, shares
        info_of = self.devices.info
        for device_id in candidates:
            info = info_of(device_id)
            user = users.get(info.owner) if info is not None and info.owner else None
            member = self._member(event, info, user, reach) if info is not None and user else None
            if member is not None:
                members[device_id] = member
        return members

    def taking_part(self, *, planned: bool = False) -> dict[str, tuple[DrEvent, Member]]:
        """Which event each device takes part in now: the earliest-started active one.

        A window still opening counts only the members it has reached, or all of them
        when ``planned`` (what a listing shows: the event will reach them).
        """
        pending = self.opening.pending if self.opening and not planned else {}
        desired: dict[str, tuple[DrEvent, Member]] = {}
        for event in self._active():
            for device_id, member in self.members(event).items():
                if member.participating and device_id not in desired:
                    if device_id in pending and self.opening.event is event:  # type: ignore[union-attr]
                        continue
                    desired[device_id] = (event, member)
        return desired

    def _active(self) -> list[DrEvent]:
        return sorted(
            (e for e in self.events.values() if e.phase == ACTIVE),
            key=lambda e: (e.start_ms, e.event_id),
        )

    # ------------------------------------------------------------------ openings

    def open_part(self, part: int = OPEN_PART) -> bool:
        """Reach the next ``part`` members of the window opening; whether more remain.

        For those members: what _reconcile and then _record(start) do at the opening.
        """
        opening = self.opening
        if opening is None:
            return False
        event, members = opening.event, self.members(opening.event)
        ids = list(itertools.islice(opening.pending, part))
        for device_id in ids:
            del opening.pending[device_id]
        reached = [members[device_id] for device_id in ids if device_id in members]
        self._reconcile_devices([m.device_id for m in reached], opening.at_ms, skip=event)
        for member in reached:
            self._append(event, self._series(event, member), member, opening.at_ms, "start", True)
        self.changed()
        if opening.pending:
            return True
        self.opening = None
        return False

    def finish_opening(self) -> None:
        while self.open_part():
            pass

    def _reconcile_devices(
        self, device_ids: Iterable[str], at_ms: int, skip: DrEvent | None = None
    ) -> None:
        """_reconcile for these devices alone: what changed touched nothing else."""
        active = self._active()
        pending = self.opening.pending if self.opening else {}
        opening_event = self.opening.event if self.opening else None
        for device_id in device_ids:
            wanted: tuple[DrEvent, Member] | None = None
            for event in active:
                if event is opening_event and device_id in pending:
                    continue  # not reached yet
                member = self.members(event).get(device_id)
                if member is not None and member.participating:
                    wanted = (event, member)
                    break
            for event in self.events.values():
                if device_id in event.controls and (wanted is None or wanted[0] is not event):
                    self._release(event, device_id)
                    held = self._member_now(event, device_id)
                    if held is not None and event is not skip and event.phase == ACTIVE:
                        self._append(event, self._series(event, held), held, at_ms, None, False)
            if wanted is None or not wanted[1].online:
                continue  # a signal cannot reach it; it is applied once it is back
            event, member = wanted
            control = event.controls.get(device_id)
            fresh = control is None
            if control is None:
                control = event.controls[device_id] = Control()
                self.pieces.control(event.event_id, device_id)
            if (self._enforce(event, member.device, control) or fresh) and event is not skip:
                self._append(event, self._series(event, member), member, at_ms, None, False)

    def _reconcile(self, at_ms: int, skip: DrEvent | None = None) -> None:
        """Make devices match the events: release, apply, keep within bounds; record it."""
        desired = self.taking_part()
        changed: list[tuple[DrEvent, Member]] = []
        for event in self.events.values():
            for device_id in list(event.controls):
                wanted = desired.get(device_id)
                if wanted is None or wanted[0] is not event:
                    self._release(event, device_id)
                    member = self._member_now(event, device_id)
                    if member is not None:
                        changed.append((event, member))
        for device_id, (event, member) in desired.items():
            if not member.online:
                continue  # a signal cannot reach it; it is applied once it is back
            control = event.controls.get(device_id)
            fresh = control is None
            if control is None:
                control = event.controls[device_id] = Control()
                self.pieces.control(event.event_id, device_id)
            if self._enforce(event, member.device, control) or fresh:
                changed.append((event, member))
        for event, member in changed:
            if event is not skip and event.phase == ACTIVE:
                self._append(event, self._series(event, member), member, at_ms, None, False)

    def _member_now(self, event: DrEvent, device_id: str) -> Member | None:
        device = self.devices.devices.get(device_id)
        user = self.users.get(device.owner) if device and device.owner else None
        if device is None or user is None or user.partner_id != event.partner_id:
            return None
        return self._member(event, device, user)

    def _enforce(self, event: DrEvent, device: Device, control: Control) -> bool:
        matching = [s for s in event.signals if s.matches(device.device_type, device.model_name)]
        changed = False
        for planned in signals.plan(device, matching):
            if not self._change(device, planned.ref.command(planned.new)):
                continue
            if not changed:
                self.pieces.control(event.event_id, device.device_id)
            changed = True
            touched = control.touched.get(planned.key)
            if touched is None:
                ref = planned.ref
                control.touched[planned.key] = Touched(
                    ref.location,
                    ref.resource,
                    ref.key_field,
                    ref.key,
                    ref.name,
                    planned.current,
                    planned.restore,
                )
            elif planned.restore:
                touched.restore = True
        return changed

    def _release(self, event: DrEvent, device_id: str) -> None:
        control = event.controls.pop(device_id)
        self.pieces.control(event.event_id, device_id)
        device = self.devices.devices.get(device_id)
        if device is None:
            return
        for touched in control.touched.values():
            if not touched.restore:
                continue
            current = signals.read_value(
                device,
                touched.location,
                touched.resource,
                touched.key_field,
                touched.key,
                touched.attribute,
            )
            if not same_value(current, touched.previous):
                self._change(device, signals.command_for(touched, touched.previous))

    def _change(self, device: Device, change: dict[str, Any]) -> bool:
        """A signal's change, through the simulator like any device-side change."""
        self._quiet = True
        try:
            self.devices.change_from_device(device.device_id, change)
            return True
        except ApiError:
            # The profile refused (an excluded value, say): the device keeps its value.
            return False
        finally:
            self._quiet = False

    # ------------------------------------------------------------------ monitoring

    def _series(self, event: DrEvent, member: Member) -> Series:
        series = event.series.get(member.device_id)
        if series is None:
            series = event.series[member.device_id] = new_series(member)
            self.pieces.series(event.event_id, member.device_id)
        for key in member.covering:
            if key not in series.targets:
                series.targets.append(key)
                self.pieces.series(event.event_id, member.device_id)
        return series

    def _record(self, event: DrEvent, at_ms: int, reason: str | None, *, force: bool) -> None:
        pending = self.opening.pending if self.opening and self.opening.event is event else {}
        for member in self.members(event).values():
            if member.device_id in pending:
                continue  # its start row comes when the opening reaches it
            self._append(event, self._series(event, member), member, at_ms, reason, force)

    def _append(
        self,
        event: DrEvent,
        series: Series,
        member: Member,
        at_ms: int,
        reason: str | None,
        force: bool,
    ) -> None:
        store = self.devices
        device_id = member.device_id
        participating = device_id in event.controls
        version = store.version(device_id)
        last_ms = series.last_epoch_ms()
        if last_ms is not None:
            at_ms = max(at_ms, last_ms)
        if (
            not force
            and version == series.seen_version
            and _same_part(series, member.opt, participating)
        ):
            return  # nothing the row reads has changed since the last one
        if reason == "interval":
            if series.interval_rows >= MAX_INTERVAL_ROWS:
                return
            series.interval_rows += 1
        series.seen_version = version
        pristine = store.pristine(device_id) if force else None
        if pristine is not None:
            # Made when read: a window opening over a whole fleet costs a record each.
            later = PristineRow(
                store.fleet, pristine, at_ms, reason or "change", member.opt, participating
            )
            self.pieces.series(event.event_id, device_id)
            series.entries.append(later)
            return
        row = signals.sample(member.device, at_ms, reason or "change", member.opt, participating)
        if force:
            self.pieces.series(event.event_id, device_id)
            series.entries.append(row)
            return
        last = series.last_row()
        if last is not None and signals.same_reading(row, last):
            return
        if reason is None and last is not None:
            if last.get("opt") != row["opt"]:
                row["reason"] = "opt"
            elif last.get("participating") != row["participating"]:
                row["reason"] = "control"
        self.pieces.series(event.event_id, device_id)
        series.entries.append(row)

    def heard(self, change: DeviceEvent) -> None:
        """A device changed (any API, the control API, a timer): record it in open events."""
        if isinstance(change, DeviceUpdate):
            if "online" in change.fields:  # back online: it gets what it missed
                self._touched.add(change.device.device_id)
            return
        if self._quiet or not isinstance(change, DeviceChange):
            return
        device = change.device
        user = self.users.get(device.owner) if device.owner else None
        if user is None:
            return
        now_ms = self._now_ms()
        opening = self.opening
        for event in self._events_of(user.partner_id):
            if event.phase != ACTIVE:
                continue
            if opening and opening.event is event and device.device_id in opening.pending:
                continue  # the opening reaches it later, as it is then
            member = self.members(event).get(device.device_id)
            if member is not None:
                self._append(event, self._series(event, member), member, now_ms, None, False)
                self._touched.add(device.device_id)  # it may have left the event's bounds
                self.changed()


def _same_part(series: Series, opt: str, participating: bool) -> bool:
    """Whether the series' last row has this opt and participation (False without rows)."""
    if not series.entries:
        return False
    last = series.entries[-1]
    if isinstance(last, dict):
        return last.get("opt") == opt and last.get("participating") == participating
    return last.opt == opt and last.participating == participating  # type: ignore[attr-defined]


def new_series(member: Member) -> Series:
    device = member.info
    return Series(
        member.user.user_no,
        device.device_type,
        device.model_name,
        device.alias,
        targets=list(member.covering),
    )
