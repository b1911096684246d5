"""A byte-level relay in front of a real sandbox that can break its answers on purpose.

What a partner meets when a staging server or a gateway rewrites what the service says:
every request goes to the sandbox unchanged; each answer comes back with ``replace``'s
byte strings swapped (header values and body alike) and its status changed per
``statuses``. Content-Length is recomputed, so the client sees a well-formed answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.contract.support import read_body

HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


def relay(
    upstream: str,
    *,
    replace: dict[bytes, bytes] | None = None,
    statuses: dict[int, int] | None = None,
) -> Callable[..., Any]:
    """An ASGI app forwarding to ``upstream`` and rewriting what comes back."""
    client = httpx.AsyncClient(base_url=upstream, timeout=30)
    swaps = replace or {}
    moves = statuses or {}

    def rewrite(data: bytes) -> bytes:
        for old, new in swaps.items():
            data = data.replace(old, new)
        return data

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"] + (
            "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
        )
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in HOP_BY_HOP | {"host"}
        ]
        answer = await client.request(scope["method"], path, headers=headers, content=body)
        content = rewrite(answer.content)
        out = [
            (k.encode("latin-1"), rewrite(v.encode("latin-1")))
            for k, v in answer.headers.items()
            if k.lower() not in HOP_BY_HOP | {"content-encoding"}
        ]
        out.append((b"content-length", str(len(content)).encode()))
        status = moves.get(answer.status_code, answer.status_code)
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": content})

    return app
