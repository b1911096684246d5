#!/usr/bin/env python3
"""Throughput and latency of lgmock's device status and control calls, beside Prism's.

One run, side by side, each server alone on the machine while it is measured:

1. ``lgmock serve`` (default scenario) on a free port: an API token, the office air
   conditioner's profile (to pick a writable target temperature), power on, then
   ``GET /bc/v1/devices/{id}`` (status) and ``POST /bc/v1/devices/{id}`` (control).
2. Prism (``@stoplight/prism-cli mock``) on the vendor document, or on the repaired one
   from ``lgmock spec build`` when Prism refuses the vendor's (or answers the valid
   probes with something other than 200), once per ``--prism-levels`` log level.
3. A Markdown table: req/s, p50, p99, non-200 answers, socket errors, the server's CPU,
   and lgmock/Prism ratios, with the machine and the load generator.

Load generator: ``wrk`` with a generated Lua script (unique X-Message-Id per request,
per-status counts, percentiles) when it is on PATH; otherwise an asyncio + httpx
generator in this process. On a 2-core machine that Python generator needs about a
core of its own, so it understates both servers: compare its numbers only with each
other, never with wrk's.

Every process this script starts is stopped in a ``finally`` (process groups, SIGTERM
then SIGKILL), and every wait is bounded.

    .venv/bin/python benchmarks/bench_devices.py [--duration 10] [--connections 16] [--skip-prism]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contract_tests.processes import ChildProcess, lgmock_command

REPO = Path(__file__).resolve().parent.parent
VENDOR_SPEC = REPO / "openapi" / "business-connect.vendor.yaml"
API_KEY = "acme-api-key-0001"
API_SECRET = "acme-api-secret-0001"
OFFICE_AC = "97cd835a8fbc494fd128a611ac2fd4a86fb75a760f4860b4c40ccf901ef4e3b9"
POWER_ON = {"operation": {"airConOperationMode": "POWER_ON"}}
PREFERRED_TARGET = 24
CLK_TCK = os.sysconf("SC_CLK_TCK")
PRISM_PACKAGE = "@stoplight/prism-cli@5"
# Where a scratch install of Prism may live (never inside the repository).
PRISM_CANDIDATES = [
    Path("/tmp/prism/node_modules/.bin/prism"),
    Path.home() / ".cache" / "lgmock-bench" / "prism" / "node_modules" / ".bin" / "prism",
]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def message_id() -> str:
    """22 characters of url-safe base64: the vendor's X-Message-Id format."""
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- processes


class Managed(ChildProcess):
    """A server of the benchmark (lgmock or Prism) started by the project's launcher, in
    its own process group so that stopping it stops its children (npx -> sh -> node) too;
    with what the CPU columns need."""

    def __init__(self, name: str, argv: list[str], log_path: Path, cwd: Path) -> None:
        self.name = name
        super().__init__(
            argv, log_path=log_path, cwd=cwd, env={"NO_COLOR": "1", "FORCE_COLOR": "0"}
        )

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.process

    def pids(self) -> list[int]:
        """The process and its descendants (for CPU accounting)."""
        found, todo = [], [self.proc.pid]
        while todo and len(found) < 64:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    todo.extend(int(c) for c in (task / "children").read_text().split())
                except (OSError, ValueError):
                    pass
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK


# --------------------------------------------------------------------------- load


@dataclass
class Load:
    label: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    # When set, requests take these bodies in turn instead of ``body``.
    bodies: list[bytes] | None = None


