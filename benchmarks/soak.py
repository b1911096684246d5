#!/usr/bin/env python3
"""Soak: concurrent clients against a real ``lgmock serve`` for a bounded time.

What runs, all on loopback:

- ``lgmock serve`` on a free port with the default scenario plus one air conditioner per
  client (owned by a soak-only user, powered on), and by default ``--state-file`` in a
  temporary folder, so the durable path is what is soaked;
- a callback receiver in this process that goes down for ``--down`` seconds every
  ``--down-every`` seconds and comes back on the same port;
- ``--clients`` clients (32), each for ``--seconds`` (600) running a seeded mix:
  Business Connect controls of its own air conditioner (the value acknowledged last is
  remembered) and reads, ThinQ asynchronous calls (each one's callbacks are expected,
  one per device), push subscriptions, fault rules and ``Prefer`` errors (4xx codes
  only, so any 5xx is the sandbox's), clock advances, and one client running DR
  lifecycles (group, user, event, opt-out, read back, user deleted).

Afterwards, with the receiver up: every delivery drained, every expected callback
received (by requestId and deviceId), every acknowledged control visible in the device's
status. With ``--crash`` (the default when there is a state file) the server is then
killed with SIGKILL while the receiver is down and callbacks are pending, restarted on
the same state file, and the same checks are made again: nothing acknowledged is lost.

Every acknowledged write is remembered by kind, and what it left is checked before and
after the crash: each control's device at its last acknowledged value, each push
subscription as acknowledged last, every DR group and event made, the DR user as
registered or deleted last, every fault rule removed gone.

It prints a table: requests made, 5xx, unexpected answers, socket errors, acknowledged
writes (the fewest of one kind), callbacks expected vs delivered (and lost), writes
checked (and lost), RSS of the server at start and end, with the machine line. Exit
status 0 only when nothing unexpected happened: 0 5xx, 0 unexpected answers, 0 socket
errors, every kind of write made at least once per 10 s (3 at least) and as many ThinQ
callbacks delivered, 0 callbacks lost, 0 writes lost, nothing given up or left pending,
no traceback in the server's log; 1 if not.

    .venv/bin/python benchmarks/soak.py [--seconds 600] [--clients 32] [--no-state-file]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from contract_tests.processes import ServeProcess

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = REPO / "fixtures" / "scenarios" / "default.yaml"
PARTNER, API_KEY, API_SECRET = "acme-energy", "acme-api-key-0001", "acme-api-secret-0001"
SERVICE, SERVICE_KEY = "acme-thinq-service", "acme-thinq-service-key"
KR_USER, KR_TOKEN = "KR2024000000001", "kr-user-oauth-token-0001"
SOAK_USER, SOAK_TOKEN = "KR2099000000099", "soak-user-oauth-token-0099"
TARGETS = list(range(18, 31))  # the air conditioner's writable targetTemperature
# Documented 4xx codes a client may force with Prefer: the answers are expected.
PREFER_CODES = ["4304", "4101", "4201"]


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def message_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_line() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def soak_ac(number: int) -> str:
    return f"50a{number:061d}"


def soak_scenario(clients: int, receiver: str) -> dict[str, Any]:
    """The default scenario, its callbacks to the receiver, one air conditioner per client."""
    document = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    for partner in document["partners"]:
        partner["callbackUrl"] = f"{receiver}/lg"
    for service in document["services"]:
        service["callbackUrl"] = f"{receiver}/thinq"
    document["users"].append(
        {"userNumber": SOAK_USER, "accessToken": SOAK_TOKEN, "countryCode": "KR"}
    )
    for number in range(clients):
        document["devices"].append(
            {
                "deviceId": soak_ac(number),
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "modelName": "RAC_056905_WW",
                "alias": f"Soak air conditioner {number}",
                "owner": SOAK_USER,
                "registeredTo": [PARTNER],
                "profile": "air_conditioner/basic.json",
                "status": {"operation": {"airConOperationMode": "POWER_ON"}},
            }
        )
    # Retries that outlast the receiver's downtime: nothing may be given up.
    document["delivery"] = {"attempts": 60, "backoffInitial": 0.2, "backoffMax": 1.0}
    return document


# --------------------------------------------------------------------------- receiver


class Receiver:
    """Counts what arrives; can go down (port closed) and come back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.thinq: set[tuple[str, str]] = set()  # (requestId, deviceId)
        self.received = 0
        self.by_path: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._on_post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self.up()

    async def _on_post(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received += 1
        self.by_path[request.path] += 1
        if request.path == "/thinq" and isinstance(body, dict):
            device = (body.get("response") or {}).get("deviceId") or body.get("deviceId")
            self.thinq.add((body.get("requestId"), device))
        return web.json_response({"ok": True})

    async def up(self) -> None:
        if self._site is None:
            assert self._runner is not None
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
            await self._site.start()

    async def down(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def close(self) -> None:
        await self.down()
        if self._runner is not None:
            await self._runner.cleanup()


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    """One lgmock server of the soak, restarted on the same port (its state file)."""

    args: list[str]
    work: Path
    port: int = field(default_factory=free_port)
    running: ServeProcess | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.running.process if self.running else None

    def start(self, wait: float = 120.0) -> None:
        # Ready when health answers: the port is bound before the state is restored.
        self.running = ServeProcess(
            *self.args, log_path=self.work / "lgmock.log", cwd=self.work, port=self.port, wait=wait
        )

    def log(self) -> str:
        return (self.work / "lgmock.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.running is not None and self.running.alive():
            self.running.kill(timeout=30)

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop(timeout=30)


# --------------------------------------------------------------------------- clients


@dataclass
class Tally:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    socket_errors: int = 0
    expected_thinq: set[tuple[str, str]] = field(default_factory=set)
    acknowledged: dict[str, int] = field(default_factory=dict)  # device -> target
    # Every acknowledged write, by kind (the run must reach each kind), and what they
    # leave in the state, checked before and after the crash (check_writes):
    writes: Counter[str] = field(default_factory=Counter)
    subscribed: dict[str, bool] = field(default_factory=dict)  # device -> acknowledged
    faults_added: set[str] = field(default_factory=set)
    faults_removed: set[str] = field(default_factory=set)
    dr_groups: set[str] = field(default_factory=set)
    dr_events: set[str] = field(default_factory=set)
    dr_user: bool | None = None  # the DR user's registration, as acknowledged last
    thinq_devices: dict[str, list[str]] = field(default_factory=dict)  # user -> devices
    # Each leaves a DR group and event in the sandbox (the vendor API deletes neither):
    # state that grows with the run, beside the journals' caps.
    dr_lifecycles: int = 0


class Client:
    def __init__(self, number: int, session: aiohttp.ClientSession, base: str, tally: Tally):
        self.number = number
        self.session = session
        self.base = base
        self.tally = tally
        self.random = random.Random(number)
        self.device = soak_ac(number)
        self.token = ""
        self.subscribed = False

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, Any]:
        self.tally.requests += 1
        try:
            async with self.session.request(
                method, self.base + path, headers=headers, json=json
            ) as answer:
                status = answer.status
                body = await answer.json(content_type=None) if answer.content_length else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.tally.socket_errors += 1
            self.tally.unexpected.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return 0, None
        self.tally.by_status[status] += 1
        if status >= 500:
            self.tally.server_errors.append(f"{method} {path} -> {status}: {str(body)[:300]}")
        elif status not in expect:
            self.tally.unexpected.append(f"{method} {path} -> {status}: {str(body)[:300]}")
        return status, body

    async def bc_headers(self, *, user: bool = False) -> dict[str, str]:
        if not self.token:
            status, body = await self.call(
                "POST", "/bc/v1/token", headers={"X-Api-Key": API_KEY, "X-Api-Secret": API_SECRET}
            )
            self.token = body["access_token"] if status == 200 else ""
        headers = {
            "X-Api-Key": API_KEY,
            "X-Api-Token": self.token,
            "X-Message-Id": message_id(),
            "X-Use-Account": "REGISTERED",
        }
        if user:
            headers.update(
                {
                    "X-Use-Account": "IN-HEADER",
                    "Authorization": f"Bearer {SOAK_TOKEN}",
                    "X-Country-Code": "KR",
                }
            )
        return headers

    async def bc(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A Business Connect call; a token expired by a clock advance is renewed once."""
        user = kwargs.pop("user", False)
        expect = kwargs.pop("expect", (200,))
        status, body = await self.call(
            method, path, headers=await self.bc_headers(user=user), expect=(*expect, 401), **kwargs
        )
        if status == 401:
            self.token = ""
            status, body = await self.call(
                method, path, headers=await self.bc_headers(user=user), expect=expect, **kwargs
            )
        return status, body

    # ---- the mix
    async def control(self) -> None:
        target = self.random.choice(TARGETS)
        body = {"temperature": {"targetTemperature": target}}
        status, _ = await self.bc("POST", f"/bc/v1/devices/{self.device}", json=body)
        if status == 200:
            self.tally.acknowledged[self.device] = target
            self.tally.writes["control"] += 1

    async def read(self) -> None:
        if self.random.random() < 0.7:
            await self.bc("GET", f"/bc/v1/devices/{self.device}")
        else:
            await self.bc("GET", "/bc/v1/devices")

    async def thinq(self) -> None:
        operation = self.random.choice(["status-async", "profile-async"])
        headers = {
            "Authorization": f"Bearer {KR_TOKEN}",
            "x-message-id": message_id(),
            "x-service-id": SERVICE,
            "x-service-key": SERVICE_KEY,
            "x-country-code": "KR",
        }
        status, body = await self.call(
            "POST", f"/v2/devices/{operation}", headers=headers, expect=(202,)
        )
        if status == 202:
            self.tally.writes["thinq"] += 1
            for device in self.tally.thinq_devices[KR_USER]:
                self.tally.expected_thinq.add((body["requestId"], device))

    async def push(self) -> None:
        method = "DELETE" if self.subscribed else "POST"
        status, _ = await self.bc(method, f"/bc/v1/push/{self.device}", user=True)
        if status == 200:
            self.subscribed = not self.subscribed
            self.tally.subscribed[self.device] = self.subscribed
            self.tally.writes["push " + ("subscribe" if self.subscribed else "unsubscribe")] += 1

    async def prefer(self) -> None:
        code = self.random.choice(PREFER_CODES)
        headers = {**await self.bc_headers(), "Prefer": f"error={code}"}
        await self.call(
            "GET", f"/bc/v1/devices/{self.device}", headers=headers, expect=(400, 401, 404)
        )

    async def fault_rule(self) -> None:
        rule = {
            "match": {"operationId": "getStatusOfDevice", "deviceId": self.device},
            "effect": {"delay": 20},
            "count": 1,
        }
        status, added = await self.call("POST", "/_sandbox/faults", json=rule, expect=(201,))
        await self.bc("GET", f"/bc/v1/devices/{self.device}")  # meets the delay
        if status == 201:
            self.tally.writes["fault rule added"] += 1
            self.tally.faults_added.add(added["id"])
            status, _ = await self.call(
                "DELETE", f"/_sandbox/faults/{added['id']}", expect=(204,)
            )
            if status == 204:
                self.tally.writes["fault rule removed"] += 1
                self.tally.faults_removed.add(added["id"])

    async def clock(self) -> None:
        status, _ = await self.call("POST", "/_sandbox/clock", json={"advance": 1})
        if status == 200:
            self.tally.writes["clock advance"] += 1

    MIX = [
        (control, 35),
        (read, 30),
        (thinq, 12),
        (push, 8),
        (prefer, 8),
        (fault_rule, 4),
        (clock, 3),
    ]

    async def run(self, deadline: float) -> None:
        actions, weights = zip(*self.MIX, strict=True)
        while time.monotonic() < deadline:
            action = self.random.choices(actions, weights)[0]
            await action(self)


class DrClient(Client):
    """One client running DR lifecycles end to end, one after another."""

    async def run(self, deadline: float) -> None:
        round_ = 0
        while time.monotonic() < deadline:
            round_ += 1
            await self.lifecycle(f"soak-{round_}")
            self.tally.dr_lifecycles += 1

    async def dr(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**await self.bc_headers(), "X-Country-Code": "KR"}
        headers.pop("X-Use-Account")
        status, body = await self.call(
            method, f"/bc/v1/dr{path}", headers=headers, expect=(200, 401), **kwargs
        )
        if status == 401:
            self.token = ""
            return await self.dr(method, path, **kwargs)
        if status == 200 and method != "GET":
            parts = path.split("/")[1:]  # "/events/ID/targets": "events targets"
            name = " ".join([parts[0], *parts[2:]])
            self.tally.writes[f"DR {method} {name}"] += 1
        return status, body

    async def lifecycle(self, name: str) -> None:
        group = {"groupId": f"g-{name}", "groupName": name, "partnerId": PARTNER}
        if (await self.dr("POST", "/groups", json=group))[0] == 200:
            self.tally.dr_groups.add(group["groupId"])
        user = {
            "userNo": KR_USER,
            "accessToken": "emp-access-token",
            "refreshToken": "emp-refresh-token",
            "groupId": group["groupId"],
            "partner": {"partnerId": PARTNER, "authCodeExt": "soak-auth-code"},
        }
        if (await self.dr("POST", "/users", json=user))[0] == 200:
            self.tally.dr_user = True
        status, clock = await self.call("GET", "/_sandbox/clock")
        now = int(time.time() * 1000)
        if status == 200:
            from datetime import datetime

            now = int(datetime.fromisoformat(clock["now"]).timestamp() * 1000)
        event = {
            "eventId": f"ev-{name}",
            "eventName": name,
            "partnerId": PARTNER,
            "startTs": now + 3_600_000,
            "endTs": now + 7_200_000,
            "targets": [{"targetType": "GROUP", "targetIds": [group["groupId"]]}],
            "signals": [
                {
                    "signalId": f"ev-{name}-s1",
                    "deviceType": "DEVICE_AIR_CONDITIONER",
                    "signalType": "CONTROL_RESTORE",
                    "controlType": "Temperature",
                    "restoreType": "Temperature",
                    "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
                }
            ],
        }
        if (await self.dr("POST", "/events", json=event))[0] == 200:
            self.tally.dr_events.add(event["eventId"])
        target = {"type": "USER", "id": KR_USER, "opt": "OUT"}
        await self.dr("POST", f"/events/{event['eventId']}/targets", json=target)
        await self.dr("GET", f"/groups/{group['groupId']}")
        await self.dr("GET", f"/users/{KR_USER}/devices")
        if (await self.dr("DELETE", f"/users/{KR_USER}"))[0] == 200:
            self.tally.dr_user = False


# --------------------------------------------------------------------------- checks


async def wait_drained(session: aiohttp.ClientSession, base: str, timeout: float) -> int:
    """Seconds until no delivery is pending; the count still pending on timeout."""
    deadline = time.monotonic() + timeout
    pending = -1
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(
                f"{base}/_sandbox/callbacks", params={"status": "pending", "limit": 1}
            ) as answer:
                pending = (await answer.json())["total"]
            if pending == 0:
                return 0
        await asyncio.sleep(0.5)
    return pending


async def check_updates(session: aiohttp.ClientSession, base: str, tally: Tally) -> list[str]:
    """Every acknowledged control's value, read back: the devices that lost one."""
    lost = []
    client = Client(0, session, base, Tally())
    for device, target in sorted(tally.acknowledged.items()):
        status, body = await client.bc("GET", f"/bc/v1/devices/{device}")
        seen = ((body or {}).get("response") or {}).get("temperature", {}).get("targetTemperature")
        if seen != target:
            lost.append(f"{device}: acknowledged {target}, reads {seen} ({status}: {body})")
    return lost


async def check_writes(session: aiohttp.ClientSession, base: str, tally: Tally) -> list[str]:
    """What every other acknowledged write left, in the whole state: each subscription
    as acknowledged last, every DR group and event made, the DR user as registered or
    deleted last, every fault rule removed gone. The writes that were lost."""
    async with session.get(f"{base}/_sandbox/state") as answer:
        state = await answer.json()
    lost = []
    partner = next(p for p in state["partners"] if p["partnerId"] == PARTNER)
    subscribed = set(partner["pushSubscriptions"])
    for device, acknowledged in sorted(tally.subscribed.items()):
        if (device in subscribed) != acknowledged:
            lost.append(f"{device}: push subscription acknowledged {acknowledged}, reads not")
    dr = state["dr"]
    groups = {g["groupId"] for g in dr["groups"]}
    events = {e["eventId"] for e in dr["events"]}
    lost += [f"DR group {g} acknowledged, gone" for g in sorted(tally.dr_groups - groups)]
    lost += [f"DR event {e} acknowledged, gone" for e in sorted(tally.dr_events - events)]
    if tally.dr_user is not None:
        registered = any(u.get("userNo") == KR_USER for u in dr["users"])
        if registered != tally.dr_user:
            lost.append(f"DR user {KR_USER}: acknowledged registered={tally.dr_user}")
    rules = {r["id"] for r in state.get("faults") or []}
    lost += [f"fault rule {r} removed, back" for r in sorted(tally.faults_removed & rules)]
    kept = tally.faults_added - tally.faults_removed
    lost += [f"fault rule {r} acknowledged, gone" for r in sorted(kept - rules)]
    return lost


def minimum_writes(seconds: float) -> int:
    """What a run must reach of each kind of write: a run that made next to none of one
    (all refused, or a client stuck) tested nothing of it."""
    return max(3, int(seconds // 10))


WRITE_KINDS = (
    "control",
    "thinq",
    "push subscribe",
    "push unsubscribe",
    "fault rule added",
    "fault rule removed",
    "clock advance",
    "DR POST groups",
    "DR POST users",
    "DR POST events",
    "DR POST events targets",
    "DR DELETE users",
)


async def failed_deliveries(session: aiohttp.ClientSession, base: str) -> int:
    async with session.get(
        f"{base}/_sandbox/callbacks", params={"status": "failed", "limit": 1}
    ) as answer:
        return (await answer.json())["total"]


# --------------------------------------------------------------------------- main


async def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    receiver = Receiver()
    await receiver.start()
    scenario_file = work / "soak-scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(soak_scenario(args.clients, receiver.url)))
    state_file = None if args.no_state_file else work / "soak-state.db"
    server_args = ["--scenario", str(scenario_file)]
    if state_file is not None:
        server_args += ["--state-file", str(state_file)]
    server = Server(server_args, work)
    results: dict[str, Any] = {"state_file": state_file is not None}
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=args.clients + 8)
    try:
        server.start()
        assert server.process is not None
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            async with session.get(f"{server.base}/_sandbox/state") as answer:
                state = await answer.json()
            tally.thinq_devices[KR_USER] = [
                d["deviceId"] for d in state["devices"] if d.get("owner") == KR_USER
            ]
            results["rss_start"] = rss_mb(server.process.pid)
            log(f"server pid {server.process.pid} on {server.base}")
            clients = [Client(n, session, server.base, tally) for n in range(args.clients - 1)]
            clients.append(DrClient(args.clients - 1, session, server.base, tally))

            async def flap(deadline: float) -> None:
                while time.monotonic() < deadline:
                    await asyncio.sleep(args.down_every)
                    await receiver.down()
                    await asyncio.sleep(args.down)
                    await receiver.up()

            started = time.monotonic()
            deadline = started + args.seconds
            flapper = asyncio.create_task(flap(deadline))
            rss_peak = results["rss_start"]
            results["rss_half"] = None

            async def watch_rss() -> None:
                # Half time too: an RSS that stops growing once the journals' caps are
                # reached shows at the end as about what it was then.
                nonlocal rss_peak
                halfway = started + args.seconds / 2
                while time.monotonic() < deadline:
                    rss = rss_mb(server.process.pid)
                    rss_peak = max(rss_peak, rss)
                    if results["rss_half"] is None and time.monotonic() >= halfway:
                        results["rss_half"] = rss
                    await asyncio.sleep(1)

            watcher = asyncio.create_task(watch_rss())
            await asyncio.gather(*(client.run(deadline) for client in clients))
            results["elapsed"] = time.monotonic() - started
            flapper.cancel()
            watcher.cancel()
            await receiver.up()
            results["rss_end"] = rss_mb(server.process.pid)
            results["rss_peak"] = rss_peak
            drain = max(120.0, args.seconds / 2)
            results["pending_after_drain"] = await wait_drained(session, server.base, drain)
            results["failed"] = await failed_deliveries(session, server.base)
            results["lost_updates"] = await check_updates(session, server.base, tally)
            results["lost_updates"] += await check_writes(session, server.base, tally)
            results["lost_callbacks"] = len(tally.expected_thinq - receiver.thinq)

            if state_file is not None and args.crash:
                results["crash"] = await crash_and_restart(args, session, server, receiver, tally)
    finally:
        server.stop()
        await receiver.close()
    results["tally"] = tally
    results["receiver"] = receiver
    results["traceback_in_log"] = "Traceback" in server.log()
    return results


async def crash_and_restart(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    server: Server,
    receiver: Receiver,
    tally: Tally,
) -> dict[str, Any]:
    """SIGKILL right after acknowledged changes with callbacks pending; restart; check."""
    await receiver.down()
    clients = [Client(1000 + n, session, server.base, tally) for n in range(args.clients - 1)]
    for client in clients:
        client.device = soak_ac(client.number - 1000)
    # One more acknowledged control per device and a ThinQ call whose callbacks cannot be
    # delivered yet, then the kill at once: no time for any periodic write.
    await asyncio.gather(*(client.control() for client in clients))
    await clients[0].thinq()
    server.kill()
    server.start()
    outcome: dict[str, Any] = {}
    # A new session: the old one's pooled connections died with the server.
    async with aiohttp.ClientSession(timeout=session.timeout) as fresh:
        outcome["lost_updates"] = await check_updates(fresh, server.base, tally)
        outcome["lost_updates"] += await check_writes(fresh, server.base, tally)
        await receiver.up()
        drain = max(120.0, args.seconds / 2)
        outcome["pending_after_drain"] = await wait_drained(fresh, server.base, drain)
    outcome["lost_callbacks"] = len(tally.expected_thinq - receiver.thinq)
    return outcome


def report(args: argparse.Namespace, results: dict[str, Any]) -> tuple[str, bool]:
    tally: Tally = results["tally"]
    receiver: Receiver = results["receiver"]
    crash = results.get("crash")
    # Counted once everything had its chance (after the restart when there is one).
    lost_callbacks = crash["lost_callbacks"] if crash else results["lost_callbacks"]
    lost_updates = len(results["lost_updates"]) + (len(crash["lost_updates"]) if crash else 0)
    minimum = minimum_writes(results["elapsed"])
    rows = [
        ("clients", f"{args.clients}"),
        ("duration", f"{results['elapsed']:.0f} s"),
        ("state file", "yes (SQLite)" if results["state_file"] else "no"),
        ("requests made", f"{tally.requests:,}"),
        ("requests/s", f"{tally.requests / results['elapsed']:,.0f}"),
        ("5xx answers", f"{len(tally.server_errors)}"),
        ("unexpected answers (not 5xx)", f"{len(tally.unexpected)}"),
        ("ThinQ callbacks expected", f"{len(tally.expected_thinq):,}"),
        ("ThinQ callbacks delivered", f"{len(tally.expected_thinq & receiver.thinq):,}"),
        ("callbacks lost", f"{lost_callbacks}"),
        ("deliveries received (all kinds)", f"{receiver.received:,}"),
        ("deliveries given up", f"{results['failed']}"),
        ("pending after the drain wait", _pending(results)),
        ("socket errors", f"{tally.socket_errors}"),
        ("acknowledged writes", f"{sum(tally.writes.values()):,}"),
        (f"fewest of one kind (of {len(WRITE_KINDS)}; minimum)", _fewest(tally, minimum)),
        ("updates checked", f"{len(tally.acknowledged)}"),
        ("state checked after the crash", _checked(tally)),
        ("updates lost", f"{lost_updates}"),
        ("kill -9 and restart", "done" if crash else "not run"),
        ("DR groups and events left (no API deletes them)", f"{tally.dr_lifecycles:,} each"),
        ("RSS start / half time / peak / end", _rss(results)),
        ("traceback in server log", "yes" if results["traceback_in_log"] else "no"),
    ]
    kinds_short = [kind for kind in WRITE_KINDS if tally.writes[kind] < minimum]
    callbacks_short = len(tally.expected_thinq & receiver.thinq) < minimum
    width = max(len(name) for name, _ in rows)
    lines = [f"lgmock soak ({machine_line()})", ""]
    lines += [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    for title, items in (
        ("5xx", tally.server_errors),
        ("unexpected", tally.unexpected),
        ("lost updates", results["lost_updates"] + (crash["lost_updates"] if crash else [])),
        ("kinds of write made fewer than the minimum", kinds_short),
    ):
        if items:
            lines += ["", f"{title} (first 10 of {len(items)}):", *[f"  {i}" for i in items[:10]]]
    ok = (
        not tally.server_errors
        and not tally.unexpected
        and tally.socket_errors == 0
        and not kinds_short
        and not callbacks_short
        and lost_callbacks == 0
        and lost_updates == 0
        and results["failed"] == 0
        and (crash or results)["pending_after_drain"] == 0
        and not results["traceback_in_log"]
    )
    lines += ["", "targets met" if ok else "TARGETS MISSED"]
    return "\n".join(lines), ok


def _fewest(tally: Tally, minimum: int) -> str:
    kind = min(WRITE_KINDS, key=lambda k: tally.writes[k])
    return f"{tally.writes[kind]:,} ({kind}; {minimum})"


def _checked(tally: Tally) -> str:
    rules = len(tally.faults_added)
    return (
        f"{len(tally.acknowledged)} controls, {len(tally.subscribed)} subscriptions,"
        f" {len(tally.dr_groups):,} DR groups, {len(tally.dr_events):,} DR events,"
        f" the DR user, {rules:,} fault rules"
    )


def _pending(results: dict[str, Any]) -> str:
    crash = results.get("crash")
    after = f", after the restart {crash['pending_after_drain']}" if crash else ""
    return f"{results['pending_after_drain']}{after}"


def _rss(results: dict[str, Any]) -> str:
    half = results.get("rss_half")
    return (
        f"{results['rss_start']:.0f} / {'n/a' if half is None else f'{half:.0f}'}"
        f" / {results['rss_peak']:.0f} / {results['rss_end']:.0f} MB"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="load time (600)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--down-every", type=float, default=15.0, help="receiver up (s)")
    parser.add_argument("--down", type=float, default=3.0, help="receiver down (s)")
    parser.add_argument("--no-state-file", action="store_true", help="soak without --state-file")
    parser.add_argument(
        "--no-crash", dest="crash", action="store_false", help="skip the kill -9 and restart"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lgmock-soak-") as folder:
        results = asyncio.run(soak(args, Path(folder)))
    text, ok = report(args, results)
    print(text, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
