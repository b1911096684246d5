#!/usr/bin/env python3
"""ThinQ Connect push over MQTT, as LG's own client receives it.

One ``lgmock serve`` on a generated fleet of air conditioners owned by one user with a
personal access token; LG's SDK client (``ThinQMQTTClient`` on awscrt, through
``contract_tests.thinq_mqtt``) registers, gets its certificate, connects with mutual TLS
and subscribes to every device's events. Then:

1. **connect time**: the SDK's ``async_connect_mqtt`` (TLS handshake with its client
   certificate, MQTT CONNECT, SUBSCRIBE), and the whole preparation before it (register,
   RSA key and CSR, certificate);
2. **paced**: every device changes once a second for ``--seconds``: one ThinQ
   ``POST /v2/devices/control-async`` a second sets every air conditioner's target
   temperature to the round's value (its callbacks go to an ``lgmock receiver`` of their
   own); the delivery latency of each DEVICE_STATUS is the time from just before that
   request to the message's arrival at the SDK's callback (one process, one clock): p50,
   p99, max;
3. **burst**: two more rounds back to back, for messages/s into the one client.

(A per-device ``PATCH /_sandbox/devices/{id}/state`` driver measures the HTTP path more
than the channel: on the loaded 2-core machine it reached about 36 requests/s.)

Every change must arrive once: lost or duplicated ones are counted and printed. Bounded:
each phase has a deadline, and the server is stopped in a ``finally``.

    .venv/bin/python benchmarks/bench_mqtt.py [--devices 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from contract_tests.thinq_connect import sdk_api  # noqa: E402
from contract_tests.thinq_mqtt import SandboxMqttClient, sandbox_ca  # noqa: E402

PAT = "bench-mqtt-personal-access-token"
USER_TOKEN = "bench-mqtt-user-token"
SERVICE, SERVICE_KEY = "bench-mqtt-service", "bench-mqtt-service-key"
CLIENT_ID = "bench-mqtt-client"
TARGETS = list(range(18, 30))  # writable target temperatures (the profile: 18..30)
PRIMING = 30  # the unmeasured first round's target: each measured one is a real change
BURST_ROUNDS = 2
# Each round's target is used once (so an arrival names its round): paced and burst share
# the 12 writable values.
MAX_SECONDS = len(TARGETS) - BURST_ROUNDS


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def lgmock() -> list[str]:
    script = Path(sys.executable).with_name("lgmock")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mockserver.cli"]


def fleet(devices: int, receiver_url: str) -> dict[str, Any]:
    """One user (with a PAT) owning ``devices`` air conditioners, powered on."""
    return {
        "name": f"bench-mqtt-{devices}",
        "seed": 7,
        "services": [
            {"serviceId": SERVICE, "serviceKey": SERVICE_KEY, "callbackUrl": receiver_url}
        ],
        "users": [
            {"userNumber": "KR1", "accessToken": USER_TOKEN, "countryCode": "KR", "pat": PAT}
        ],
        "devices": [
            {
                "deviceId": f"ac-{n:05d}",
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "owner": "KR1",
                "profile": "air_conditioner/basic.json",
                "status": {"operation": {"airConOperationMode": "POWER_ON"}},
            }
            for n in range(devices)
        ],
    }


def start(command: list[str], work: Path, name: str, ready: str) -> subprocess.Popen[bytes]:
    log_path = work / f"{name}.log"
    process = subprocess.Popen(
        command, stdout=log_path.open("w"), stderr=subprocess.STDOUT, cwd=work
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            httpx.get(ready, timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} did not start:\n{log_path.read_text()}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Arrivals:
    """What the SDK's callback received, stamped on arrival: per (device, target)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[tuple[str, int], list[float]] = {}

    def on_message(
        self, topic: str, payload: bytes, dup: bool, qos: Any, retain: bool, **_: Any
    ) -> None:
        now = time.perf_counter()
        message = json.loads(payload)
        if message.get("pushType") != "DEVICE_STATUS":
            return
        target = message["report"].get("temperature", {}).get("targetTemperature")
        if target is not None:
            with self.lock:
                self.seen.setdefault((message["deviceId"], target), []).append(now)


def control_round(http: httpx.Client, target: int) -> float:
    """Every air conditioner of the user to ``target``: one control-async; its start."""
    headers = {
        "Authorization": f"Bearer {USER_TOKEN}",
        "x-message-id": base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode(),
        "x-service-id": SERVICE,
        "x-service-key": SERVICE_KEY,
        "x-country-code": "KR",
    }
    body = {
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "command": {"temperature": {"targetTemperature": target}},
    }
    started = time.perf_counter()
    answer = http.post("/v2/devices/control-async", headers=headers, json=body)
    if answer.status_code != 202:
        raise RuntimeError(f"control-async answered {answer.status_code}: {answer.text}")
    return started


