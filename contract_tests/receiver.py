"""A real HTTP callback receiver: records what the sandbox delivers, answers as told.

Used by the project's tests, by the pytest plugin and by ``lgmock receiver`` (a
stand-alone receiver for trying the asynchronous API by hand). It is a bare ASGI app
under uvicorn, so it keeps up with the delivery engine in throughput measurements.

Behaviour can be scripted: answer a list of statuses in turn (``500`` then ``200``),
or wait before answering (a slow receiver).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Received:
    path: str
    body: Any
    headers: dict[str, str]
    at: float  # time.monotonic()


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    delay: float = 0.0  # seconds before answering

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


class CallbackReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port()
        self.received: list[Received] = []
        self.answered: list[int] = []
        self.behaviour = Behaviour()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._on_receive: Callable[[Received], None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            # A person (or a benchmark) asking what arrived so far.
            await self._answer_summary(send)
            return
        raw = b"".join(chunks)
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        received = Received(scope["path"], body, headers, time.monotonic())
        with self._lock:
            status = self.behaviour.next_status()
            delay = self.behaviour.delay
            self.received.append(received)
            self.answered.append(status)
        if self._on_receive is not None:
            self._on_receive(received)
        if delay:
            await asyncio.sleep(delay)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async def _answer_summary(self, send: Callable) -> None:
        with self._lock:
            summary = {
                "count": len(self.received),
                "answered": {str(c): self.answered.count(c) for c in set(self.answered)},
                "last": [r.body for r in self.received[-20:]],
            }
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(summary).encode()})

    def serve_forever(self, on_receive: Callable[[Received], None] | None = None) -> None:
        """Run in the foreground (``lgmock receiver``) until interrupted."""
        self._on_receive = on_receive
        uvicorn.run(self, host=self.host, port=self.port, log_level="warning", lifespan="off")

    # ------------------------------------------------------------------ lifecycle
    def start(
        self, timeout: float = 10.0, on_receive: Callable[[Received], None] | None = None
    ) -> CallbackReceiver:
        self._on_receive = on_receive
        config = uvicorn.Config(
            self, host=self.host, port=self.port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"callback receiver did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> CallbackReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ reading
    def bodies(self, predicate: Callable[[Any], bool] | None = None) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received if predicate is None or predicate(r.body)]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.answered.clear()

    def wait_for(
        self,
        count: int,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[Any]:
        """Block until ``count`` matching bodies arrived; raise with what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.bodies(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(found)} of {count} callbacks arrived at {self.url} in {timeout}s; "
                    f"{len(self.received)} received in all"
                )
            time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def push_type(body: Any) -> str | None:
    """The pushType of a ThinQ callback or message, or of a Business Connect message."""
    if not isinstance(body, dict):
        return None
    inner = body.get("response")
    if isinstance(inner, dict) and "pushType" in inner:
        return inner["pushType"]
    return body.get("pushType")
