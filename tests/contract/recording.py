"""Running `lgmock record` as a real process in tests, and a client that calls through it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from contract_tests.contracts import new_message_id
from tests.contract.relay import HOP_BY_HOP
from tests.contract.support import read_body
from tests.support import free_port, lgmock_command


@dataclass
class RecordingProxy:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    out: Path
    drift: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 90.0) -> int:
        """SIGTERM (what Ctrl-C amounts to), then wait for the files and the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def drift_document(self) -> dict[str, Any]:
        return json.loads(self.drift.read_text(encoding="utf-8"))


_started: list[RecordingProxy] = []


def stop_leftover_recorders() -> None:
    """Kill every proxy a test started and did not stop (it failed before ``stop``)."""
    while _started:
        proxy = _started.pop()
        if proxy.process.poll() is None:
            proxy.process.kill()
            proxy.process.wait(timeout=10)


def start_recording(
    tmp: Path, upstream: str, *args: str, wait: float = 30.0, name: str = "recorded"
) -> RecordingProxy:
    out, drift, log_path = tmp / f"{name}.yaml", tmp / f"{name}-drift.json", tmp / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            *lgmock_command(),
            "record",
            "--upstream",
            upstream,
            "--port",
            "0",
            "--out",
            str(out),
            "--drift",
            str(drift),
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"lgmock record exited with {process.returncode}:\n{log_path.read_text()}"
            )
        found = re.search(r"lgmock record: (http://127\.0\.0\.1:\d+) ->", log_path.read_text())
        if found and "point the client" in log_path.read_text():
            proxy = RecordingProxy(process, found.group(1), log_path, out, drift)
            _started.append(proxy)
            if "--callbacks-via" not in args or "callbacks:" in proxy.log():
                return proxy
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"lgmock record did not start within {wait}s:\n{log_path.read_text()}")


# (method, path, status, headers, body) -> the answer the relay gives instead
Rewrite = Callable[[str, str, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def rewriting_relay(upstream: str, rewrite: Rewrite) -> Callable[..., Any]:
    """An ASGI app forwarding to ``upstream`` whose answers ``rewrite`` may change."""
    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in HOP_BY_HOP | {"host"}
        ]
        answer = await client.request(scope["method"], scope["path"], headers=headers, content=body)
        kept = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        kept.pop("content-encoding", None)
        status, out, content = rewrite(
            scope["method"], scope["path"], answer.status_code, kept, answer.content
        )
        out["content-length"] = str(len(content))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in out.items()],
            }
        )
        await send({"type": "http.response.body", "body": content})

    return app


def prism_command() -> list[str] | None:
    """Prism's CLI: the one `.ci/run` installs (LGMOCK_PRISM), else on PATH, else npx's."""
    if os.environ.get("LGMOCK_PRISM"):
        return [os.environ["LGMOCK_PRISM"]]
    if shutil.which("prism"):
        return ["prism"]
    if shutil.which("npx"):
        return ["npx", "--yes", "@stoplight/prism-cli@5"]
    return None


@contextmanager
def prism_mock(document: Path, tmp: Path, wait: float = 120.0) -> Iterator[str]:
    """`prism mock DOCUMENT` on a free port of 127.0.0.1; yields its base URL."""
    command = prism_command()
    if command is None:
        if os.environ.get("LGMOCK_REQUIRE_PRISM"):
            raise AssertionError("Prism is required here (LGMOCK_REQUIRE_PRISM) and not found")
        pytest.skip("Prism is not installed (`.ci/run` installs it; or npm's npx)")
    port = free_port()
    log_path = tmp / "prism.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "mock", str(document), "-h", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            start_new_session=True,  # npx starts children: the group is stopped as one
        )
    try:
        deadline = time.monotonic() + wait
        while "Prism is listening" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Prism did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def scenario_of(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


class Client:
    """A partner's client, as small as the calls of the tests need."""

    def __init__(
        self,
        base_url: str,
        partner: dict[str, Any],
        service: dict[str, Any] | None,
        bc_prefix: str = "/bc/v1",
    ):
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.bc_prefix = bc_prefix
        self.partner = partner
        self.service = service
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def token(self) -> str:
        if self._token is None:
            answer = self.http.post(
                f"{self.bc_prefix}/token",
                headers={
                    "X-Api-Key": self.partner["apiKey"],
                    "X-Api-Secret": self.partner["apiSecret"],
                },
            )
            assert answer.status_code == 200, answer.text
            self._token = answer.json()["access_token"]
        return self._token

    def bc_headers(self, user: dict[str, Any] | None = None) -> dict[str, str]:
        headers = {
            "X-Api-Key": self.partner["apiKey"],
            "X-Api-Token": self.token(),
            "X-Message-Id": new_message_id(),
            "X-Use-Account": "IN-HEADER" if user else "REGISTERED",
        }
        if user:
            headers["Authorization"] = f"Bearer {user['accessToken']}"
            headers["X-Country-Code"] = user["countryCode"]
        return headers

    def bc(
        self,
        method: str,
        path: str,
        user: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        sent = {**self.bc_headers(user), **(headers or {})}
        return self.http.request(method, f"{self.bc_prefix}{path}", headers=sent, **kw)

    def thinq(self, method: str, path: str, user: dict[str, Any], **kw: Any) -> httpx.Response:
        assert self.service is not None
        headers = {
            "Authorization": f"Bearer {user['accessToken']}",
            "x-country-code": user["countryCode"],
            "x-message-id": new_message_id(),
            "x-service-id": self.service["serviceId"],
            "x-service-key": self.service["serviceKey"],
        }
        return self.http.request(method, f"/v2/devices/{path}", headers=headers, **kw)
