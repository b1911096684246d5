#!/usr/bin/env python3
"""ThinQ Connect push over MQTT, as LG's own client receives it.

One ``lgmock serve`` on a generated fleet of air conditioners owned by one user with a
personal access token; LG's SDK client (``ThinQMQTTClient`` on awscrt, through
``contract_tests.thinq_mqtt``) registers, gets its certificate, connects with mutual TLS
and subscribes to every device's events. Then:

1. **connect time**: the SDK's ``async_connect_mqtt`` (TLS handshake with its client
   certificate, MQTT CONNECT, SUBSCRIBE), and the whole preparation before it (register,
   RSA key and CSR, certificate);
2. **paced**: every device changes once a second (``PATCH /_sandbox/devices/{id}/state``,
   a new ``airQualitySensor.humidity``, spread evenly over each second) for ``--seconds``
   (after one unmeasured round that sets every device to a value no round uses); the
   delivery latency of each message is the time from just before its PATCH was sent to
   its arrival at the SDK's callback (one process, one clock): p50, p99, max;
3. **burst**: the same changes sent as fast as the driver can, for messages/s into the one
   client.

Every change must arrive once: lost or duplicated ones are counted and printed. Bounded:
each phase has a deadline, and the server is stopped in a ``finally``.

    .venv/bin/python benchmarks/bench_mqtt.py [--devices 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from contract_tests.thinq_connect import sdk_api  # noqa: E402
from contract_tests.thinq_mqtt import SandboxMqttClient, sandbox_ca  # noqa: E402

PAT = "bench-mqtt-personal-access-token"
CLIENT_ID = "bench-mqtt-client"
LOW, HIGH = 30, 70  # humidity values the rounds cycle through (the simulator leaves it)
PRIMING = 20  # the unmeasured first round's value: each measured one is a real change


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def lgmock() -> list[str]:
    script = Path(sys.executable).with_name("lgmock")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mockserver.cli"]


def fleet(work: Path, devices: int) -> tuple[Path, dict[str, Any]]:
    made = subprocess.run(
        [
            *lgmock(),
            "scenario",
            "generate",
            "--devices",
            str(devices),
            "--types",
            "air_conditioner",
            "--users",
            "1",
            "--seed",
            "7",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    document = json.loads(made.stdout)
    document["users"][0]["pat"] = PAT
    path = work / "fleet.json"
    path.write_text(json.dumps(document))
    return path, document


def start(work: Path, scenario: Path) -> tuple[subprocess.Popen[bytes], str]:
    log_path = work / "lgmock.log"
    process = subprocess.Popen(
        [*lgmock(), "serve", "--port", "0", "--scenario", str(scenario)],
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text())
        found = re.search(r"Business Connect\s+(http://127\.0\.0\.1:\d+)/bc", log_path.read_text())
        if found:
            try:
                if httpx.get(f"{found.group(1)}/_sandbox/health", timeout=2).status_code == 200:
                    return process, found.group(1)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"lgmock did not start:\n{log_path.read_text()}")


class Arrivals:
    """What the SDK's callback received, stamped on arrival."""

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
        reading = message["report"].get("airQualitySensor", {}).get("humidity")
        if reading is None:
            return
        with self.lock:
            self.seen.setdefault((message["deviceId"], reading), []).append(now)


async def drive(
    base: str, device_ids: list[str], rounds: int, paced: bool, first_value: int
) -> dict[tuple[str, int], float]:
    """One change per device per round; paced: each round spread over one second."""
    sent: dict[tuple[str, int], float] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        semaphore = asyncio.Semaphore(64)

        async def change(device_id: str, value: int, at: float) -> None:
            if paced:
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
            async with semaphore:
                sent[(device_id, value)] = time.perf_counter()
                answer = await http.patch(
                    f"/_sandbox/devices/{device_id}/state",
                    json={"airQualitySensor": {"humidity": value}},
                )
                answer.raise_for_status()

        started = time.perf_counter()
        tasks = []
        for round_number in range(rounds):
            if first_value is None:
                value = PRIMING
            else:
                value = LOW + (first_value + round_number) % (HIGH - LOW + 1)
            for n, device_id in enumerate(device_ids):
                at = started + round_number + n / len(device_ids)
                tasks.append(change(device_id, value, at))
        await asyncio.gather(*tasks)
    return sent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def settle(arrivals: Arrivals, sent: dict[tuple[str, int], float], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with arrivals.lock:
            if all(key in arrivals.seen for key in sent):
                return
        time.sleep(0.1)


def report(name: str, arrivals: Arrivals, sent: dict[tuple[str, int], float]) -> dict[str, Any]:
    with arrivals.lock:
        latencies = [
            (arrivals.seen[k][0] - t) * 1000 for k, t in sent.items() if k in arrivals.seen
        ]
        lost = sum(1 for k in sent if k not in arrivals.seen)
        twice = sum(1 for k in sent if len(arrivals.seen.get(k, ())) > 1)
        stamps = [arrivals.seen[k][0] for k in sent if k in arrivals.seen]
    span = (max(stamps) - min(sent.values())) if stamps else 0.0
    return {
        "phase": name,
        "changes": len(sent),
        "received": len(latencies),
        "lost": lost,
        "duplicated": twice,
        "messages_per_s": round(len(latencies) / span, 1) if span else 0.0,
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    scenario, document = fleet(work, args.devices)
    user = document["users"][0]
    device_ids = [d["deviceId"] for d in document["devices"]]
    process, base = start(work, scenario)
    client = None
    try:
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
            for start_at in range(0, len(device_ids), 50):
                await asyncio.gather(
                    *(
                        api.async_post_event_subscribe(d)
                        for d in device_ids[start_at : start_at + 50]
                    )
                )

        client.call(subscribe_all)
        log(f"subscribed to {len(device_ids)} devices' events")
        priming = asyncio.run(drive(base, device_ids, 1, False, None))
        settle(arrivals, priming, 60)
        results = []
        for name, paced, rounds, first in (
            ("paced", True, args.seconds, 0),
            ("burst", False, 3, args.seconds),
        ):
            sent = asyncio.run(drive(base, device_ids, rounds, paced, first))
            settle(arrivals, sent, 60)
            results.append(report(name, arrivals, sent))
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
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    raise SystemExit(main())
