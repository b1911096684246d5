"""A hanging callback receiver, slow-loris clients and 1,000 idle connections at once:
the sandbox keeps answering the others within its usual p99.

The usual p99 is measured in the same test, against the same server, by the same
client: 4 connections reading a device's status through Business Connect, one call
after another, 600 calls; before the hostile peers come and after they left, and the
worse of the two counts (the machine is shared: its load drifts). In between, with all
of these holding on:

- a callback receiver that accepts every connection and never answers (each ThinQ call
  made meanwhile sends its callbacks there: the delivery workers wait on it);
- 20 slow-loris clients, each sending its request headers one byte every 0.3 s, and 20
  sending a declared 4 KB body the same way;
- 1,000 connections opened and left idle;

the same measurement again. Every call must answer 200, and the p99 may grow to at most
three times the usual one plus 100 ms: loose enough for a shared 2-core machine, far
below what a blocked event loop or a refused connection costs (seconds, or an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import SERVICE, SERVICE_KEY, message_id
from tests.support import (
    KR_TOKEN,
    OFFICE_AC,
    PARTNER_KEY,
    PARTNER_SECRET,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IDLE = 1_000
LORIS = 20
CLIENTS, CALLS = 4, 150  # per client: 600 calls a measurement


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[int(len(ordered) * 0.99) - 1]


async def measure(base_url: str, token: str) -> tuple[list[float], list[str]]:
    """Latencies (s) of CLIENTS x CALLS status reads, and what did not answer 200."""
    headers = {"X-Api-Key": PARTNER_KEY, "X-Api-Token": token, "X-Use-Account": "REGISTERED"}
    latencies: list[float] = []
    errors: list[str] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            for _ in range(CALLS):
                began = time.perf_counter()
                try:
                    answer = await http.get(
                        f"/bc/v1/devices/{OFFICE_AC}",
                        headers={**headers, "X-Message-Id": message_id()},
                    )
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code}: {answer.text[:200]}")

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return latencies, errors


class HangingReceiver:
    """Accepts connections, reads what comes, never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    async def close(self) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()


async def slow_loris(port: int, stop: asyncio.Event, *, body: bool) -> int:
    """One connection trickling a request, a byte every 0.3 s; the bytes it got in."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if body:
        head = (
            f"POST /bc/v1/devices/{OFFICE_AC} HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
        )
        writer.write(head.encode())
        trickle = b"x" * 4096
    else:
        trickle = b"GET /bc/v1/devices HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 4096
    sent = 0
    try:
        while not stop.is_set() and sent < len(trickle):
            writer.write(trickle[sent : sent + 1])
            await writer.drain()
            sent += 1
            await asyncio.sleep(0.3)
    except ConnectionError:
        pass  # the server may close a connection this slow: that is its right
    finally:
        writer.close()
    return sent


async def hostile_measurement(base_url: str, token: str) -> dict[str, object]:
    port = int(base_url.rsplit(":", 1)[1])
    hanging = HangingReceiver()
    hanging_url = await hanging.start()
    stop = asyncio.Event()
    idle: list[asyncio.StreamWriter] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        moved = {"callbackUrl": hanging_url}
        answer = await http.patch(f"/_sandbox/services/{SERVICE}", json=moved)
        assert answer.status_code == 200, answer.text
        headers = {
            "Authorization": f"Bearer {KR_TOKEN}",
            "x-service-id": SERVICE,
            "x-service-key": SERVICE_KEY,
            "x-country-code": "KR",
        }
        for _ in range(10):  # callbacks for every KR device, each held by the receiver
            answer = await http.post(
                "/v2/devices/status-async", headers={**headers, "x-message-id": message_id()}
            )
            assert answer.status_code == 202, answer.text
    lorises = [
        asyncio.create_task(slow_loris(port, stop, body=n % 2 == 1)) for n in range(2 * LORIS)
    ]
    for _ in range(IDLE):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        idle.append(writer)
    await asyncio.sleep(0.5)  # the workers reach the hanging receiver
    try:
        latencies, errors = await measure(base_url, token)
        still_idle = sum(not w.is_closing() and not w.transport.is_closing() for w in idle)
        held = hanging.connections
    finally:
        stop.set()
        await asyncio.gather(*lorises, return_exceptions=True)
        for writer in idle:
            writer.close()
        await hanging.close()
    return {"latencies": latencies, "errors": errors, "held": held, "idle": still_idle}


def test_hostile_peers_do_not_slow_the_others_past_their_usual_p99(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE + 2 * LORIS + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"{wanted} open files needed, the hard limit is {hard}")
    # The server inherits it: 1,000 idle connections need more than a default 1,024.
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    server = start_server(tmp_path)
    began = time.monotonic()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            answer = http.post(
                "/bc/v1/token", headers={"X-Api-Key": PARTNER_KEY, "X-Api-Secret": PARTNER_SECRET}
            )
            token = answer.json()["access_token"]
        asyncio.run(measure(server.base_url, token))  # warm-up: first calls compile, cache
        before, before_errors = asyncio.run(measure(server.base_url, token))
        hostile = asyncio.run(hostile_measurement(server.base_url, token))
        after, after_errors = asyncio.run(measure(server.base_url, token))
        log = server.log()
    finally:
        stop_server(server)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not before_errors and not after_errors, (before_errors + after_errors)[:5]
    assert not hostile["errors"], hostile["errors"][:5]  # type: ignore[index]
    latencies: list[float] = hostile["latencies"]  # type: ignore[assignment]
    assert len(latencies) == CLIENTS * CALLS
    # The peers were there: the receiver held the workers' connections, and the idle
    # connections were still open when the measurement ended.
    assert hostile["held"] >= 1, hostile  # type: ignore[operator]
    usual_p99, hostile_p99 = max(p99(before), p99(after)), p99(latencies)
    bound = 3 * usual_p99 + 0.100
    assert hostile_p99 <= bound, (
        f"p99 {hostile_p99 * 1000:.1f} ms with hostile peers, usual {usual_p99 * 1000:.1f} ms"
        f" (bound {bound * 1000:.1f} ms)"
    )
    assert "Traceback" not in log, log[-3000:]
    print(
        f"\nFIGURES hostile peers: p99 usual {p99(before) * 1000:.1f} ms before,"
        f" {p99(after) * 1000:.1f} ms after; with a hanging"
        f" receiver ({hostile['held']} connections held), {2 * LORIS} slow-loris clients and"
        f" {IDLE} idle connections ({hostile['idle']} still open at the end)"
        f" {hostile_p99 * 1000:.1f} ms (bound {bound * 1000:.1f} ms), {len(latencies)} calls"
        f" each, 0 errors; {time.monotonic() - began:.0f} s"
    )
