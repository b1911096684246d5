#!/usr/bin/env python3
"""Fleet scale: what one `lgmock serve` costs at 1,000, 10,000 and 100,000 devices.

For each size N, on loopback, every wait bounded:

1. A mixed fleet (`lgmock scenario generate`'s eight default types, one partner, one user
   owning every device, enrolled in DR). `lgmock serve` on it: the time from starting the
   process to its first answer (GET /_sandbox/health), its RSS, then
   `GET /bc/v1/devices` for the partner (all N devices), `POST /_sandbox/reset` after a
   change and the RSS after it, and `GET /_sandbox/state` read to the end.
2. The tick: in this process, the same fleet as a sandbox with its simulator, a DR event
   running on 1,000 of its air conditioners (DEVICE targets, a Temperature signal
   holding each of them; all of them in a smaller fleet): the mean cost of one
   `Sandbox.tick()` (what runs before every request), and the same without the event.
3. Fan-out: a fleet of N air conditioners of one user; `POST /v2/devices/control-async`
   (POWER_OFF) to all of them: the 202's latency, and the time from the 202 to the last
   of the N callbacks received by an `lgmock receiver` process.

Last, the per-device slope between the smallest and the largest size (ready time and
RSS). Targets at 100,000 (issue 11): ready <= 5 s, RSS <= 600 MB, reset <= 1 s (RSS
after reset <= 600 MB), control-async 202 <= 2 s and every callback delivered <= 20 s,
GET devices <= 2 s, tick <= 1 ms with 1,000 active devices.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from bench_devices import free_port, machine_line  # the same machine line in every table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from contract_tests.processes import ChildProcess, ServeProcess  # noqa: E402
from mockserver import generator, scenario, simulation  # noqa: E402

Server = ServeProcess

BIN = Path(sys.executable).parent
LGMOCK = (
    [str(BIN / "lgmock")] if (BIN / "lgmock").exists() else [sys.executable, "-m", "mockserver.cli"]
)
ACTIVE = 1_000  # devices a DR event runs on in the tick measurement
TICKS = 500


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def message_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def fleet(devices: int, *, types: tuple[str, ...], callback: str) -> dict[str, Any]:
    document = generator.generate(devices, types=types, users=1, seed=1)
    for entry in document["partners"]:
        entry["callbackUrl"] = f"{callback}/lg"
    for entry in document["services"]:
        entry["callbackUrl"] = f"{callback}/thinq"
    return document


def write(document: dict[str, Any], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        for piece in generator.write(document):
            stream.write(piece)
    return path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_starts = itertools.count(1)


def start(scenario_file: Path, timeout: float = 300, extra: list[str] | None = None) -> Server:
    """``lgmock serve`` on the scenario, by the project's launcher; ``ready_s`` is the time
    from the start to its first healthy answer."""
    log_path = scenario_file.parent / f"lgmock-{next(_starts)}.log"
    return ServeProcess(
        "--scenario", str(scenario_file), *(extra or []), log_path=log_path, wait=timeout
    )


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure_server(devices: int, workdir: Path) -> dict[str, Any]:
    document = fleet(devices, types=generator.DEFAULT_TYPES, callback="http://127.0.0.1:9")
    path = write(document, workdir / f"fleet-{devices}.yaml")
    partner = document["partners"][0]
    device_id = document["devices"][0]["deviceId"]  # an air conditioner
    del document
    server = start(path)
    row: dict[str, Any] = {"devices": devices, "ready_s": server.ready_s, "device": device_id}
    try:
        pid = server.process.pid
        row["rss_mb"] = rss_mb(pid)
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            token = http.post(
                "/bc/v1/token",
                headers={"X-Api-Key": partner["apiKey"], "X-Api-Secret": partner["apiSecret"]},
            ).json()["access_token"]
            headers = {
                "X-Api-Key": partner["apiKey"],
                "X-Api-Token": token,
                "X-Message-Id": message_id(),
                "X-Use-Account": "REGISTERED",
            }
            row["list_s"], answer = timed(lambda: http.get("/bc/v1/devices", headers=headers))
            if answer.status_code != 200 or len(answer.json()["response"]) != devices:
                raise RuntimeError(f"GET /bc/v1/devices: {answer.status_code} {answer.text[:300]}")
            change = {"temperature": {"targetTemperature": 18}}
            http.patch(f"/_sandbox/devices/{device_id}/state", json=change).raise_for_status()
            row["reset_s"], answer = timed(lambda: http.post("/_sandbox/reset"))
            answer.raise_for_status()
            row["rss_reset_mb"] = rss_mb(pid)

            def read_state() -> int:
                size = 0
                with http.stream("GET", "/_sandbox/state") as stream:
                    stream.raise_for_status()
                    for chunk in stream.iter_bytes():
                        size += len(chunk)
                return size

            row["state_s"], row["state_mb"] = timed(read_state)
            row["state_mb"] /= 1e6
            row["rss_state_mb"] = rss_mb(pid)
    finally:
        server.stop(timeout=15)
    return row


def measure_restart(devices: int, workdir: Path, device_id: str) -> dict[str, float]:
    """The mixed fleet with --state-file: a device taken offline, kill -9, and the
    restart from the file: its time to first answer and RSS, the change still there."""
    path = workdir / f"fleet-{devices}.yaml"  # written by measure_server
    state_file = workdir / f"state-{devices}.db"
    server = start(path, extra=["--state-file", str(state_file)])
    row = {"state_ready_s": server.ready_s}
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            answer = http.patch(f"/_sandbox/devices/{device_id}", json={"online": False})
            answer.raise_for_status()
        server.kill()  # at once: no shutdown, no tick
        server = start(path, extra=["--state-file", str(state_file)])
        row["restart_s"], row["rss_restart_mb"] = server.ready_s, rss_mb(server.process.pid)
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            state = http.get("/_sandbox/state").json()
        device = next(d for d in state["devices"] if d["deviceId"] == device_id)
        if device.get("online") is not False:
            raise RuntimeError(f"the change was lost in the restart: {device}")
    finally:
        server.stop(timeout=15)
        for leftover in workdir.glob(f"state-{devices}.db*"):
            leftover.unlink()
    return row


def measure_tick(devices: int, workdir: Path) -> dict[str, float]:
    document = json.loads((workdir / f"fleet-{devices}.yaml").read_text(encoding="utf-8"))
    sandbox = scenario.load(document, "<bench>")
    simulation.attach(sandbox)
    partner = document["partners"][0]["partnerId"]
    # Air conditioners: the devices a Temperature signal controls (all of them when the
    # fleet has fewer than ACTIVE).
    targets = [
        entry["deviceId"]
        for entry in document["devices"]
        if entry["deviceType"] == "DEVICE_AIR_CONDITIONER"
    ][:ACTIVE]
    del document

    def mean_tick_ms() -> float:
        started = time.perf_counter()
        for _ in range(TICKS):
            sandbox.tick()
        return (time.perf_counter() - started) / TICKS * 1000

    idle = mean_tick_ms()
    now_ms = int(sandbox.clock.timestamp() * 1000)
    sandbox.dr.put_event(
        partner,
        {
            "eventId": "bench-event",
            "eventName": "bench",
            "partnerId": partner,
            "startTs": now_ms - 60_000,
            "endTs": now_ms + 3_600_000,
            "targets": [{"targetType": "DEVICE", "targetIds": targets, "opt": "IN"}],
            "signals": [
                {
                    "signalId": "cool-less",
                    "signalType": "CONTROL",
                    "deviceType": "DEVICE_AIR_CONDITIONER",
                    "controlType": "Temperature",
                    "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
                }
            ],
        },
    )
    sandbox.tick()  # the window opens: signals applied once
    controlled = len(sandbox.dr.events["bench-event"].controls)
    return {"tick_idle_ms": idle, "tick_ms": mean_tick_ms(), "controlled": controlled}


def measure_fanout(devices: int, workdir: Path) -> dict[str, float]:
    receiver_port = free_port()
    receiver = ChildProcess(
        [*LGMOCK, "receiver", "--port", str(receiver_port), "--quiet"],
        log_path=workdir / f"receiver-{receiver_port}.log",
    )
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    document = fleet(devices, types=("DEVICE_AIR_CONDITIONER",), callback=receiver_url)
    path = write(document, workdir / f"acs-{devices}.yaml")
    service, user = document["services"][0], document["users"][0]
    del document
    server = None
    try:
        server = start(path)
        headers = {
            "Authorization": f"Bearer {user['accessToken']}",
            "x-message-id": message_id(),
            "x-service-id": service["serviceId"],
            "x-service-key": service["serviceKey"],
            "x-country-code": user["countryCode"],
        }
        body = {
            "deviceType": "DEVICE_AIR_CONDITIONER",
            "command": {"operation": {"airConOperationMode": "POWER_OFF"}},
        }
        with httpx.Client(timeout=120) as http:
            started = time.perf_counter()
            answer = http.post(
                f"{server.base_url}/v2/devices/control-async", headers=headers, json=body
            )
            accepted = time.perf_counter()
            if answer.status_code != 202:
                raise RuntimeError(f"control-async answered {answer.status_code}: {answer.text}")
            received = 0
            deadline = accepted + 180
            while time.perf_counter() < deadline:
                received = http.get(f"{receiver_url}/").json()["count"]
                if received >= devices:
                    break
                time.sleep(0.05)
            finished = time.perf_counter()
        return {
            "accept_s": accepted - started,
            "deliver_s": finished - accepted,
            "received": received,
        }
    finally:
        if server is not None:
            server.stop(timeout=15)
        receiver.stop(timeout=15)


def slope(rows: list[dict[str, Any]], key: str) -> float:
    first, last = rows[0], rows[-1]
    span = last["devices"] - first["devices"]
    return (last[key] - first[key]) / span if span else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--skip-fanout", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lgmock-scale-") as scratch:
        workdir = Path(scratch)
        for devices in args.sizes:
            log(f"{devices:,} devices: server")
            row = measure_server(devices, workdir)
            log(f"{devices:,} devices: restart from a state file after kill -9")
            row.update(measure_restart(devices, workdir, row.pop("device")))
            log(f"{devices:,} devices: tick")
            row.update(measure_tick(devices, workdir))
            if not args.skip_fanout:
                log(f"{devices:,} devices: control-async fan-out")
                row.update(measure_fanout(devices, workdir))
            rows.append(row)
            log(f"{row}")
    print(f"Machine: {machine_line()}; server, receiver and this driver share it.\n")
    print(
        "| devices | ready s | RSS MB | GET devices s | reset s | RSS after reset MB "
        "| GET state s (MB) | tick ms: DR event on N_dr devices (idle) | control-async 202 s "
        "| 202 -> all callbacks s | --state-file: ready s, restart after kill -9 s (RSS MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        fanout = (
            f"{row['accept_s']:.2f} | {row['deliver_s']:.1f} ({row['received']:,} received)"
            if "accept_s" in row
            else "n/a | n/a"
        )
        print(
            f"| {row['devices']:,} | {row['ready_s']:.2f} | {row['rss_mb']:.0f} "
            f"| {row['list_s']:.2f} | {row['reset_s']:.3f} | {row['rss_reset_mb']:.0f} "
            f"| {row['state_s']:.2f} ({row['state_mb']:.0f}) "
            f"| {row['tick_ms']:.3f} on {row['controlled']:,} ({row['tick_idle_ms']:.3f}) "
            f"| {fanout} | {row['state_ready_s']:.2f}, {row['restart_s']:.2f} "
            f"({row['rss_restart_mb']:.0f}) |"
        )
    if len(rows) > 1:
        print(
            f"\nPer device, {rows[0]['devices']:,} -> {rows[-1]['devices']:,}: "
            f"ready {slope(rows, 'ready_s') * 1e6:.1f} µs, "
            f"RSS {slope(rows, 'rss_mb') * 1024:.2f} KB, "
            f"reset {slope(rows, 'reset_s') * 1e6:.2f} µs."
        )
    print(
        "\nTargets at 100,000: ready <= 5 s, RSS <= 600 MB, reset <= 1 s, RSS after reset "
        "<= 600 MB, GET devices <= 2 s, tick <= 1 ms, 202 <= 2 s, all callbacks <= 20 s, "
        "restart from a state file <= 5 s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
