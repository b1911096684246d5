"""Running small ASGI apps (a broken server, misbehaving receivers) on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from contract_tests.receiver import _free_port
from mockserver.cli import main


@contextmanager
def serving(app: Any) -> Iterator[tuple[str, uvicorn.Server]]:
    """``app`` under uvicorn in a thread: yields its base URL and the server."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def lgmock(*args: str) -> int:
    """Run an `lgmock` command in this process (its output goes to capsys)."""
    return main(list(args))


async def read_body(receive: Callable) -> bytes:
    """The whole request body an ASGI app receives, however many messages it comes in."""
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            return raw
