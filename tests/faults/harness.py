"""The fault suite's parts: a sandbox on a state file that can be killed and restarted,
a mixed client load, and a client-side model of every write that load made.

The model is the reference, never a state read taken before a fault: each write is
recorded as the client saw its answer (Jepsen's histories), as

- ``ACKED``: a 2xx. It must be visible now and after every later crash;
- ``FAILED``: an error whose change must not be visible (the 500 of a failed commit);
- ``UNKNOWN``: no answer (the connection died with a ``kill -9``). Either outcome is
  allowed, but the first read after it settles which one happened, and it stays so.

Each write names what it writes by a key the client chose, so even a write whose answer
never came can be recognised afterwards: the device whose target temperature it set
(a register: the last acknowledged value, or a later value whose answer was lost), the
fault rule, device, DR group or DR event it added (entities: every acknowledged one
present, none present that was never written), the ThinQ call's ``x-message-id`` (its
callbacks carry it: every device's callback of an acknowledged call is owed and must
arrive, none of a failed call may ever arrive).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from contract_tests.receiver import CallbackReceiver
from lgspecs.data import default_scenario
from tests.support import (
    KR_TOKEN,
    KR_USER,
    PARTNER_KEY,
    PARTNER_SECRET,
    REPO,
    RunningServer,
    new_log_path,
    serve_arguments,
    start_server,
    stop_server,
    wait_until_serving,
)

SERVICE, SERVICE_KEY = "acme-thinq-service", "acme-thinq-service-key"
PARTNER = "acme-energy"
FAULT_USER, FAULT_TOKEN = "KR2099000000077", "fault-suite-oauth-token-0077"
TARGETS = list(range(18, 31))  # the air conditioner's writable targetTemperature
COMMIT_FAILED = "the state file could not be written"

ACKED, FAILED, UNKNOWN = "acked", "failed", "unknown"


def seed_for_run() -> int:
    """``LGMOCK_FAULT_SEED`` to replay a run, else a new seed (printed on failure)."""
    chosen = os.environ.get("LGMOCK_FAULT_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


def replay_hint(seed: int, test: str) -> str:
    return f"seed {seed}: replay with LGMOCK_FAULT_SEED={seed} .venv/bin/pytest -n 0 {test}"


def fault_ac(number: int) -> str:
    return f"fa{number:062d}"


def fault_scenario(receiver_url: str, air_conditioners: int) -> dict[str, Any]:
    """The default scenario, callbacks to ``receiver_url``, one air conditioner per
    control client (owned by a user of its own, so the KR user's ThinQ fan-out stays
    the default's), and retries that never give up within a test."""
    document = yaml.safe_load(default_scenario().read_text())
    for partner in document["partners"]:
        partner["callbackUrl"] = f"{receiver_url}/lg"
    for service in document["services"]:
        service["callbackUrl"] = f"{receiver_url}/thinq"
    document["users"].append(
        {"userNumber": FAULT_USER, "accessToken": FAULT_TOKEN, "countryCode": "KR"}
    )
    for number in range(air_conditioners):
        document["devices"].append(
            {
                "deviceId": fault_ac(number),
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "modelName": "RAC_056905_WW",
                "alias": f"Fault suite air conditioner {number}",
                "owner": FAULT_USER,
                "registeredTo": [PARTNER],
                "profile": "air_conditioner/basic.json",
                "status": {
                    "operation": {"airConOperationMode": "POWER_ON"},
                    "temperature": {"targetTemperature": 24},
                },
            }
        )
    document["delivery"] = {"attempts": 100, "backoffInitial": 0.05, "backoffMax": 0.4}
    return document


def message_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


# --------------------------------------------------------------------------- server


class ForkedProcess:
    """A server forked by the warm parent, with the part of Popen's interface tests use.
    The kernel reaps it (its parent ignores SIGCHLD): gone means exited."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1  # its status went with it
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.01)
        return self.returncode or -1

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class WarmStarter:
    """Starts ``lgmock serve`` processes forked from tests/faults/warm_start.py."""

    def __init__(self) -> None:
        self.parent = subprocess.Popen(
            [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "tests.faults.warm_start"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.parent.stdout is not None
        ready = self.parent.stdout.readline()
        if not ready:
            raise RuntimeError("the warm parent did not start (its traceback is above)")

    def start(self, work: Path, args: list[str], wait: float) -> RunningServer:
        assert self.parent.stdin is not None and self.parent.stdout is not None
        log_path = new_log_path(work)
        log_path.touch()
        request = {"argv": serve_arguments(*args), "log": str(log_path), "cwd": str(work)}
        self.parent.stdin.write(json.dumps(request) + "\n")
        self.parent.stdin.flush()
        pid = json.loads(self.parent.stdout.readline())["pid"]
        return wait_until_serving(ForkedProcess(pid), log_path, wait)

    def close(self) -> None:
        self.parent.terminate()
        self.parent.wait(timeout=10)


class Sandbox:
    """``lgmock serve --state-file`` in ``work``, killed with SIGKILL and restarted."""

    def __init__(
        self,
        work: Path,
        scenario: dict[str, Any],
        *,
        state_dir: Path | None = None,
        starter: WarmStarter | None = None,
    ):
        self.work = work
        scenario_file = work / "scenario.yaml"
        scenario_file.write_text(yaml.safe_dump(scenario))
        self.state_file = (state_dir or work) / "state.db"
        self.args = ["--scenario", str(scenario_file), "--state-file", str(self.state_file)]
        self.starter = starter
        self.server: RunningServer | None = None
        self.logs: list[Path] = []
        self.kills = 0

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    def start(
        self, *, command: list[str] | None = None, env: dict[str, str] | None = None
    ) -> RunningServer:
        if self.starter is not None and command is None and env is None:
            self.server = self.starter.start(self.work, self.args, wait=90.0)
        else:
            self.server = start_server(self.work, *self.args, wait=90.0, command=command, env=env)
        self.logs.append(self.server.log_path)
        return self.server

    def kill9(self) -> None:
        assert self.server is not None
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.server is not None and self.server.process.poll() is None:
            stop_server(self.server)

    def tracebacks(self) -> list[str]:
        return [path.name for path in self.logs if "Traceback" in path.read_text(errors="replace")]


# --------------------------------------------------------------------------- the model


@dataclass
class Register:
    """One air conditioner's target temperature, written by one client at a time."""

    known: int  # acknowledged last, or settled by a read
    lost_answers: list[int] = field(default_factory=list)  # UNKNOWN since ``known``
    refused: list[int] = field(default_factory=list)  # FAILED since ``known``

    def candidates(self) -> set[int]:
        return {self.known, *self.lost_answers}


@dataclass
class Entities:
    """Things a client adds under names it chose (fault rules, devices, DR groups...)."""

    acked: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


@dataclass
class History:
    """Every write of the load and how its answer went: the reference for the checks."""

    registers: dict[str, Register] = field(default_factory=dict)
    entities: dict[str, Entities] = field(default_factory=dict)
    writes: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> outcome -> n
    # ThinQ calls by x-message-id: owed (acked), failed (no callback may come), unknown.
    thinq: dict[str, str] = field(default_factory=dict)
    thinq_devices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checks: int = 0  # acknowledged writes verified after a fault, summed over the checks
    names: int = 0  # the last number given to a name a load chose (unique over loads)

    def count(self, kind: str, outcome: str) -> None:
        self.writes.setdefault(kind, {}).setdefault(outcome, 0)
        self.writes[kind][outcome] += 1

    def acked(self, kind: str | None = None) -> int:
        kinds = [kind] if kind else list(self.writes)
        return sum(self.writes.get(k, {}).get(ACKED, 0) for k in kinds)

    # ---- recording
    def control(self, device: str, value: int, outcome: str) -> None:
        register = self.registers[device]
        if outcome == ACKED:
            register.known, register.lost_answers, register.refused = value, [], []
        elif outcome == UNKNOWN:
            register.lost_answers.append(value)
        else:
            register.refused.append(value)
        self.count("control", outcome)

    def entity(self, kind: str, key: str, outcome: str) -> None:
        family = self.entities.setdefault(kind, Entities())
        {ACKED: family.acked, UNKNOWN: family.unknown, FAILED: family.failed}[outcome].add(key)
        self.count(kind, outcome)

    def thinq_call(self, message: str, outcome: str) -> None:
        self.thinq[message] = outcome
        self.count("thinq", outcome)

    # ---- checking
    def check_state(self, state: dict[str, Any], moment: str) -> list[str]:
        """Compare the sandbox's whole state with the model; settle what was UNKNOWN."""
        found: list[str] = []
        devices = {d["deviceId"]: d for d in state["devices"]}
        for device, register in self.registers.items():
            seen = devices[device]["status"]["temperature"]["targetTemperature"]
            if seen not in register.candidates():
                found.append(
                    f"{moment}: {device} reads {seen}, acknowledged {register.known}"
                    f" (answers lost: {register.lost_answers}; answered an error:"
                    f" {register.refused})"
                )
            else:
                self.checks += 1
            register.known, register.lost_answers, register.refused = seen, [], []
        present = {
            "fault": {r["match"].get("deviceId") for r in state.get("faults") or []},
            "device": set(devices),
            "dr-group": {g["groupId"] for g in state["dr"]["groups"]},
            "dr-event": {e["eventId"] for e in state["dr"]["events"]},
        }
        for kind, family in self.entities.items():
            there = present[kind]
            lost = family.acked - there
            phantom = there & family.failed
            found += [f"{moment}: acknowledged {kind} {key} is gone" for key in sorted(lost)]
            found += [
                f"{moment}: {kind} {key} is there, its write answered an error"
                for key in sorted(phantom)
            ]
            self.checks += len(family.acked) - len(lost)
            settled = family.unknown & there
            family.acked |= settled
            family.failed |= family.unknown - there  # not there now: must never appear
            family.unknown = set()
        self.problems += found
        return found

    def owed_callbacks(self) -> set[tuple[str, str]]:
        return {
            (message, device)
            for message, outcome in self.thinq.items()
            if outcome == ACKED
            for device in self.thinq_devices
        }

    def check_callbacks(self, delivered: Iterable[tuple[str, str]], moment: str) -> list[str]:
        """Every owed callback delivered; none of a call answered with an error."""
        delivered = set(delivered)
        found = [
            f"{moment}: callback owed to {device} for x-message-id {message} never arrived"
            for message, device in sorted(self.owed_callbacks() - delivered)
        ]
        failed = {m for m, outcome in self.thinq.items() if outcome == FAILED}
        found += [
            f"{moment}: a callback of x-message-id {message} (answered with an error) arrived"
            for message, _ in sorted(d for d in delivered if d[0] in failed)
        ]
        self.problems += found
        return found


def delivered_thinq(receiver: CallbackReceiver) -> set[tuple[str, str]]:
    """(x-message-id, deviceId) of each ThinQ callback the receiver answered with a 2xx."""
    with receiver._lock:
        pairs = list(zip(receiver.received, receiver.answered, strict=True))
    return {
        (r.body.get("messageId"), (r.body.get("response") or {}).get("deviceId"))
        for r, status in pairs
        if r.path == "/thinq" and status < 300 and isinstance(r.body, dict)
    }


# --------------------------------------------------------------------------- the load


class Load:
    """A mixed load of clients, each sending one call at a time until ``stop`` is set:
    Business Connect controls (one client per air conditioner), ThinQ asynchronous calls,
    DR groups and events, and control API writes (fault rules, devices).

    ``commit_errors``: a 500 saying the state file could not be written is an expected
    answer (FAILED); anything else but the documented answer is a problem.
    """

    def __init__(
        self,
        history: History,
        rng: random.Random,
        *,
        controls: int,
        commit_errors: bool = False,
        pause: float = 0.0,
    ) -> None:
        self.history = history
        self.rng = rng
        self.controls = controls
        self.commit_errors = commit_errors
        self.pause = pause  # seconds between one client's calls
        self.stop = asyncio.Event()
        self.token = ""
        self.now_ms = 0
        for number in range(controls):
            history.registers.setdefault(fault_ac(number), Register(known=24))

    def name(self, prefix: str) -> str:
        self.history.names += 1
        return f"{prefix}-{self.history.names}"

    async def run(self, base_url: str) -> None:
        self.stop = asyncio.Event()
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
            if not await self._prepare(http):
                return
            loops = [self._loop(http, self._control, fault_ac(n)) for n in range(self.controls)]
            loops += [self._loop(http, self._thinq), self._loop(http, self._dr)]
            loops += [self._loop(http, self._sandbox)]
            await asyncio.gather(*loops)

    async def _prepare(self, http: httpx.AsyncClient) -> bool:
        """A Business Connect token and the sandbox clock (a DR event starts after it)."""
        try:
            answer = await http.post(
                "/bc/v1/token", headers={"X-Api-Key": PARTNER_KEY, "X-Api-Secret": PARTNER_SECRET}
            )
            clock = await http.get("/_sandbox/clock")
        except httpx.TransportError:
            return False  # killed before the load began
        self._expect(answer, (200,), "token")
        self.token = answer.json()["access_token"]
        self.now_ms = int(datetime.fromisoformat(clock.json()["now"]).timestamp() * 1000)
        return True

    async def _loop(self, http: httpx.AsyncClient, action: Any, *args: Any) -> None:
        while not self.stop.is_set():
            await action(http, *args)
            if self.pause:
                await asyncio.sleep(self.pause)

    def _expect(self, answer: httpx.Response | None, ok: tuple[int, ...], what: str) -> str:
        if answer is None:
            return UNKNOWN
        if answer.status_code in ok:
            return ACKED
        if self.commit_errors and answer.status_code == 500 and COMMIT_FAILED in answer.text:
            return FAILED
        self.history.problems.append(f"{what}: {answer.status_code} {answer.text[:300]}")
        return UNKNOWN  # an answer nobody documented: count on nothing

    async def _send(self, http: httpx.AsyncClient, method: str, path: str, **kw: Any):
        try:
            return await http.request(method, path, **kw)
        except httpx.TransportError:
            return None

    def _bc_headers(self, *, dr: bool = False) -> dict[str, str]:
        headers = {"X-Api-Key": PARTNER_KEY, "X-Api-Token": self.token}
        headers["X-Message-Id"] = message_id()
        if dr:
            headers["X-Country-Code"] = "KR"
        else:
            headers["X-Use-Account"] = "REGISTERED"
        return headers

    async def _control(self, http: httpx.AsyncClient, device: str) -> None:
        register = self.history.registers[device]
        value = self.rng.choice([t for t in TARGETS if t not in register.candidates()])
        body = {"temperature": {"targetTemperature": value}}
        answer = await self._send(
            http, "POST", f"/bc/v1/devices/{device}", headers=self._bc_headers(), json=body
        )
        self.history.control(device, value, self._expect(answer, (200,), f"control {device}"))

    async def _thinq(self, http: httpx.AsyncClient) -> None:
        message = message_id()
        headers = {
            "Authorization": f"Bearer {KR_TOKEN}",
            "x-message-id": message,
            "x-service-id": SERVICE,
            "x-service-key": SERVICE_KEY,
            "x-country-code": "KR",
        }
        answer = await self._send(http, "POST", "/v2/devices/status-async", headers=headers)
        self.history.thinq_call(message, self._expect(answer, (202,), "status-async"))

    async def _dr(self, http: httpx.AsyncClient) -> None:
        groups = self.history.entities.get("dr-group", Entities()).acked
        if groups and self.rng.random() < 0.5:
            group = self.rng.choice(sorted(groups))
            event = self.name("fs-event")
            body = dr_event(event, group, self.now_ms)
            answer = await self._send(
                http, "POST", "/bc/v1/dr/events", headers=self._bc_headers(dr=True), json=body
            )
            self.history.entity("dr-event", event, self._expect(answer, (200,), "dr event"))
            return
        group = self.name("fs-group")
        body = {"groupId": group, "groupName": group, "partnerId": PARTNER}
        answer = await self._send(
            http, "POST", "/bc/v1/dr/groups", headers=self._bc_headers(dr=True), json=body
        )
        self.history.entity("dr-group", group, self._expect(answer, (200,), "dr group"))

    async def _sandbox(self, http: httpx.AsyncClient) -> None:
        if self.rng.random() < 0.5:
            key = self.name("fs-rule")
            # A rule that never fires (its deviceId is no device's): only its presence counts.
            rule = {
                "match": {"operationId": "getStatusOfDevice", "deviceId": key},
                "effect": {"delay": 1},
            }
            answer = await self._send(http, "POST", "/_sandbox/faults", json=rule)
            self.history.entity("fault", key, self._expect(answer, (201,), "add fault"))
            return
        key = self.name("fs-device")
        device = {
            "deviceId": key,
            "deviceType": "DEVICE_AIR_CONDITIONER",
            "modelName": "RAC_056905_WW",
            "alias": key,
            "owner": FAULT_USER,
            "profile": "air_conditioner/basic.json",
        }
        answer = await self._send(http, "POST", "/_sandbox/devices", json=device)
        self.history.entity("device", key, self._expect(answer, (201,), "add device"))


def dr_event(event: str, group: str, now_ms: int) -> dict[str, Any]:
    """A DR event an hour ahead (nothing of it runs during a test) over one group."""
    return {
        "eventId": event,
        "eventName": event,
        "partnerId": PARTNER,
        "startTs": now_ms + 3_600_000,
        "endTs": now_ms + 7_200_000,
        "targets": [{"targetType": "GROUP", "targetIds": [group]}],
        "signals": [
            {
                "signalId": f"{event}-s1",
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "signalType": "CONTROL_RESTORE",
                "controlType": "Temperature",
                "restoreType": "Temperature",
                "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
            }
        ],
    }


async def pending_thinq(http: httpx.AsyncClient) -> set[tuple[str, str]]:
    """(x-message-id, deviceId) of each ThinQ callback the sandbox still owes."""
    answer = await http.get("/_sandbox/callbacks", params={"status": "pending", "limit": 10000})
    assert answer.status_code == 200, answer.text
    return {
        (item["body"].get("messageId"), item["deviceId"])
        for item in answer.json()["items"]
        if item["url"].endswith("/thinq")
    }


def kr_devices(state: dict[str, Any]) -> list[str]:
    return [d["deviceId"] for d in state["devices"] if d.get("owner") == KR_USER]


def unexpected_tracebacks(logs: Iterable[Path], *expected: str) -> list[str]:
    """The tracebacks in the server logs that show none of the ``expected`` errors (a
    failed commit is logged with its traceback, and that one is expected)."""
    found = []
    for path in logs:
        blocks = path.read_text(errors="replace").split("Traceback (most recent call last):")
        found += [
            f"{path.name}: {block.strip()[-600:]}"
            for block in blocks[1:]
            if not any(message in block for message in expected)
        ]
    return found


async def run_load(load: Load, base_url: str, seconds: float) -> None:
    """``load`` against the server at ``base_url`` for ``seconds``, then its calls end."""
    running = asyncio.create_task(load.run(base_url))
    await asyncio.sleep(seconds)
    load.stop.set()
    await running


def summary(history: History) -> str:
    kinds = ", ".join(
        f"{kind} {counts.get(ACKED, 0)}/{sum(counts.values())}"
        for kind, counts in sorted(history.writes.items())
    )
    return f"acknowledged/sent per kind: {kinds}"