def rounds(http: httpx.Client, count: int, first: int, paced: bool) -> list[tuple[int, float]]:
    """``count`` rounds (target, started); paced: one a second."""
    sent = []
    begin = time.perf_counter()
    for n in range(count):
        if paced:
            time.sleep(max(0.0, begin + n - time.perf_counter()))
        target = TARGETS[(first + n) % len(TARGETS)]
        sent.append((target, control_round(http, target)))
    return sent


def settle(arrivals: Arrivals, expected: set[tuple[str, int]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with arrivals.lock:
            if expected <= arrivals.seen.keys():
                return
        time.sleep(0.1)


def report(
    name: str, arrivals: Arrivals, devices: list[str], sent: list[tuple[int, float]]
) -> dict[str, Any]:
    latencies, lost, stamps = [], 0, []
    with arrivals.lock:
        for target, started in sent:
            for device_id in devices:
                after = [t for t in arrivals.seen.get((device_id, target), ()) if t >= started]
                if not after:
                    lost += 1
                    continue
                latencies.append((min(after) - started) * 1000)
                stamps.append(min(after))
        received = sum(len(v) for k, v in arrivals.seen.items() if k[1] in {t for t, _ in sent})
    span = (max(stamps) - sent[0][1]) if stamps else 0.0
    return {
        "phase": name,
        "changes": len(sent) * len(devices),
        "received": len(latencies),
        "lost": lost,
        "duplicated": max(0, received - len(latencies)),
        "messages_per_s": round(len(latencies) / span, 1) if span else 0.0,
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds is 1..{MAX_SECONDS}")
    work = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    receiver_port, server_port = free_port(), free_port()
    document = fleet(args.devices, f"http://127.0.0.1:{receiver_port}/thinq")
    (work / "fleet.json").write_text(json.dumps(document))
    user = document["users"][0]
    device_ids = [d["deviceId"] for d in document["devices"]]
    base = f"http://127.0.0.1:{server_port}"
    started: list[subprocess.Popen[bytes]] = []
    client = None
    try:
        started.append(
            start(
                [*lgmock(), "receiver", "--port", str(receiver_port), "--quiet"],
                work,
                "receiver",
                f"http://127.0.0.1:{receiver_port}/",
            )
        )
        started.append(
            start(
                [*lgmock(), "serve", "--port", str(server_port), "--scenario", "fleet.json"],
                work,
                "lgmock",
                f"{base}/_sandbox/health",
            )
        )
        arrivals = Arrivals()

        async def make_api() -> Any:
            return sdk_api(base, user, client_id=CLIENT_ID)

        prepared = time.perf_counter()
        client = SandboxMqttClient(make_api, CLIENT_ID, sandbox_ca(base), timeout=120)
        client._on_message = arrivals.on_message  # stamp on arrival, nothing queued
        client.start()
        whole = time.perf_counter() - prepared
        log(
            f"connected in {client.connect_seconds:.3f} s "
            f"({whole:.2f} s with register, CSR, certificate)"
        )

        async def subscribe_all() -> None:
            api = client.api
            for first in range(0, len(device_ids), 50):
                chunk = device_ids[first : first + 50]
                await asyncio.gather(*(api.async_post_event_subscribe(d) for d in chunk))

        client.call(subscribe_all)
        log(f"subscribed to {len(device_ids)} devices' events")
        results = []
        with httpx.Client(base_url=base, timeout=120) as http:
            control_round(http, PRIMING)
            settle(arrivals, {(d, PRIMING) for d in device_ids}, 120)
            for name, paced, count, first in (
                ("paced", True, args.seconds, 0),
                ("burst", False, BURST_ROUNDS, args.seconds),
            ):
                sent = rounds(http, count, first, paced)
                settle(arrivals, {(d, t) for t, _ in sent for d in device_ids}, 120)
                time.sleep(0.5)  # duplicates, if any, arrive too
                results.append(report(name, arrivals, device_ids, sent))
                log(json.dumps(results[-1]))
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.1f}; {args.devices} devices, one SDK client"
        )
        print(
            f"connect: {client.connect_seconds * 1000:.0f} ms (SDK async_connect_mqtt); "
            f"{whole:.2f} s with register, key, CSR and certificate"
        )
        print(
            "| phase | changes | received | lost | duplicated | messages/s "
            "| p50 ms | p99 ms | max ms |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in results:
            print(
                f"| {r['phase']} | {r['changes']} | {r['received']} | {r['lost']} | "
                f"{r['duplicated']} | {r['messages_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
                f"{r['max_ms']} |"
            )
        return 0 if all(r["lost"] == 0 for r in results) else 1
    finally:
        if client is not None:
            client.stop()
        for process in started:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    raise SystemExit(main())
