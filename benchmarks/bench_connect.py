#!/usr/bin/env python3
"""ThinQ Connect's device state beside Business Connect's: one server, one device.

One ``lgmock serve`` (default scenario) on a free port. The same device (user
KR2024000000001's living-room air conditioner) is read in interleaved rounds through

- Business Connect: ``GET /bc/v1/devices/{id}`` (``X-Use-Account: IN-HEADER``, the
  user's OAuth bearer: the call that reads one user's device), and
- ThinQ Connect: ``GET /connect/devices/{id}/state`` with the headers LG's SDK sends
  (the user's PAT, ``x-country``, ``x-client-id``, ``x-api-key``, ``x-service-phase``),

each request with a fresh message id, by wrk when it is on PATH (else the asyncio +
httpx generator of bench_devices.py). A Markdown table of req/s, p50, p99, non-200
answers and the server's CPU per API, and the ratio. Bounded: ``--duration`` seconds in
all (default 10), split over ``--rounds``; the server is stopped in a ``finally``.

    .venv/bin/python benchmarks/bench_connect.py [--duration 10] [--rounds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_devices import (  # noqa: E402
    Load,
    Managed,
    PythonGenerator,
    Result,
    WrkGenerator,
    check,
    combined,
    free_port,
    lgmock_command,
    log,
    machine_line,
    measure,
    message_id,
    wait_http,
)

API_KEY, API_SECRET = "acme-api-key-0001", "acme-api-secret-0001"
KR_AC = "373ddcaeef12fcf760555414ccf3b595ccf9d9de097ffa01b7f57153efd2f66c"
KR_TOKEN = "kr-user-oauth-token-0001"
KR_PAT = "thinqpat_kr2024000000001_sandbox_pat_0001"
SDK_API_KEY = "v6GFvkweNo7DK7yD3ylIZ9w52aKBU0eJ7wLXkSR3"


def loads(root: str) -> list[Load]:
    token = check(
        httpx.post(
            f"{root}/bc/v1/token",
            headers={"X-Api-Key": API_KEY, "X-Api-Secret": API_SECRET},
            timeout=10,
        ),
        "token",
    ).json()["access_token"]
    bc = {
        "X-Api-Key": API_KEY,
        "X-Api-Token": token,
        "X-Use-Account": "IN-HEADER",
        "Authorization": f"Bearer {KR_TOKEN}",
        "X-Country-Code": "KR",
        "X-Message-Id": message_id(),
    }
    connect = {
        "Authorization": f"Bearer {KR_PAT}",
        "x-country": "KR",
        "X-Message-Id": message_id(),
        "x-client-id": "lgmock-bench",
        "x-api-key": SDK_API_KEY,
        "x-service-phase": "OP",
    }
    found = [
        Load("Business Connect GET status", "GET", f"{root}/bc/v1/devices/{KR_AC}", bc),
        Load("ThinQ Connect GET state", "GET", f"{root}/connect/devices/{KR_AC}/state", connect),
    ]
    for load in found:  # both answer 200 before anything is measured
        check(httpx.get(load.url, headers=load.headers, timeout=10), load.label)
    return found


def table(rows: list[Result]) -> str:
    lines = [
        "| API | req/s | p50 ms | p99 ms | non-200 | server CPU (cores) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.operation} | {row.rps:,.0f} | {row.p50_ms:.2f} | {row.p99_ms:.2f} | "
            f"{row.non_200} | {row.server_cpu:.2f} |"
        )
    bc, connect = rows
    if bc.rps:
        lines.append("")
        lines.append(f"ThinQ Connect / Business Connect: {connect.rps / bc.rps:.2f}x req/s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured in all")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each (1)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lgmock-bench-connect-"))
    wrk = shutil.which("wrk")
    generator = (
        WrkGenerator(wrk, args.wrk_threads, args.connections, work)
        if wrk
        else PythonGenerator(args.connections)
    )
    port = free_port()
    server = Managed(
        "lgmock",
        [*lgmock_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        work / "lgmock.log",
        cwd=work,
    )
    try:
        root = f"http://127.0.0.1:{port}"
        took = wait_http(
            server, lambda: check(httpx.get(f"{root}/_sandbox/health", timeout=2), "health"), 60
        )
        log(f"lgmock up on port {port} in {took:.1f} s")
        each = argparse.Namespace(**{**vars(args), "duration": args.duration / args.rounds / 2})
        rounds: dict[str, list[Result]] = {}
        order = loads(root)
        for number in range(args.rounds):
            for load in order if number % 2 == 0 else order[::-1]:
                result = measure(generator, server, "lgmock", load, each)
                result.operation = load.label
                rounds.setdefault(load.label, []).append(result)
        rows = []
        for label, parts in rounds.items():
            row = combined(parts)
            row.operation = re.sub(r" GET .*", "", label)
            rows.append(row)
    finally:
        server.stop()
    print(f"\n{machine_line()}")
    print(f"Load generator: {generator.describe()}; {args.connections} connections\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