@dataclass
class Result:
    server: str
    operation: str
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: int = 0
    server_cpu: float = float("nan")  # cores used by the server while measured
    generator_cpu: float = float("nan")  # cores used by the load generator
    other_cpu: float = float("nan")  # cores used by anything else on the machine

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_200(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")


WRK_LUA = r"""
wrk.method = {method}
wrk.body = {body}
{headers}
local bodies = {{{bodies}}}
local sent = 0
local threads = {{}}
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
function setup(thread) table.insert(threads, thread) end
function init(args)
  statuses = {{}}
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local id = {{}}
  for i = 1, 22 do
    local k = math.random(1, 64)
    id[i] = alphabet:sub(k, k)
  end
  wrk.headers["X-Message-Id"] = table.concat(id)
  if #bodies > 0 then
    sent = sent + 1
    wrk.body = bodies[(sent % #bodies) + 1]
  end
  return wrk.format()
end
function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end
function done(summary, latency, requests)
  local all = {{}}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do all[key] = (all[key] or 0) + n end
  end
  local parts = {{}}
  for key, n in pairs(all) do table.insert(parts, string.format('"%s": %d', key, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"statuses": {{%s}}, "socket_errors": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    table.concat(parts, ", "), e.connect + e.read + e.write + e.timeout))
end
"""


def lua_string(value: str) -> str:
    # json.dumps of ASCII text is a valid Lua string literal.
    return json.dumps(value, ensure_ascii=True)


class WrkGenerator:
    def __init__(self, binary: str, threads: int, connections: int, workdir: Path) -> None:
        self.binary = binary
        self.threads = max(1, min(threads, connections))
        self.connections = connections
        self.workdir = workdir
        version = subprocess.run(
            [binary, "-v"], capture_output=True, text=True, timeout=10, check=False
        )
        first = (version.stdout or version.stderr).splitlines()
        self.version = first[0].split(" Copyright")[0] if first else "wrk"

    def describe(self) -> str:
        return (
            f"{self.version}, {self.threads} thread(s), {self.connections} connections, keep-alive"
        )

    def run(self, load: Load, seconds: float) -> Result:
        headers = "\n".join(
            f"wrk.headers[{lua_string(k)}] = {lua_string(v)}"
            for k, v in load.headers.items()
            if k.lower() != "x-message-id"
        )
        script = self.workdir / f"{re.sub(r'[^a-z0-9]+', '-', load.label.lower())}.lua"
        script.write_text(
            WRK_LUA.format(
                method=lua_string(load.method),
                body=lua_string(load.body.decode()) if load.body else "nil",
                bodies=", ".join(lua_string(b.decode()) for b in load.bodies or []),
                headers=headers,
            )
        )
        argv = [
            self.binary,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            load.url,
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        elapsed = data["duration_us"] / 1e6
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return Result(
            server="",
            operation=load.label,
            requests=data["requests"],
            seconds=elapsed,
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            statuses=data["statuses"],
            socket_errors=data["socket_errors"],
            generator_cpu=cpu / elapsed if elapsed else float("nan"),
        )


class PythonGenerator:
    """asyncio + httpx, one task per connection, in this process. It competes with the
    server for the machine's two cores: its own CPU use is reported beside each row."""

    def __init__(self, connections: int) -> None:
        self.connections = connections

    def describe(self) -> str:
        return (
            f"Python {platform.python_version()} asyncio + httpx {httpx.__version__}, "
            f"{self.connections} connections, keep-alive (in-process; costs CPU itself)"
        )

    def run(self, load: Load, seconds: float) -> Result:
        return asyncio.run(asyncio.wait_for(self._run(load, seconds), timeout=seconds + 60))

    async def _run(self, load: Load, seconds: float) -> Result:
        limits = httpx.Limits(
            max_connections=self.connections, max_keepalive_connections=self.connections
        )
        latencies: list[float] = []
        statuses: collections.Counter[str] = collections.Counter()
        errors = 0
        async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            bodies = itertools.cycle(load.bodies) if load.bodies else None

            async def worker() -> None:
                nonlocal errors
                while loop.time() < deadline:
                    headers = {**load.headers, "X-Message-Id": message_id()}
                    body = next(bodies) if bodies else load.body
                    start = time.perf_counter()
                    try:
                        answer = await client.request(
                            load.method, load.url, headers=headers, content=body
                        )
                    except httpx.HTTPError:
                        errors += 1
                        continue
                    latencies.append(time.perf_counter() - start)
                    statuses[str(answer.status_code)] += 1

            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(self.connections)))
            cpu, elapsed = time.process_time() - cpu0, time.perf_counter() - wall0
        latencies.sort()
        return Result(
            server="",
            operation=load.label,
            requests=len(latencies),
            seconds=elapsed,
            p50_ms=percentile(latencies, 50) * 1000,
            p99_ms=percentile(latencies, 99) * 1000,
            statuses=dict(statuses),
            socket_errors=errors,
            generator_cpu=cpu / elapsed,
        )


def percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat), or NaN."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    guest = sum(ticks[8:10]) if len(ticks) > 9 else 0  # already counted in user/nice
    return (sum(ticks) - idle - guest) / CLK_TCK


def measure(generator: Any, server: Managed, name: str, load: Load, args: Any) -> Result:
    if args.warmup > 0:
        log(f"{name} {load.label}: warm-up {args.warmup:g} s")
        generator.run(load, args.warmup)
    log(f"{name} {load.label}: measuring {args.duration:g} s")
    cpu0, busy0, wall0 = server.cpu_seconds(), machine_busy_seconds(), time.perf_counter()
    result = generator.run(load, args.duration)
    cpu, wall = server.cpu_seconds() - cpu0, time.perf_counter() - wall0
    busy = machine_busy_seconds() - busy0
    result.server = name
    result.server_cpu = cpu / wall if wall else float("nan")
    result.other_cpu = max(0.0, busy / wall - result.server_cpu - result.generator_cpu)
    if not server.alive():
        raise RuntimeError(f"{name} died during the run:\n{server.tail()}")
    log(
        f"  {result.rps:,.0f} req/s p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms "
        f"statuses {result.statuses} socket errors {result.socket_errors}"
    )
    return result


