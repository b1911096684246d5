#!/usr/bin/env python3
"""What ``--state-file`` costs a Business Connect control, measured in one process.

Two sandboxes built from the default scenario, one with an SQLite state file and one
without, each behind the whole ASGI app (gateway, validation, handler, error renderer),
are called directly through ASGI in alternating rounds: no sockets, no HTTP client, no
load generator, so what is timed is the server's own work, and a busy machine slows
both sides alike. Every
control alternates between two target temperatures, so each one changes the state and
is committed before its answer. GET status rounds show what a call that changes
nothing pays (a look at the change log).

Prints per-call medians and the added share; the target is <= 10% of a control's time.
bench_devices.py --state-file measures the same over HTTP with wrk (quiet machine).

    .venv/bin/python benchmarks/bench_state_file.py [--rounds 30] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_devices import machine_line  # noqa: E402
from lgspecs.data import default_scenario  # noqa: E402
from mockserver.app import create_app  # noqa: E402
from mockserver.runtime import Runtime  # noqa: E402
from mockserver.wire import new_message_id  # noqa: E402

OFFICE_AC = "97cd835a8fbc494fd128a611ac2fd4a86fb75a760f4860b4c40ccf901ef4e3b9"
KEY, SECRET = "acme-api-key-0001", "acme-api-secret-0001"


class Caller:
    """Calls the ASGI app directly (no sockets, no HTTP client): the server's own time."""

    def __init__(self, runtime: Runtime) -> None:
        self.app = create_app(runtime)
        self.token = ""

    async def call(self, method: str, path: str, body: bytes = b"", **headers: str) -> int:
        raw = [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
        raw += [(b"host", b"lgmock"), (b"x-message-id", new_message_id().encode())]
        if body:
            raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "server": ("lgmock", 80),
            "client": ("127.0.0.1", 1),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {b''.join(chunks)[:300]!r}")
        if path.endswith("/token"):
            self.token = json.loads(b"".join(chunks))["access_token"]
        return status

    async def prepare(self) -> None:
        await self.call("POST", "/bc/v1/token", x_api_key=KEY, x_api_secret=SECRET)
        power = b'{"operation": {"airConOperationMode": "POWER_ON"}}'
        await self.control(power)

    async def control(self, body: bytes) -> None:
        await self.call(
            "POST",
            f"/bc/v1/devices/{OFFICE_AC}",
            body,
            x_api_key=KEY,
            x_api_token=self.token,
            x_use_account="REGISTERED",
        )

    async def status(self) -> None:
        await self.call(
            "GET",
            f"/bc/v1/devices/{OFFICE_AC}",
            x_api_key=KEY,
            x_api_token=self.token,
            x_use_account="REGISTERED",
        )


BODIES = [b'{"temperature": {"targetTemperature": %d}}' % t for t in (20, 21)]


async def round_(caller: Caller, calls: int, get: bool) -> float:
    """Seconds per call over ``calls`` sequential calls."""
    started = time.perf_counter()
    for n in range(calls):
        if get:
            await caller.status()
        else:
            await caller.control(BODIES[n % 2])
    return (time.perf_counter() - started) / calls


async def main_async(args: argparse.Namespace) -> str:
    folder = Path(tempfile.mkdtemp(prefix="lgmock-bench-state-"))
    plain = Runtime.from_file(default_scenario())
    durable = Runtime.with_state_file(folder / "state.db", default_scenario())
    sides = {"without": Caller(plain), "with --state-file": Caller(durable)}
    for caller in sides.values():
        await caller.prepare()
    times: dict[tuple[str, str], list[float]] = {}
    for number in range(args.rounds):
        order = list(sides.items())
        if number % 2:
            order.reverse()  # neither side always runs first
        for operation, get in (("POST control (alternating)", False), ("GET status", True)):
            for name, caller in order:
                times.setdefault((operation, name), []).append(
                    await round_(caller, args.calls, get)
                )
    durable.close_state_file()
    lines = [
        "## --state-file on the hot path (in process, alternating rounds)",
        "",
        f"Machine: {machine_line()}",
        f"{args.rounds} rounds x {args.calls} sequential calls per side and operation; "
        "median per-call time of the rounds.",
        "",
        "| operation | without | with --state-file | added | added share | fastest rounds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for operation in ("POST control (alternating)", "GET status"):
        without = statistics.median(times[(operation, "without")]) * 1e6
        with_file = statistics.median(times[(operation, "with --state-file")]) * 1e6
        fastest = (
            min(times[(operation, "without")]) * 1e6,
            min(times[(operation, "with --state-file")]) * 1e6,
        )
        lines.append(
            f"| {operation} | {without:.0f} µs | {with_file:.0f} µs "
            f"| {with_file - without:.0f} µs | {100 * (with_file - without) / without:.1f}% "
            f"| {fastest[0]:.0f} -> {fastest[1]:.0f} µs |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="alternating rounds (30)")
    parser.add_argument("--calls", type=int, default=200, help="calls per round (200)")
    args = parser.parse_args(argv)
    print(asyncio.run(main_async(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
