"""Fan-out: how fast the sandbox delivers callbacks to a local receiver.

For each size N (default 1,000 and 10,000) it writes a scenario with one user owning N
air conditioners, starts `lgmock serve` on it and `lgmock receiver` (each its own
process), calls `POST /v2/devices/control-async` once, and measures:

- the 202's latency (the handler validates and applies the command on all N devices);
- the time from the 202 to the last callback delivered (read from the sandbox journal);
- deliveries per second over that time.

Targets (issue 4): at least 2,000 deliveries/s; 10,000 devices fully delivered in 5 s.

    .venv/bin/python benchmarks/bench_fanout.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from bench_devices import free_port, machine_line  # the same machine line in both tables

from contract_tests.processes import ChildProcess, ServeProcess, lgmock_command

USER_TOKEN = "bench-user-token"
SERVICE, SERVICE_KEY = "bench-service", "bench-service-key"


def scenario(devices: int, receiver_url: str) -> dict:
    return {
        "name": f"fanout-{devices}",
        "seed": 1,
        "services": [
            {"serviceId": SERVICE, "serviceKey": SERVICE_KEY, "callbackUrl": receiver_url}
        ],
        "users": [{"userNumber": "KR1", "accessToken": USER_TOKEN, "countryCode": "KR"}],
        "devices": [
            {
                "deviceId": f"ac-{n:05d}",
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "owner": "KR1",
                "profile": "air_conditioner/basic.json",
            }
            for n in range(devices)
        ],
    }


def wait_up(url: str, process: ChildProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.argv} exited with {process.process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def run(devices: int, workdir: Path) -> dict:
    receiver_port = free_port()
    receiver_url = f"http://127.0.0.1:{receiver_port}/thinq"
    scenario_file = workdir / f"fanout-{devices}.json"
    scenario_file.write_text(json.dumps(scenario(devices, receiver_url)))
    receiver = ChildProcess(
        [*lgmock_command(), "receiver", "--port", str(receiver_port), "--quiet"],
        log_path=workdir / f"receiver-{devices}.log",
    )
    server: ServeProcess | None = None
    try:
        wait_up(f"http://127.0.0.1:{receiver_port}/", receiver)
        server = ServeProcess(
            "--scenario", str(scenario_file), log_path=workdir / f"lgmock-{devices}.log", wait=60
        )
        base = server.base_url
        headers = {
            "Authorization": f"Bearer {USER_TOKEN}",
            "x-message-id": base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode(),
            "x-service-id": SERVICE,
            "x-service-key": SERVICE_KEY,
            "x-country-code": "KR",
        }
        body = {
            "deviceType": "DEVICE_AIR_CONDITIONER",
            "command": {"operation": {"airConOperationMode": "POWER_OFF"}},
        }
        with httpx.Client(base_url=base, timeout=120) as http:
            started = time.perf_counter()
            answer = http.post("/v2/devices/control-async", headers=headers, json=body)
            accepted = time.perf_counter()
            if answer.status_code != 202:
                raise RuntimeError(f"control-async answered {answer.status_code}: {answer.text}")
            request_id = answer.json()["requestId"]
            deadline = accepted + 120
            delivered = failed = 0
            while time.perf_counter() < deadline:
                pending = http.get(
                    "/_sandbox/callbacks", params={"status": "pending", "limit": 1}
                ).json()["total"]
                if pending == 0:
                    break
                time.sleep(0.02)
            finished = time.perf_counter()
            summary = http.get(
                "/_sandbox/callbacks", params={"requestId": request_id, "limit": 1}
            ).json()
            delivered = http.get(
                "/_sandbox/callbacks", params={"status": "delivered", "limit": 1}
            ).json()["total"]
            failed = http.get(
                "/_sandbox/callbacks", params={"status": "failed", "limit": 1}
            ).json()["total"]
        received = httpx.get(f"http://127.0.0.1:{receiver_port}/").json()["count"]
        spread = finished - accepted
        return {
            "devices": devices,
            "accept_ms": (accepted - started) * 1000,
            "deliver_s": spread,
            "total_s": finished - started,
            "per_second": delivered / spread if spread > 0 else float("inf"),
            "delivered": delivered,
            "failed": failed,
            "received": received,
            "journaled": summary["total"],
        }
    finally:
        for process in (server, receiver):
            if process is not None:
                process.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            rows.append(run(size, Path(scratch)))
    print(f"Machine: {machine_line()}; sandbox, receiver and this driver share it.\n")
    print(
        "| devices | 202 latency ms | 202 -> last delivered s | deliveries/s "
        "| delivered | failed | received |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['devices']:,} | {row['accept_ms']:.0f} | {row['deliver_s']:.2f} | "
            f"{row['per_second']:,.0f} | {row['delivered']:,} | {row['failed']} "
            f"| {row['received']:,} |"
        )
    print("\nTargets: >= 2,000 deliveries/s; 10,000 devices delivered within 5 s of the 202.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