# --------------------------------------------------------------------------- servers


def wait_http(server: Managed, probe: Any, timeout: float) -> float:
    """Polls ``probe()`` until it returns an HTTP answer; seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not server.alive():
            raise RuntimeError(
                f"{server.name} exited with {server.proc.returncode}:\n{server.tail()}"
            )
        try:
            probe()
            return time.monotonic() - start
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer within {timeout:g} s:\n{server.tail()}")


def device_headers(token: str) -> dict[str, str]:
    return {
        "X-Api-Key": API_KEY,
        "X-Api-Token": token,
        "X-Use-Account": "REGISTERED",
        "X-Message-Id": message_id(),
    }


def choose_targets(profile: dict[str, Any]) -> tuple[int, int]:
    """Two writable targetTemperatures of the office air conditioner, from its profile:
    24 when allowed (else the middle of the writable range) and a neighbour of it."""
    prop = profile["response"]["property"]
    if isinstance(prop, list):
        prop = prop[0]
    spec = prop["temperature"]["targetTemperature"]
    if "w" not in spec.get("mode", []):
        raise RuntimeError(f"targetTemperature is not writable: {spec}")
    writable = spec["value"]["w"]
    if isinstance(writable, dict):
        step = writable.get("step", 1) or 1
        writable = list(range(writable["min"], writable["max"] + 1, step))
    if not writable:
        raise RuntimeError(f"targetTemperature has no writable value: {spec}")
    first = PREFERRED_TARGET if PREFERRED_TARGET in writable else writable[len(writable) // 2]
    index = writable.index(first)
    other = writable[index + 1] if index + 1 < len(writable) else writable[max(0, index - 1)]
    return first, other


def control_body(target: int) -> bytes:
    return json.dumps({"temperature": {"targetTemperature": target}}).encode()


def control_load(base: str, token: str, control: bytes, alternate: list[bytes] | None) -> Load:
    return Load(
        "POST control (alternating)" if alternate else "POST control",
        "POST",
        f"{base}/devices/{OFFICE_AC}",
        {**device_headers(token), "Content-Type": "application/json"},
        control,
        alternate,
    )


def check(answer: httpx.Response, what: str) -> httpx.Response:
    if answer.status_code != 200:
        raise RuntimeError(f"{what}: {answer.status_code} {answer.text[:500]}")
    return answer


@dataclass
class Probe:
    server: str
    what: str
    status: int
    code: str


def probes(
    server: str, base: str, token: str, control: bytes, extra: list[tuple[str, str, Any]]
) -> list[Probe]:
    """Single calls, to show what each server answers (valid and invalid requests)."""
    url = f"{base}/devices/{OFFICE_AC}"
    json_header = {"Content-Type": "application/json"}
    cases = [
        ("GET status", "GET", device_headers(token), None),
        ("POST control", "POST", {**device_headers(token), **json_header}, control),
        (
            "GET without X-Api-Token",
            "GET",
            {k: v for k, v in device_headers(token).items() if k != "X-Api-Token"},
            None,
        ),
        (
            "POST targetTemperature as a string",
            "POST",
            {**device_headers(token), **json_header},
            b'{"temperature": {"targetTemperature": "hot"}}',
        ),
        (
            "GET X-Message-Id: short",
            "GET",
            {**device_headers(token), "X-Message-Id": "short"},
            None,
        ),
    ]
    out = []
    for what, method, headers, body in cases + extra:
        answer = httpx.request(method, url, headers=headers, content=body, timeout=10)
        code = answer.headers.get("x-response-code", "")
        out.append(Probe(server, what, answer.status_code, code))
    return out


def run_lgmock(generator: Any, args: Any, work: Path, started: list[Managed]) -> dict[str, Any]:
    ours = start_lgmock(args, work, started)
    server = ours["server"]
    ours["results"] = [measure(generator, server, "lgmock", load, args) for load in ours["loads"]]
    return finish_lgmock(generator, args, work, ours)


def start_lgmock(
    args: Any,
    work: Path,
    started: list[Managed],
    extra: tuple[str, ...] = (),
    name: str = "lgmock",
) -> dict[str, Any]:
    """An lgmock server up, with a token and the office air conditioner powered on."""
    port = free_port()
    server = Managed(
        name,
        [*lgmock_command(), "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        work / f"{re.sub(r'[^a-z0-9]+', '-', name)}.log",
        cwd=work,
    )
    started.append(server)
    root = f"http://127.0.0.1:{port}"
    took = wait_http(
        server, lambda: check(httpx.get(f"{root}/_sandbox/health", timeout=2), "health"), 60
    )
    log(f"lgmock up on port {port} in {took:.1f} s")
    base = f"{root}/bc/v1"
    token = check(
        httpx.post(
            f"{base}/token", headers={"X-Api-Key": API_KEY, "X-Api-Secret": API_SECRET}, timeout=10
        ),
        "token",
    ).json()["access_token"]
    profile = check(
        httpx.get(f"{base}/devices/profile/{OFFICE_AC}", headers=device_headers(token), timeout=10),
        "profile",
    ).json()
    target, other = choose_targets(profile)
    check(
        httpx.post(
            f"{base}/devices/{OFFICE_AC}", headers=device_headers(token), json=POWER_ON, timeout=10
        ),
        "power on",
    )
    control = control_body(target)
    alternate = [control, control_body(other)] if args.alternate else None
    found = probes("lgmock", base, token, control, [])
    loads = [
        Load("GET status", "GET", f"{base}/devices/{OFFICE_AC}", device_headers(token)),
        control_load(base, token, control, alternate),
    ]
    return {
        "server": server,
        "name": name,
        "base": base,
        "loads": loads,
        "probes": found,
        "token": token,
        "control": control,
        "alternate": alternate,
        "target": target,
    }


def finish_lgmock(generator: Any, args: Any, work: Path, ours: dict[str, Any]) -> dict[str, Any]:
    """What the air conditioner says after the runs, the profiles asked for; stopped."""
    server, base, token, loads = ours["server"], ours["base"], ours["token"], ours["loads"]
    status = check(
        httpx.get(f"{base}/devices/{OFFICE_AC}", headers=device_headers(token), timeout=10),
        "status after the run",
    ).json()["response"]
    after = (
        f"after the run the air conditioner reports {status['operation']}, "
        f"targetTemperature {status['temperature'].get('targetTemperature')}"
    )
    log(after)
    profile_text = []
    if args.profile > 0:
        for load in loads:
            text = profile_lgmock(generator, server, load, args, work)
            if text:
                profile_text.append((load.label, text))
    server.stop()
    return {**ours, "after": after, "profile": profile_text}


def run_lgmock_pair(
    generator: Any, args: Any, work: Path, started: list[Managed]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """lgmock without and with --state-file, measured in interleaved rounds.

    Both servers run at once, idle but for the one measured. Each round measures every
    load on both, the order swapped every round, so that a machine whose speed drifts
    (it does, by 20% between runs a minute apart on a shared 2-core VM) slows both
    sides alike. A row sums its rounds' requests, seconds and CPU; p50 is the median of
    the rounds' and p99 the worst round's.
    """
    sides = [
        start_lgmock(args, work, started),
        start_lgmock(
            args,
            work,
            started,
            ("--state-file", str(work / "state.db")),
            "lgmock --state-file",
        ),
    ]
    rounds: dict[tuple[str, str], list[Result]] = {}
    each = argparse.Namespace(**{**vars(args), "duration": args.duration / args.rounds})
    for number in range(args.rounds):
        order = sides if number % 2 == 0 else sides[::-1]
        for index in range(len(sides[0]["loads"])):
            for side in order:
                load = side["loads"][index]
                result = measure(generator, side["server"], side["name"], load, each)
                rounds.setdefault((side["name"], load.label), []).append(result)
    for side in sides:
        side["results"] = [combined(rounds[(side["name"], load.label)]) for load in side["loads"]]
    return tuple(finish_lgmock(generator, args, work, side) for side in sides)  # type: ignore[return-value]


def combined(parts: list[Result]) -> Result:
    """One row from a load's rounds: totals, the median p50, the worst p99."""
    statuses: dict[str, int] = collections.Counter()
    for part in parts:
        statuses.update(part.statuses)
    seconds = sum(p.seconds for p in parts)

    def weighted(attribute: str) -> float:
        return sum(getattr(p, attribute) * p.seconds for p in parts) / seconds

    return Result(
        server=parts[0].server,
        operation=parts[0].operation,
        requests=sum(p.requests for p in parts),
        seconds=seconds,
        p50_ms=sorted(p.p50_ms for p in parts)[len(parts) // 2],
        p99_ms=max(p.p99_ms for p in parts),
        statuses=dict(statuses),
        socket_errors=sum(p.socket_errors for p in parts),
        server_cpu=weighted("server_cpu"),
        generator_cpu=weighted("generator_cpu"),
        other_cpu=weighted("other_cpu"),
    )


def prism_command(args: Any) -> tuple[list[str], str]:
    if args.prism_bin:
        return [args.prism_bin], args.prism_bin
    for candidate in [shutil.which("prism"), *PRISM_CANDIDATES]:
        if candidate and Path(candidate).exists():
            return [str(candidate)], str(candidate)
    npx = shutil.which("npx")
    if not npx:
        raise RuntimeError("neither prism nor npx is on PATH (install Node.js and npm)")
    return [npx, "--yes", PRISM_PACKAGE], f"npx --yes {PRISM_PACKAGE}"


def start_prism(
    args: Any,
    document: Path,
    level: str,
    work: Path,
    started: list[Managed],
    token: str,
    control: bytes,
) -> tuple[Managed, str]:
    command, _ = prism_command(args)
    port = free_port()
    server = Managed(
        f"prism-{level}",
        [*command, "mock", "-p", str(port), "-h", "127.0.0.1", "-v", level, str(document)],
        work / f"prism-{level}-{document.stem}.log",
        cwd=work,
    )
    started.append(server)
    base = f"http://127.0.0.1:{port}/v1"
    # npx may have to fetch Prism first: allow for it.
    took = wait_http(
        server,
        lambda: httpx.get(f"{base}/devices/{OFFICE_AC}", headers=device_headers(token), timeout=2),
        args.prism_timeout,
    )
    log(f"Prism ({level}) up on port {port} in {took:.1f} s serving {document}")
    return server, base


def prism_accepts(base: str, token: str, control: bytes) -> str | None:
    """None when the two benchmarked calls answer 200, else why not."""
    get = httpx.get(f"{base}/devices/{OFFICE_AC}", headers=device_headers(token), timeout=10)
    post = httpx.post(
        f"{base}/devices/{OFFICE_AC}",
        headers={**device_headers(token), "Content-Type": "application/json"},
        content=control,
        timeout=10,
    )
    if get.status_code == 200 and post.status_code == 200:
        return None
    return f"valid probes answered GET {get.status_code}, POST {post.status_code}: {get.text[:200]}"


def run_prism(
    generator: Any,
    args: Any,
    work: Path,
    started: list[Managed],
    token: str,
    control: bytes,
    alternate: list[bytes] | None,
) -> dict[str, Any]:
    document, why, served = VENDOR_SPEC, "", None
    first_level = args.prism_levels[0]
    if args.prism_spec == "repaired":
        why = "--prism-spec repaired"
    else:
        try:
            server, base = start_prism(
                args, VENDOR_SPEC, first_level, work, started, token, control
            )
            refusal = prism_accepts(base, token, control)
            if refusal is None:
                why = "Prism accepted the vendor document as is and answered both calls 200"
                served = (server, base)
            else:
                why = f"Prism started on the vendor document but {refusal}"
                server.stop()
        except RuntimeError as exc:
            why = "Prism refused the vendor document: " + " ".join(str(exc).split())[:600]
    if served is None:
        log(why + "; using the repaired document")
        out = work / "spec"
        subprocess.run(
            [*lgmock_command(), "spec", "build", str(out)],
            check=True,
            timeout=120,
            capture_output=True,
        )
        document = out / "business-connect.yaml"
        server, base = start_prism(args, document, first_level, work, started, token, control)
        refusal = prism_accepts(base, token, control)
        if refusal:
            log(f"WARNING: Prism on the repaired document too: {refusal}")
        why += "; served the repaired document from `lgmock spec build` instead"
        served = (server, base)
    results, found = [], []
    for i, level in enumerate(args.prism_levels):
        if i > 0:
            server, base = start_prism(args, document, level, work, started, token, control)
        else:
            server, base = served
        name = f"Prism (-v {level})"
        if i == 0:
            found = probes("Prism", base, token, control, [])
        loads = [
            Load("GET status", "GET", f"{base}/devices/{OFFICE_AC}", device_headers(token)),
            control_load(base, token, control, alternate),
        ]
        results += [measure(generator, server, name, load, args) for load in loads]
        server.stop()
    return {"results": results, "probes": found, "document": document, "why": why}


def prism_version(args: Any) -> str:
    command, shown = prism_command(args)
    try:
        done = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=120, check=False
        )
        version = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?"
    except (subprocess.TimeoutExpired, OSError):
        version = "?"
    node = shutil.which("node")
    node_version = (
        subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if node
        else "?"
    )
    return f"Prism {version} ({shown}), Node.js {node_version}"


