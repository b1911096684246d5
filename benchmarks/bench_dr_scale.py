#!/usr/bin/env python3
"""DR at fleet size: one event over every device of a fleet, and its data zip, over HTTP.

For each size N (default 100,000), on loopback, every wait bounded: a mixed fleet
(`lgmock scenario generate`'s eight default types, one partner, N/100 users in DR groups
of 50) served by `lgmock serve`; then, as a partner's client would:

1. `POST /bc/v1/dr/events`: GROUP targets naming every group (all N devices), its window
   open now, a Temperature signal for air conditioners (N/8 of them): the answer's time.
2. The time from that answer until the signal has reached the last air conditioner
   (`GET /bc/v1/devices/{id}` polled), and the slowest `GET /_sandbox/health` answered
   meanwhile (what any other request waits while the window opens in parts).
3. A Business Connect control of one member air conditioner (`POST /bc/v1/devices/{id}`,
   out of the event's bounds) and the `GET` of it after (its tick brings the device back
   within the bounds), for 5 members: the slowest of each. With `--state-file` each is
   committed before its answer: what that costs at fleet size.
4. The same event sent again (renamed): the update's time.
5. `POST /bc/v1/dr/data-zip/files`: the answer's time; then the time until
   `GET /bc/v1/dr/data-zip/files/{name}` stops answering "not ready" (4306) and hands out
   its presigned URL (polled), the slowest of those polls, and the zip downloaded: its
   size and how many devices it holds (checked: all N).

A plain HTTP client (httpx) gives up after 5 s by default: each request here is timed
with a 120 s limit so that a slow answer is measured rather than lost.

    .venv/bin/python benchmarks/bench_dr_scale.py [--sizes 100000] [--state-file]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from bench_devices import machine_line
from bench_scale import message_id, rss_mb, start, stop, write

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mockserver import generator  # noqa: E402

DR = "/bc/v1/dr"
LIMIT_S = 120  # the longest any one wait here may take
SIGNAL = {
    "signalId": "cool-less",
    "signalType": "CONTROL",
    "deviceType": "DEVICE_AIR_CONDITIONER",
    "controlType": "Temperature",
    "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
}


MEMBER_CONTROLS = 5
MEMBER_CONTROL = {"temperature": {"targetTemperature": 18}}  # below the signal's 26..28


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def headers(http: httpx.Client, partner: dict[str, Any]) -> dict[str, str]:
    token = http.post(
        "/bc/v1/token",
        headers={"X-Api-Key": partner["apiKey"], "X-Api-Secret": partner["apiSecret"]},
    ).json()["access_token"]
    return {
        "X-Api-Key": partner["apiKey"],
        "X-Api-Token": token,
        "X-Message-Id": message_id(),
        "X-Country-Code": "KR",
        "X-Use-Account": "REGISTERED",
    }


def timed_ok(send: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = send()
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    return elapsed, answer


def wait_until(check: Any, what: str) -> tuple[float, float]:
    """Poll ``check()`` (returns (done, request seconds)) until done: (elapsed, slowest)."""
    started = time.perf_counter()
    slowest = 0.0
    while time.perf_counter() - started < LIMIT_S:
        done, took = check()
        slowest = max(slowest, took)
        if done:
            return time.perf_counter() - started, slowest
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not done within {LIMIT_S} s")


def measure(devices: int, workdir: Path, state_file: bool) -> dict[str, Any]:
    document = generator.generate(devices, seed=7)
    partner = document["partners"][0]
    groups = [group["groupId"] for group in document["dr"]["groups"]]
    acs = [d["deviceId"] for d in document["devices"] if d["deviceType"].endswith("CONDITIONER")]
    path = write(document, workdir / f"fleet-{devices}.json")
    del document
    extra = ["--state-file", str(workdir / f"state-{devices}.db")] if state_file else []
    server = start(path, extra=extra)
    row: dict[str, Any] = {"devices": devices, "acs": len(acs)}
    try:
        with httpx.Client(base_url=server.base, timeout=LIMIT_S) as http:
            h = headers(http, partner)
            now = datetime.fromisoformat(http.get("/_sandbox/clock").json()["now"])
            now_ms = int(now.timestamp() * 1000)
            event = {
                "eventId": "fleet-peak",
                "eventName": "fleet peak",
                "partnerId": partner["partnerId"],
                "startTs": now_ms - 60_000,
                "endTs": now_ms + 3_600_000,
                "targets": [{"targetType": "GROUP", "targetIds": groups, "opt": "IN"}],
                "signals": [SIGNAL],
            }
            row["create_s"], _ = timed_ok(lambda: http.post(f"{DR}/events", headers=h, json=event))

            def reached() -> tuple[bool, float]:
                took, answer = timed_ok(lambda: http.get(f"/bc/v1/devices/{acs[-1]}", headers=h))
                target = answer.json()["response"]["temperature"]["targetTemperature"]
                health, _ = timed_ok(lambda: http.get("/_sandbox/health"))
                return 26 <= target <= 28, max(took, health)

            row["applied_s"], row["applied_worst_s"] = wait_until(reached, "the signal")
            controls, reads = [], []
            for member in acs[: len(acs) : max(1, len(acs) // MEMBER_CONTROLS)][:MEMBER_CONTROLS]:
                took, _ = timed_ok(
                    lambda member=member: http.post(
                        f"/bc/v1/devices/{member}", headers=h, json=MEMBER_CONTROL
                    )
                )
                controls.append(took)
                took, _ = timed_ok(
                    lambda member=member: http.get(f"/bc/v1/devices/{member}", headers=h)
                )
                reads.append(took)
            row["member_s"], row["member_get_s"] = max(controls), max(reads)
            event["eventName"] = "fleet peak, renamed"
            row["update_s"], _ = timed_ok(lambda: http.post(f"{DR}/events", headers=h, json=event))
            row["zip_s"], answer = timed_ok(
                lambda: http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": "fleet-peak"})
            )
            name = answer.json()["data"]["fileName"]
            url: list[str] = []

            def ready() -> tuple[bool, float]:
                started = time.perf_counter()
                answer = http.get(f"{DR}/data-zip/files/{name}", headers=h)
                took = time.perf_counter() - started
                if answer.status_code == 200:
                    url.append(answer.json()["data"]["presignedUrl"])
                    return True, took
                if answer.json().get("code") != 4306:
                    raise RuntimeError(f"GET {name}: {answer.status_code} {answer.text[:300]}")
                return False, took

            row["ready_s"], row["ready_worst_s"] = wait_until(ready, "the data zip")
            download = httpx.get(url[0], timeout=LIMIT_S)
            download.raise_for_status()
            archive = zipfile.ZipFile(io.BytesIO(download.content))
            row["zip_mb"] = len(download.content) / 1e6
            row["zip_devices"] = sum(1 for n in archive.namelist() if n.startswith("devices/"))
            if row["zip_devices"] != devices:
                raise RuntimeError(f"the zip holds {row['zip_devices']} devices, not {devices}")
            row["rss_mb"] = rss_mb(server.process.pid)
    finally:
        stop(server.process)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--state-file", action="store_true", help="serve with --state-file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lgmock-dr-scale-") as scratch:
        for devices in args.sizes:
            log(f"{devices:,} devices")
            rows.append(measure(devices, Path(scratch), args.state_file))
            log(f"{rows[-1]}")
    mode = "with --state-file" if args.state_file else "in memory"
    print(f"Machine: {machine_line()}; server and this driver share it. lgmock {mode}.\n")
    print(
        "| devices (ACs) | create event s | answer -> signal on every AC s (slowest "
        "request meanwhile s) | member control ms (GET after ms) | update event s | zip request s "
        "| zip downloadable after s (slowest poll s) | zip MB (devices) | RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['devices']:,} ({row['acs']:,}) | {row['create_s']:.2f} "
            f"| {row['applied_s']:.2f} ({row['applied_worst_s']:.2f}) "
            f"| {row['member_s'] * 1000:.1f} ({row['member_get_s'] * 1000:.1f}) "
            f"| {row['update_s']:.2f} "
            f"| {row['zip_s']:.2f} | {row['ready_s']:.2f} ({row['ready_worst_s']:.2f}) "
            f"| {row['zip_mb']:.0f} ({row['zip_devices']:,}) | {row['rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
