"""Cycle appliances (washer, dryer, dishwasher, styler): a started cycle runs on the clock.

A client's START moves the run state through the kind's phases while the remaining time
counts down; at zero the run state is END and the profile's "cycle finished" push is
raised. STOP pauses (PAUSE, the remaining time kept) and START resumes; POWER_OFF
abandons the cycle. LG documents none of the lengths, phases or shares below: they are
sandbox inventions, recorded in docs/spec-notes.md ("Time-driven devices").

Progress is computed from the clock, never stepped, so advancing the clock by hours ends
a cycle in one tick with one status change and one push. A status that says a cycle is
under way (a restored state file, a scenario, a device-side change) is resumed from its
remaining time, so the status itself is the cycle's only persistent record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mockserver.backends.devices import Device, DeviceChange, DeviceInfo, DeviceStore
from mockserver.profiles import DeviceProfile, Span
from mockserver.simulation.sections import (
    bodies,
    body_at,
    can_read,
    change_at,
    readable,
    value_of,
)

Report = Callable[[str, dict[str, Any]], bool]
Push = Callable[[str, str], None]

RUN_STATE = "runState.currentState"
END = "END"
PAUSE = "PAUSE"
START = "START"
STOP = "STOP"
POWER_OFF = "POWER_OFF"
REMAIN = ("timer.remainHour", "timer.remainMinute")
TOTAL = ("timer.totalHour", "timer.totalMinute")
CYCLE_COUNT = "cycle.cycleCount"


@dataclass(frozen=True)
class CycleKind:
    """How one kind of appliance runs a cycle."""

    minutes: int  # a cycle's length: no command chooses a course, so one length per kind
    phases: tuple[tuple[str, float], ...]  # run states in order, with their share of the cycle
    finished: str  # the push code raised at the end


# Keyed by the write-only switch of the profile's vocabulary, so the WashTower's washer and
# dryer (and any inline profile using these names) run as a washer and a dryer do.
CYCLE_KINDS: dict[str, CycleKind] = {
    "operation.washerOperationMode": CycleKind(
        60, (("RUNNING", 0.6), ("RINSING", 0.25), ("SPINNING", 0.15)), "WASHING_IS_COMPLETE"
    ),
    "operation.dryerOperationMode": CycleKind(
        90, (("DRYING", 0.85), ("COOLING", 0.15)), "DRYING_IS_COMPLETE"
    ),
    "operation.dishWasherOperationMode": CycleKind(
        120, (("RUNNING", 0.5), ("RINSING", 0.3), ("DRYING", 0.2)), "CLEANING_IS_COMPLETE"
    ),
    "operation.stylerOperationMode": CycleKind(
        30, (("STEAM", 0.4), ("REFRESHING", 0.3), ("DRYING", 0.3)), "STYLING_IS_COMPLETE"
    ),
}

# Run states that mean a cycle is under way, across the fixtures' vocabularies: a status
# showing one of them is resumed. Anything else (INITIAL, END, ERROR, RESERVED, ...) is
# left alone: the simulator never drives a state it does not understand.
IN_CYCLE = frozenset(
    {
        "RUNNING",
        "DETECTING",
        "PREWASH",
        "SOAKING",
        "RINSING",
        "SPINNING",
        "DRYING",
        "STEAM_SOFTENING",
        "RINSE_HOLD",
        "COOLING",
        "CHECKING_TURBIDITY",
        "NIGHT_DRY",
        "STEAM",
        "REFRESHING",
    }
)


@dataclass(frozen=True)
class Appliance:
    """One cycle-running part of a device (a washer's MAIN location), as its profile allows."""

    device_id: str
    location: str | None
    switch: str  # the write-only ``operation.*OperationMode``
    kind: CycleKind
    phases: tuple[tuple[str, float], ...]  # the kind's phases this profile can show
    remain: bool  # remainHour/remainMinute are readable
    total: bool  # totalHour/totalMinute are readable
    longest: int  # minutes the remaining-time timer can show at most
    push: str | None  # the finished push code, when the profile has it
    counts_cycles: bool  # a readable cycle.cycleCount, one more at each END

    @property
    def key(self) -> tuple[str, str | None]:
        return self.device_id, self.location

    def length(self) -> float:
        """Seconds one cycle takes."""
        return min(self.kind.minutes, self.longest) * 60.0

    def phase(self, done: float) -> str:
        """The run state once ``done`` (0..1) of the cycle has passed."""
        whole = sum(share for _, share in self.phases)
        reached = 0.0
        for state, share in self.phases:
            reached += share / whole
            if done < reached - 1e-9:
                return state
        return self.phases[-1][0]

    def change(
        self,
        *,
        state: str | None = None,
        remaining: int | None = None,
        total: int | None = None,
        count: int | None = None,
    ) -> dict[str, Any]:
        """A device change of the given values, limited to what this profile reports."""
        values: dict[str, Any] = {}
        if state is not None:
            values[RUN_STATE] = state
        if remaining is not None and self.remain:
            values.update(zip(REMAIN, divmod(remaining, 60), strict=True))
        if total is not None and self.total:
            values.update(zip(TOTAL, divmod(total, 60), strict=True))
        if count is not None and self.counts_cycles:
            values[CYCLE_COUNT] = count
        return change_at(self.location, values) if values else {}


def appliances_of(device: Device, device_id: str | None = None) -> tuple[Appliance, ...]:
    """The parts of ``device`` that run cycles (none for other appliances)."""
    profile = device.profile
    locations = profile.locations if profile.is_location_wrapped else [None]
    found = []
    for location in locations:
        rule = profile.power_rule(location)
        kind = CYCLE_KINDS.get(rule.switch) if rule and rule.state == RUN_STATE else None
        if kind is None:
            continue
        attributes = readable(profile, location)
        state = attributes.get(RUN_STATE)
        phases = tuple(phase for phase in kind.phases if can_read(state, phase[0]))
        if not phases or not can_read(state, END) or not can_read(state, PAUSE):
            continue
        hours = attributes.get(REMAIN[0])
        span = hours.attribute.read if hours else None
        longest = int(span.high) * 60 + 59 if isinstance(span, Span) else kind.minutes
        count = attributes.get(CYCLE_COUNT)
        found.append(
            Appliance(
                device_id=device.device_id if device_id is None else device_id,
                location=location,
                switch=rule.switch,
                kind=kind,
                phases=phases,
                remain=all(name in attributes for name in REMAIN),
                total=all(name in attributes for name in TOTAL),
                longest=longest,
                push=kind.finished if kind.finished in profile.push_codes else None,
                counts_cycles=count is not None and count.attribute.kind == "number",
            )
        )
    return tuple(found)


@dataclass
class Cycle:
    appliance: Appliance
    total: float  # seconds the whole cycle takes
    ends_at: datetime | None  # None while paused
    left: float  # seconds left when paused
    phase: str  # the phase last reported (or the one the cycle was resumed in)
    minutes: int  # the remaining minutes last reported

    def remaining(self, now: datetime) -> float:
        if self.ends_at is None:
            return self.left
        return (self.ends_at - now).total_seconds()

    def phase_at(self, remaining: float) -> str:
        return self.appliance.phase(1.0 - remaining / self.total if self.total else 1.0)


def shown_minutes(seconds: float) -> int:
    # Rounded up, as an appliance's display does: it reads 0:00 only when the cycle ends.
    return max(0, math.ceil(seconds / 60.0 - 1e-9))


class Cycles:
    """Every running or paused cycle of one sandbox."""

    def __init__(self, devices: DeviceStore, report: Report, push: Push) -> None:
        self._devices = devices
        self._report = report
        self._push = push
        self._appliances: dict[str, tuple[Appliance, ...]] = {}
        # One reading of each profile (shared by all its devices): its appliances with
        # a blank device id.
        self._by_profile: dict[int, tuple[DeviceProfile, tuple[Appliance, ...]]] = {}
        self._cycles: dict[tuple[str, str | None], Cycle] = {}

    def appliances(self, device: Device) -> tuple[Appliance, ...]:
        found = self._appliances.get(device.device_id)
        if found is None:
            known = self._by_profile.get(id(device.profile))
            if known is None:
                known = self._by_profile[id(device.profile)] = (
                    device.profile,
                    appliances_of(device, ""),
                )
            if not known[1]:
                return ()
            found = tuple(replace(a, device_id=device.device_id) for a in known[1])
            self._appliances[device.device_id] = found
        return found

    def would_run(self, device: DeviceInfo, status: Any) -> bool:
        """Whether ``status`` shows a cycle under way or paused (nothing kept)."""
        for appliance in self.appliances(device):  # type: ignore[arg-type]
            state = value_of(body_at(status, appliance.location), RUN_STATE)
            if state in IN_CYCLE or state == PAUSE:
                return True
        return False

    def adopt(self, device: Device, now: datetime) -> None:
        """Know ``device``; resume a cycle its status says is under way."""
        for appliance in self.appliances(device):
            self._resume(appliance, device, now)

    def heard(self, change: DeviceChange, now: datetime) -> None:
        """React to a client's command, or to a device-side change made by someone else."""
        for appliance in self.appliances(change.device):
            for location, body in bodies(change.changed):
                if location != appliance.location:
                    continue
                if change.source == "control":
                    self._command(appliance, value_of(body, appliance.switch), now)
                elif _touches_cycle(body):
                    # QA set the run state or the timers (PATCH .../state): follow them.
                    self._resume(appliance, change.device, now)

    def advance(self, now: datetime) -> None:
        for cycle in list(self._cycles.values()):
            if cycle.ends_at is None:
                continue
            left = cycle.remaining(now)
            if left <= 0:
                self._finish(cycle)
                continue
            minutes, phase = shown_minutes(left), cycle.phase_at(left)
            if minutes == cycle.minutes and phase == cycle.phase:
                continue
            self._report(
                cycle.appliance.device_id,
                cycle.appliance.change(
                    state=phase if phase != cycle.phase else None,
                    remaining=minutes if minutes != cycle.minutes else None,
                ),
            )
            cycle.minutes, cycle.phase = minutes, phase

    def shift(self, delta: timedelta) -> None:
        """The clock was set back by ``delta``: running cycles keep the time they had left."""
        for cycle in self._cycles.values():
            if cycle.ends_at is not None:
                cycle.ends_at += delta

    def __len__(self) -> int:
        return len(self._cycles)

    # ---------------------------------------------------------------- commands

    def _command(self, appliance: Appliance, action: Any, now: datetime) -> None:
        cycle = self._cycles.get(appliance.key)
        if action == START:
            if cycle is None:
                self._start(appliance, now)
            elif cycle.ends_at is None:
                # Resuming a paused cycle: the timer goes on from where it stopped.
                cycle.ends_at = now + timedelta(seconds=cycle.left)
                cycle.phase = cycle.phase_at(cycle.left)
                self._report(appliance.device_id, appliance.change(state=cycle.phase))
        elif action == STOP:
            if cycle is not None and cycle.ends_at is not None:
                cycle.left = cycle.remaining(now)
                cycle.ends_at = None
                self._report(appliance.device_id, appliance.change(state=PAUSE))
        elif action == POWER_OFF:
            # The power rule already set the run state to POWER_OFF; the cycle is gone.
            if self._cycles.pop(appliance.key, None) is not None:
                self._report(appliance.device_id, appliance.change(remaining=0))

    def _start(self, appliance: Appliance, now: datetime, *, paused: bool = False) -> None:
        total = appliance.length()
        minutes = shown_minutes(total)
        phase = appliance.phase(0.0)
        ends_at = None if paused else now + timedelta(seconds=total)
        self._cycles[appliance.key] = Cycle(appliance, total, ends_at, total, phase, minutes)
        self._report(
            appliance.device_id,
            appliance.change(state=PAUSE if paused else phase, remaining=minutes, total=minutes),
        )

    def _resume(self, appliance: Appliance, device: Device, now: datetime) -> None:
        body = body_at(device.status, appliance.location)
        state = value_of(body, RUN_STATE)
        self._cycles.pop(appliance.key, None)
        if state not in IN_CYCLE and state != PAUSE:
            return
        paused = state == PAUSE
        remaining = _minutes(body, REMAIN) if appliance.remain else 0
        if remaining <= 0:
            # A hand-written status ("RUNNING", no time left): a whole cycle, from now.
            self._start(appliance, now, paused=paused)
            return
        total = _minutes(body, TOTAL) if appliance.total else 0
        if total < remaining:
            total = max(remaining, int(appliance.length() // 60))
        seconds = remaining * 60.0
        ends_at = None if paused else now + timedelta(seconds=seconds)
        cycle = Cycle(appliance, total * 60.0, ends_at, seconds, "", remaining)
        # The phase is tracked from here: a state QA chose stays until the next boundary.
        cycle.phase = cycle.phase_at(seconds)
        self._cycles[appliance.key] = cycle

    def _finish(self, cycle: Cycle) -> None:
        appliance = cycle.appliance
        del self._cycles[appliance.key]
        count = None
        device = self._devices.devices.get(appliance.device_id)
        if appliance.counts_cycles and device is not None:
            current = value_of(body_at(device.status, appliance.location), CYCLE_COUNT)
            count = current + 1 if isinstance(current, int) else None
        self._report(appliance.device_id, appliance.change(state=END, remaining=0, count=count))
        if appliance.push is not None:
            self._push(appliance.device_id, appliance.push)


def _touches_cycle(body: dict[str, Any]) -> bool:
    timer = body.get("timer")
    return value_of(body, RUN_STATE) is not None or (
        isinstance(timer, dict) and any(name.partition(".")[2] in timer for name in REMAIN + TOTAL)
    )


def _minutes(body: dict[str, Any], pair: tuple[str, str]) -> int:
    hours, minutes = (value_of(body, name) for name in pair)
    if not isinstance(hours, int | float) or not isinstance(minutes, int | float):
        return 0
    return int(hours) * 60 + int(minutes)