# --------------------------------------------------------------------------- profile

# Leaf-first: a sample counts for the first frame, from the leaf up, whose file matches.
PROFILE_BUCKETS = [
    ("PyJWT token decode/verify (Accounts.verify_token)", ("/jwt/",)),
    ("JSON encode/decode", ("/json/", "connexion/jsonifier")),
    (
        "request validation (connexion validators, jsonschema, referencing)",
        ("connexion/validators/", "/jsonschema/", "/referencing/", "mockserver/validation.py"),
    ),
    (
        "connexion parameter/response decorators (signature inspection, snake_case, kwargs)",
        ("connexion/decorators/", "/inspect.py", "/inflection/", "connexion/utils.py"),
    ),
    ("lgmock handlers, backends, context", ("/mockserver/",)),
    (
        "connexion + starlette middleware stack and routing",
        ("/connexion/", "/starlette/", "/werkzeug/"),
    ),
    ("uvicorn HTTP protocol + asyncio loop (incl. socket writes)", ("/uvicorn/", "/asyncio/")),
]


def _frame_parts(frame: str) -> tuple[str, str]:
    name, _, loc = frame.partition(" (")
    return name, loc.rstrip(")").rsplit(":", 1)[0]


def summarize_profile(collapsed: Path, top: int = 12) -> str:
    buckets: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        raw = stack.split(";")
        if raw and raw[0].startswith("thread ("):
            # --threads: keep the event loop's thread; an idle AnyIO worker thread
            # blocked in Condition.wait would otherwise show up as busy.
            if not raw[0].endswith("MainThread"):
                continue
            raw = raw[1:]
        total += n
        frames = [_frame_parts(f) for f in raw]
        bucket = "other"
        for _name, path in reversed(frames):
            hit = next(
                (b for b, keys in PROFILE_BUCKETS if any(k in "/" + path for k in keys)), None
            )
            if hit:
                bucket = hit
                break
        buckets[bucket] += n
        name, path = frames[-1]
        leaf[f"{name} ({_short(path)})"] += n
        for item in {f"{name} ({_short(path)})" for name, path in frames}:
            inclusive[item] += n
    if not total:
        return "(no samples)"
    lines = [
        f"{total} samples of the event loop thread; share by layer (leaf-first attribution):",
        "",
    ]
    lines += ["| layer | share of lgmock CPU |", "| --- | ---: |"]
    lines += [f"| {b} | {100 * n / total:.1f} % |" for b, n in buckets.most_common()]
    lines += ["", f"Top {top} functions by self time:", "", "| self | function |", "| ---: | --- |"]
    lines += [f"| {100 * n / total:.1f} % | `{f}` |" for f, n in leaf.most_common(top)]
    interesting = [
        "RequestValidationOperation.__call__",
        "SecurityOperation.__call__",
        "ContextOperation.__call__",
        "ParameterValidator.validate",
        "AsyncParameterDecorator.__call__.<locals>.wrapper",
        "AsyncResponseDecorator.__call__.<locals>.wrapper",
        "get_status_of_device",
        "control_device",
        "Accounts.verify_token",
        "BusinessConnectBackend.device",
        "BusinessConnectBackend.control",
        "AbstractRequestBodyValidator.wrap_receive",
        "DeviceStore.control",
        "bc_reply",
        "CallContext.__call__.<locals>.send_with_tracking",
    ]
    lines += ["", "Inclusive time of selected frames:", "", "| incl. | frame |", "| ---: | --- |"]
    for key, n in inclusive.most_common():
        if key.split(" (")[0] in interesting:
            lines.append(f"| {100 * n / total:.1f} % | `{key}` |")
    return "\n".join(lines)


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib"):
                path = path.split("/", 1)[-1]
    return path.replace(str(REPO) + "/", "")


