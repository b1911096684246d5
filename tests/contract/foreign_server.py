"""A foreign server that answers correctly, except where it is told to answer a bad shape.

What the kit meets outside lgmock: a staging server, a gateway's error page, another
mock. Done right, it passes every domain check (``Foreign()``); ``Foreign(route, shape)``
answers that one route in that shape instead, and the kit must report it as a finding,
never crash. The ThinQ calls deliver their callbacks to ``callback_url`` (the kit's
receiver); the route ``callbacks`` bends the callbacks themselves.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.contract.support import read_body

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmb3JlaWduIn0.c2lnbmF0dXJl"
DEVICE = "f" * 64
DEVICE_TYPE = "DEVICE_AIR_CONDITIONER"
PROFILE = {
    "property": {
        "powerSave": {
            "powerSaveEnabled": {
                "type": "boolean",
                "mode": ["r", "w"],
                "value": {"r": [True, False], "w": [True, False]},
            }
        }
    }
}

# Every route the domain checks call, by name: (method, path pattern).
ROUTES = {
    "token": ("POST", r"/bc/v1/token"),
    "devices": ("GET", r"/bc/v1/devices"),
    "profile": ("GET", r"/bc/v1/devices/profile/[^/]+"),
    "status": ("GET", r"/bc/v1/devices/[^/]+"),
    "control": ("POST", r"/bc/v1/devices/[^/]+"),
    "push-list": ("GET", r"/bc/v1/push"),
    "push-subscribe": ("POST", r"/bc/v1/push/[^/]+"),
    "push-delete": ("DELETE", r"/bc/v1/push/[^/]+"),
    "dr-group-create": ("POST", r"/bc/v1/dr/groups"),
    "dr-group-read": ("GET", r"/bc/v1/dr/groups/[^/]+"),
    "dr-user-create": ("POST", r"/bc/v1/dr/users"),
    "dr-user-read": ("GET", r"/bc/v1/dr/users/[^/]+"),
    "dr-user-delete": ("DELETE", r"/bc/v1/dr/users/[^/]+"),
    "profile-async": ("POST", r"/v2/devices/profile-async"),
    "status-async": ("POST", r"/v2/devices/status-async"),
    "control-async": ("POST", r"/v2/devices/control-async"),
}
CALLBACKS = "callbacks"


def _other_type(value: Any) -> Any:
    """A value of another JSON type, recursively: objects stay objects so the reader
    goes deeper, but every member inside has the wrong type."""
    if isinstance(value, dict):
        return {key: _other_type(item) for key, item in value.items()}
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 7
    return [value]


# shape -> how the good answer (body, status) is bent; None: handled by the transport.
SHAPES: dict[str, Callable[[Any, int], tuple[bytes, int, str]] | None] = {
    "json-string": lambda body, status: (b'"surprise"', status, "application/json"),
    "json-array": lambda body, status: (b"[1, 2, 3]", status, "application/json"),
    "json-null": lambda body, status: (b"null", status, "application/json"),
    "members-are-strings": lambda body, status: (
        json.dumps({k: "surprise" for k in body} if isinstance(body, dict) else "x").encode(),
        status,
        "application/json",
    ),
    "wrong-types": lambda body, status: (
        json.dumps(_other_type(body)).encode(),
        status,
        "application/json",
    ),
    "not-json": lambda body, status: (b"{'response': [", status, "application/json"),
    "deep-nesting": lambda body, status: (
        b"[" * 100_000 + b"]" * 100_000,
        status,
        "application/json",
    ),
    "html": lambda body, status: (
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        status,
        "text/html",
    ),
    "empty": lambda body, status: (b"", status, "application/json"),
    "server-error": lambda body, status: (b"Internal Server Error", 500, "text/plain"),
    "closed": None,  # the answer starts, then the connection closes mid-body
    "timeout": None,  # no answer before the client's timeout
}


class Foreign:
    """The server: an ASGI app. ``broken``/``shape`` choose what it gets wrong."""

    def __init__(
        self,
        broken: str | None = None,
        shape: str | None = None,
        *,
        callback_url: str = "",
        hang: float = 3.0,
        rotate: bool = False,
    ) -> None:
        self.broken, self.shape = broken, shape
        # rotate: every answer bent, each in the next shape of SHAPES (for schemathesis).
        self.rotate = rotate
        self._turn = 0
        self.callback_url = callback_url
        self.hang = hang
        self.status = {"powerSave": {"powerSaveEnabled": True}}
        self.subscribed: set[str] = set()
        self.groups: set[str] = set()
        self.users: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        route = next(
            (
                name
                for name, (verb, pattern) in ROUTES.items()
                if verb == method and re.fullmatch(pattern, path)
            ),
            None,
        )
        try:
            request_body = json.loads(raw) if raw else None
        except ValueError:
            request_body = None
        body, status = self.answer(route, path, headers, request_body)
        if self.rotate and route != "token":
            self.shape = list(SHAPES)[self._turn % len(SHAPES)]
            self._turn += 1
            await self._bent(send, body, status)
            return
        if route is not None and route == self.broken:
            await self._bent(send, body, status)
            return
        await _send(send, json.dumps(body).encode(), status, "application/json")

    async def _bent(self, send: Callable, body: Any, status: int) -> None:
        if self.shape == "timeout":
            await asyncio.sleep(self.hang)
            await _send(send, json.dumps(body).encode(), status, "application/json")
            return
        if self.shape == "closed":
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-length", b"1000"), (b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionAbortedError("closing mid-answer, on purpose")
        bend = SHAPES[str(self.shape)]
        assert bend is not None
        content, status, kind = bend(body, status)
        await _send(send, content, status, kind)

    # ------------------------------------------------------------------ the good answers
    def answer(
        self, route: str | None, path: str, headers: dict[str, str], body: Any
    ) -> tuple[Any, int]:
        message_id = headers.get("x-message-id", "")
        last = path.rsplit("/", 1)[-1]

        def bc(response: Any) -> tuple[Any, int]:
            return {
                "messageId": message_id,
                "timestamp": "2026-01-01T00:00:00",
                "response": response,
            }, 200

        def dr(data: Any) -> tuple[Any, int]:
            return {"code": 2000, "message": "OK", "data": data}, 200

        if route == "token":
            return {"access_token": TOKEN, "expires_in": 86400}, 200
        if route == "devices":
            info = {"deviceType": DEVICE_TYPE, "modelName": "X", "alias": "x", "reportable": True}
            return bc([{"deviceId": DEVICE, "deviceInfo": info}])
        if route == "profile":
            return bc(PROFILE)
        if route == "status":
            return bc(self.status)
        if route == "control":
            for resource, attributes in (body or {}).items():
                self.status.setdefault(resource, {}).update(attributes)
            return bc({})
        if route == "push-list":
            return bc([{"deviceId": device} for device in sorted(self.subscribed)])
        if route == "push-subscribe":
            self.subscribed.add(last)
            return bc({})
        if route == "push-delete":
            if last not in self.subscribed:
                return {"error": {"code": "4304", "message": "Not Found"}}, 404
            self.subscribed.discard(last)
            return bc({})
        if route == "dr-group-create":
            self.groups.add((body or {}).get("groupId", ""))
            return dr({})
        if route == "dr-group-read":
            return dr({"groupId": last}) if last in self.groups else ({"code": "4304"}, 404)
        if route == "dr-user-create":
            self.users.add((body or {}).get("userNo", ""))
            return dr({"userNo": (body or {}).get("userNo")})
        if route in ("dr-user-read", "dr-user-delete"):
            if last not in self.users:
                return {"code": "4304", "message": "Not Found"}, 404
            if route == "dr-user-delete":
                self.users.discard(last)
            return dr({"userNo": last})
        if route == "control-async":
            command = (body or {}).get("command") or {}
            for resource, attributes in command.items():
                self.status.setdefault(resource, {}).update(attributes)
        if route in ("profile-async", "status-async", "control-async"):
            request_id = str(uuid.uuid4())
            self._deliver(route, request_id, message_id)
            accepted = {"messageId": message_id, "requestId": request_id, "response": {}}
            return {**accepted, "responseCode": "0000", "statusCode": 202, "timestamp": "t"}, 202
        return {"error": {"code": "4304", "message": "Not Found"}}, 404

    # ------------------------------------------------------------------ callbacks
    def _deliver(self, route: str, request_id: str, message_id: str) -> None:
        push_type, result = {
            "profile-async": ("DEVICE_PROFILE", PROFILE),
            "status-async": ("DEVICE_STATUS", self.status),
            "control-async": ("DEVICE_CONTROL", {}),
        }[route]
        callback = {
            "messageId": message_id,
            "requestId": request_id,
            "responseCode": "0000",
            "statusCode": 200,
            "timestamp": "2026-01-01T00:00:00.000Z",
            "response": {
                "pushType": push_type,
                "deviceId": DEVICE,
                "deviceType": DEVICE_TYPE,
                "serviceId": "foreign-service",
                "userNumber": "KR2024000000001",
                "result": copy.deepcopy(result),
            },
        }
        if self.broken == CALLBACKS:
            bend = SHAPES.get(str(self.shape))
            content = bend(callback, 200)[0] if bend is not None else b"{"
        else:
            content = json.dumps(callback).encode()
        if self.callback_url:
            task = asyncio.get_running_loop().create_task(self._post(content))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, content: bytes) -> None:
        await asyncio.sleep(0.05)  # after the 202, as the platform does
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                await client.post(
                    self.callback_url,
                    content=content,
                    headers={"Content-Type": "application/json"},
                )
        except httpx.HTTPError:
            pass  # the run ended and its receiver with it


async def _send(send: Callable, content: bytes, status: int, kind: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind.encode()),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