def find_py_spy(args: Any) -> str | None:
    for candidate in [args.py_spy, shutil.which("py-spy"), "/tmp/pyprof/bin/py-spy"]:
        if candidate and Path(candidate).exists():
            return candidate
    return None


def lgmock_python_pid(server: Managed) -> int:
    return server.proc.pid  # the console script execs nothing: the leader is Python


def profile_lgmock(
    generator: Any, server: Managed, load: Load, args: Any, work: Path
) -> str | None:
    py_spy = find_py_spy(args)
    if not py_spy:
        log("--profile: py-spy not found (pip install --target /tmp/pyprof py-spy); skipped")
        return None
    # The server's name too: with --state-file both lgmock runs are profiled.
    slug = re.sub(r"[^a-z0-9]+", "-", f"{server.name} {load.label}".lower())
    out = work / f"{slug}.collapsed"
    seconds = args.profile
    log(f"profiling lgmock under {load.label} load for {seconds:g} s with {py_spy}")
    spy = subprocess.Popen(
        [
            py_spy,
            "record",
            "-p",
            str(lgmock_python_pid(server)),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "--threads",
            "-f",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        generator.run(load, seconds + 2)
        spy_out, _ = spy.communicate(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait(timeout=5)
    if not out.exists():
        log(f"py-spy wrote nothing: {spy_out[-800:]}")
        return None
    if args.keep_profile:
        Path(args.keep_profile).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(args.keep_profile) / out.name)
    return summarize_profile(out)


# --------------------------------------------------------------------------- report


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {cores} cores, {os.cpu_count()} CPUs online, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}"
    )


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def table(results: list[Result]) -> str:
    rows = [
        "| server | operation | req/s | p50 ms | p99 ms | non-200 | socket errors | statuses "
        "| server CPU | generator CPU | other CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
        rows.append(
            f"| {r.server} | {r.operation} | {fmt(r.rps, 0)} | {fmt(r.p50_ms)} | {fmt(r.p99_ms)} "
            f"| {r.non_200} | {r.socket_errors} | {statuses} | {fmt(r.server_cpu)} "
            f"| {fmt(r.generator_cpu)} | {fmt(r.other_cpu)} |"
        )
    return "\n".join(rows)


def ratios(results: list[Result]) -> str:
    ours = {r.operation: r for r in results if r.server == "lgmock"}
    theirs = [r for r in results if r.server.startswith("Prism")]
    if not ours or not theirs:
        return ""
    rows = [
        "| operation | vs | lgmock/Prism req/s | lgmock/Prism p50 | lgmock/Prism p99 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in theirs:
        mine = ours.get(r.operation)
        if not mine:
            continue
        rows.append(
            f"| {r.operation} | {r.server} | {fmt(mine.rps / r.rps if r.rps else float('nan'))}x "
            f"| {fmt(mine.p50_ms / r.p50_ms)}x | {fmt(mine.p99_ms / r.p99_ms)}x |"
        )
    return "\n".join(rows)


def state_file_cost(results: list[Result]) -> str:
    """What --state-file adds to each call, from the two lgmock rows of this run.

    Server CPU per call (its cores busy / req/s) is the steadier figure on a shared
    machine; req/s and p50 move with whatever else runs.
    """
    plain = {r.operation: r for r in results if r.server == "lgmock"}
    rows = [
        "| operation | req/s with vs without | server CPU ms per call, without -> with "
        "| added CPU per call |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        base = plain.get(r.operation)
        if r.server != "lgmock --state-file" or not base or not r.rps or not base.rps:
            continue
        cpu_base = 1000 * base.server_cpu / base.rps
        cpu_with = 1000 * r.server_cpu / r.rps
        rows.append(
            f"| {r.operation} | {fmt(100 * (r.rps / base.rps - 1), 1)}% "
            f"| {fmt(cpu_base, 3)} -> {fmt(cpu_with, 3)} "
            f"| {fmt(cpu_with - cpu_base, 3)} ms ({fmt(100 * (cpu_with / cpu_base - 1), 1)}%) |"
        )
    return "\n".join(rows)


def probe_table(found: list[Probe]) -> str:
    rows = ["| server | request | HTTP status | X-Response-Code |", "| --- | --- | ---: | --- |"]
    rows += [f"| {p.server} | {p.what} | {p.status} | {p.code or '-'} |" for p in found]
    return "\n".join(rows)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per call (10)")
    parser.add_argument(
        "--warmup", type=float, default=2, help="unmeasured seconds before each (2)"
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    parser.add_argument("--skip-prism", action="store_true", help="measure lgmock only")
    parser.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="auto: wrk when on PATH, else the Python asyncio+httpx generator",
    )
    parser.add_argument("--wrk", default="wrk", help="wrk binary (wrk)")
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (1: one core for wrk, one for the server under test)",
    )
    parser.add_argument(
        "--prism-bin", help="a prism executable (default: PATH, /tmp/prism, ~/.cache, npx)"
    )
    parser.add_argument(
        "--prism-levels",
        default="info,warn",
        help="Prism -v levels to measure, comma-separated: 'info' is Prism's default (a log "
        "line per request), 'warn' logs no request, like lgmock's default (info,warn)",
    )
    parser.add_argument(
        "--alternate",
        action="store_true",
        help="alternate the control between two writable targetTemperatures, so that every "
        "control changes the state (and runs the change notifier)",
    )
    parser.add_argument(
        "--prism-spec",
        choices=["vendor", "repaired"],
        default="vendor",
        help="vendor: the vendor document, the repaired one only if Prism refuses it; "
        "repaired: straight to `lgmock spec build`'s business-connect.yaml (vendor)",
    )
    parser.add_argument(
        "--prism-timeout", type=float, default=120, help="Prism start limit, s (120)"
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        help="after the lgmock runs, sample it with py-spy for this many seconds of load, "
        "once for GET and once for POST (the profiled runs are not in the table)",
    )
    parser.add_argument("--py-spy", help="py-spy binary (default: PATH or /tmp/pyprof/bin/py-spy)")
    parser.add_argument("--keep-profile", help="copy py-spy's collapsed stacks into this directory")
    parser.add_argument(
        "--state-file",
        action="store_true",
        help="also measure `lgmock serve --state-file` (SQLite, a commit before every "
        "answer that changed something) beside plain lgmock, with its cost per call",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="with --state-file: interleaved rounds the measured seconds are split into (5)",
    )
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    args.prism_levels = [x.strip() for x in args.prism_levels.split(",") if x.strip()] or ["info"]
    if not 1 <= args.duration <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--duration must be 1..120 s and --warmup 0..30 s")
    if not 1 <= args.connections <= 1024:
        parser.error("--connections must be 1..1024")
    if not 0 <= args.profile <= 60:
        parser.error("--profile must be 0..60 s")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    return args


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started: list[Managed] = []
    work = Path(tempfile.mkdtemp(prefix="lgmock-bench-"))
    wrk = shutil.which(args.wrk)
    if args.generator == "wrk" and not wrk:
        log("wrk is not on PATH (apt-get install wrk)")
        return 2
    if wrk and args.generator in ("auto", "wrk"):
        generator: Any = WrkGenerator(wrk, args.wrk_threads, args.connections, work)
    else:
        if args.generator == "auto":
            log("wrk not found: using the Python asyncio+httpx generator (it costs CPU itself)")
        generator = PythonGenerator(args.connections)
    begun = time.monotonic()
    try:
        if args.state_file:
            ours, durable = run_lgmock_pair(generator, args, work, started)
            ours["results"] += durable["results"]
        else:
            ours = run_lgmock(generator, args, work, started)
        theirs = None
        if not args.skip_prism:
            theirs = run_prism(
                generator, args, work, started, ours["token"], ours["control"], ours["alternate"]
            )
    finally:
        for server in reversed(started):
            server.stop()
    results = ours["results"] + (theirs["results"] if theirs else [])
    found = ours["probes"] + (theirs["probes"] if theirs else [])
    out = [
        "## lgmock vs Prism: device status and control",
        "",
        f"Machine: {machine_line()}",
        f"Load generator: {generator.describe()}; {args.duration:g} s measured after "
        f"{args.warmup:g} s warm-up per row; each server alone on the machine.",
        f"Control body: `{ours['control'].decode()}` (office air conditioner, powered on first; "
        f"{ours['after']}).",
        "Control bodies alternate between "
        + " and ".join(f"`{b.decode()}`" for b in ours["alternate"])
        + ": every control changes the state."
        if ours["alternate"]
        else "The control body sets the value the device already has (no state change, "
        "no notification); --alternate makes every control a change.",
    ]
    if theirs:
        document = _short(str(theirs["document"]))
        out.append(f"Prism: {prism_version(args)}; served `{document}`: {theirs['why']}.")
    out += ["", table(results), ""]
    if theirs:
        out += [ratios(results), ""]
    if args.state_file:
        out += [state_file_cost(results), ""]
    out += ["What each server answers to single probes:", "", probe_table(found), ""]
    out += [
        "CPU columns are cores busy during the measured seconds (/proc): the server's "
        "processes, the load generator, and everything else on the machine.",
        "",
    ]
    busy = [r for r in results if r.other_cpu > 0.25]
    if busy:
        out += [
            "WARNING: other processes used CPU during "
            + ", ".join(f"{r.server} {r.operation} ({r.other_cpu:.2f} cores)" for r in busy)
            + ": those rows are understated; run again on a quiet machine.",
            "",
        ]
    bad = [r for r in results if r.non_200 or r.socket_errors]
    if bad:
        out += [
            "WARNING: non-200 answers or socket errors in "
            + ", ".join(f"{r.server} {r.operation}" for r in bad)
            + ": those rows measure refusals, not the calls.",
            "",
        ]
    for label, text in ours["profile"]:
        out += [f"### Where lgmock's time goes ({label}, py-spy, {args.profile:g} s)", "", text, ""]
    out.append(f"Total run time {time.monotonic() - begun:.0f} s; logs in {work}")
    print("\n".join(out), flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": machine_line(),
                    "generator": generator.describe(),
                    "results": [
                        {**r.__dict__, "rps": r.rps, "non_200": r.non_200} for r in results
                    ],
                    "probes": [p.__dict__ for p in found],
                    "prism_document": str(theirs["document"]) if theirs else None,
                    "prism_why": theirs["why"] if theirs else None,
                },
                indent=2,
            )
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
